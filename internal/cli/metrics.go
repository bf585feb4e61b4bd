package cli

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/rickyjim626/xjp/internal/store"
)

// newMetricsRegistry returns the registry GET /metrics serves, never the
// global one: the Go runtime and process collectors and the usage
// writer's queue. The gateway registers its own collectors on it.
func newMetricsRegistry(usage *store.UsageWriter) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "xjp_usage_queue_depth",
			Help: "Usage records in memory, not yet written to the store.",
		}, func() float64 { return float64(usage.Queued()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "xjp_usage_dropped_total",
			Help: "Usage records dropped (queue full while the store was down, rows the store refused, or unwritten at shutdown).",
		}, func() float64 { return float64(usage.Dropped()) }),
	)
	return reg
}
