package llm

import "time"

// UsageRecord is what the gateway records about one request: one row in the
// store's usage table, whatever the outcome (success, upstream error, client
// abort, limit refusal).
type UsageRecord struct {
	Time      time.Time // when the request arrived
	RequestID string
	KeyID     string
	Tenant    string
	// Model is the model the client asked for; Provider and UpstreamModel
	// are the route that answered (or the last one tried).
	Model         string
	Provider      string
	UpstreamModel string
	// Endpoint is the ingress: "chat", "messages", "responses", "gemini".
	Endpoint string
	Stream   bool
	// Usage in disjoint buckets; Usage.Estimated when counted locally.
	Usage Usage
	// CostUSD is the cost of the request: the upstream's when it reported
	// one, else from the model's price table; nil when unknown (no price).
	CostUSD *float64
	Latency time.Duration
	TTFT    time.Duration // 0 when no token arrived
	// Status is the HTTP status the client got (499 for a client abort).
	Status    int
	ErrorKind Kind // "" on success
	Attempts  int
}
