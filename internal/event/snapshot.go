package event

import "time"

// Snapshot is the gateway's state at one moment, for a dashboard or the
// admin status endpoint to start from before following events.
type Snapshot struct {
	Listen  string    `json:"listen"`
	Version string    `json:"version"`
	Started time.Time `json:"started"`
	Now     time.Time `json:"now"`

	// Inflight are the requests in progress.
	Inflight []Request `json:"inflight"`
	// Recent are the last finished requests, newest first.
	Recent []Request `json:"recent"`
	// Breakers are every route's breaker.
	Breakers []BreakerStatus `json:"breakers"`
	// Spend is today's (UTC) usage per model and key, from the store.
	Spend []Spend `json:"spend"`
	// Dropped counts events lost by slow subscribers since start.
	Dropped int64 `json:"dropped"`
}

// BreakerStatus is one route's circuit breaker.
type BreakerStatus struct {
	Route               string    `json:"route"`
	State               string    `json:"state"` // closed, half-open, open
	ConsecutiveFailures int       `json:"consecutive_failures"`
	Requests            int       `json:"requests"`
	Failures            int       `json:"failures"`
	OpenedAt            time.Time `json:"opened_at,omitzero"`
	NextProbe           time.Time `json:"next_probe,omitzero"`
	LastError           string    `json:"last_error,omitempty"`
}

// Spend is the usage of one model by one key over a period.
type Spend struct {
	Model            string  `json:"model"`
	KeyID            string  `json:"key_id"`
	KeyName          string  `json:"key_name"`
	Requests         int64   `json:"requests"`
	Errors           int64   `json:"errors"`
	InputTokens      int64   `json:"input_tokens"`
	CacheReadTokens  int64   `json:"cache_read_tokens"`
	CacheWriteTokens int64   `json:"cache_write_tokens"`
	OutputTokens     int64   `json:"output_tokens"`
	CostUSD          float64 `json:"cost_usd"`
	// Unpriced counts requests whose cost is unknown (no price).
	Unpriced int64 `json:"unpriced"`
}
