package gateway

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rickyjim626/xjp/internal/llm"
)

// Price is a model's price in US dollars per million tokens.
type Price struct {
	InputPerMTok  float64
	OutputPerMTok float64
	// CacheReadPerMTok and CacheWritePerMTok fall back to InputPerMTok when
	// zero: an unset cache price overstates cost rather than hiding it.
	CacheReadPerMTok  float64
	CacheWritePerMTok float64
}

// Cost returns the cost of u in US dollars.
func (p *Price) Cost(u llm.Usage) float64 {
	cr, cw := p.CacheReadPerMTok, p.CacheWritePerMTok
	if cr == 0 {
		cr = p.InputPerMTok
	}
	if cw == 0 {
		cw = p.InputPerMTok
	}
	return (float64(u.InputTokens)*p.InputPerMTok +
		float64(u.CacheReadTokens)*cr +
		float64(u.CacheWriteTokens)*cw +
		float64(u.OutputTokens)*p.OutputPerMTok) / 1e6
}

// Timeouts bound one attempt. Zero means no limit (Connect is applied by the
// provider's HTTP client, not here).
type Timeouts struct {
	Connect   time.Duration
	FirstByte time.Duration // until the first stream event
	Idle      time.Duration // between stream events
	Total     time.Duration // the whole attempt, stream included
}

// Route is one way to serve a logical model: a provider and its model id,
// with the settings of that route.
type Route struct {
	Provider Provider
	// Model is the upstream model id.
	Model string
	// Priority orders routes (lower first); routes of equal priority keep
	// their listed order unless some carry a Weight, in which case they are
	// shuffled in proportion to their weights (0 counts as 1).
	Priority int
	Weight   int
	Timeouts Timeouts
	// MaxTokens clamps the client's max tokens; DefaultMaxTokens fills it in
	// when the client set none.
	MaxTokens        int
	DefaultMaxTokens int
	// MaxRetries overrides the gateway's retry count when >= 0.
	MaxRetries int
	Headers    map[string]string
	Body       map[string]json.RawMessage

	name    string
	breaker *breaker
}

// Name is "provider/model", the route's identity in logs, metrics and
// breaker state.
func (r *Route) Name() string {
	if r.name == "" {
		r.name = r.Provider.Name() + "/" + r.Model
	}
	return r.name
}

// Model is a logical model: what clients ask for.
type Model struct {
	Name        string
	Description string
	// Price is nil when unknown: usage is then recorded with no cost.
	Price  *Price
	Routes []*Route
	// Direct is true for a "provider/upstream_model" name resolved without
	// a [[models]] entry.
	Direct bool
}

// Table is the routing table: logical models and the providers they use.
// It is immutable once built; a config reload builds a new one.
type Table struct {
	models    map[string]*Model
	names     []string
	providers map[string]Provider
}

// NewTable builds a table. Models are looked up by exact name.
func NewTable(models []*Model, providers map[string]Provider) *Table {
	t := &Table{models: make(map[string]*Model, len(models)), providers: providers}
	for _, m := range models {
		for _, r := range m.Routes {
			r.Name()
		}
		t.models[m.Name] = m
		t.names = append(t.names, m.Name)
	}
	sort.Strings(t.names)
	return t
}

// Models returns the logical models sorted by name.
func (t *Table) Models() []*Model {
	out := make([]*Model, 0, len(t.names))
	for _, n := range t.names {
		out = append(out, t.models[n])
	}
	return out
}

// Providers returns the providers by name.
func (t *Table) Providers() map[string]Provider { return t.providers }

// Routes returns every route of every logical model.
func (t *Table) Routes() []*Route {
	var out []*Route
	for _, m := range t.Models() {
		out = append(out, m.Routes...)
	}
	return out
}

// lookup finds a logical model, or resolves "provider/upstream_model".
func (t *Table) lookup(name string) (*Model, bool) {
	if m, ok := t.models[name]; ok {
		return m, true
	}
	prov, upstream, ok := strings.Cut(name, "/")
	if !ok || upstream == "" {
		return nil, false
	}
	p, ok := t.providers[prov]
	if !ok {
		return nil, false
	}
	r := &Route{Provider: p, Model: upstream, MaxRetries: -1}
	r.Name()
	return &Model{Name: name, Routes: []*Route{r}, Direct: true}, true
}

// order returns the routes in the order to try them.
func order(routes []*Route, rnd *rand.Rand) []*Route {
	if len(routes) <= 1 {
		return routes
	}
	out := slices.Clone(routes)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Priority < out[j].Priority })
	for start := 0; start < len(out); {
		end := start + 1
		for end < len(out) && out[end].Priority == out[start].Priority {
			end++
		}
		if group := out[start:end]; len(group) > 1 && weighted(group) {
			weightedShuffle(group, rnd)
		}
		start = end
	}
	return out
}

func weighted(rs []*Route) bool {
	for _, r := range rs {
		if r.Weight > 0 {
			return true
		}
	}
	return false
}

// weightedShuffle orders rs so that each position is drawn with probability
// proportional to weight among the routes not yet placed.
func weightedShuffle(rs []*Route, rnd *rand.Rand) {
	w := func(r *Route) int { return max(r.Weight, 1) }
	for i := range rs {
		total := 0
		for _, r := range rs[i:] {
			total += w(r)
		}
		pick := rnd.IntN(total)
		for j := i; j < len(rs); j++ {
			if pick -= w(rs[j]); pick < 0 {
				rs[i], rs[j] = rs[j], rs[i]
				break
			}
		}
	}
}
