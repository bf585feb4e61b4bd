package ingress

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v7"

	"github.com/rickyjim626/xjp/internal/event"
	"github.com/rickyjim626/xjp/internal/sse"
)

// AdminClient is a client of a running server's admin API, for `xjp tail`,
// `xjp routes` and a dashboard attached to a remote server. Snapshot and
// Subscribe make it a dashboard Source. The zero value is not usable; call
// NewAdminClient.
type AdminClient struct {
	base  string
	token string
	hc    *http.Client

	// Notify, when set, receives Subscribe's connection notices ("lost the
	// connection …, reconnecting in 2s", "reconnected"), for stderr.
	Notify func(msg string)
	// OnSnapshot, when set, is called by Subscribe with the snapshot that
	// starts each connection, before its events (a dashboard may redraw
	// from it after a reconnect).
	OnSnapshot func(event.Snapshot)
	// Kinds restricts Subscribe to these event kinds (nil: all), so that
	// `xjp tail` does not download every progress update.
	Kinds []event.Kind
	// MinBackoff and MaxBackoff bound the wait between reconnects of
	// Subscribe (defaults 250ms and 10s).
	MinBackoff, MaxBackoff time.Duration
	// IdleTimeout drops a connection that sent nothing, not even a
	// keep-alive, for this long (default 45s: three keep-alives).
	IdleTimeout time.Duration
}

// NewAdminClient returns a client of the server at base ("127.0.0.1:8080"
// or "http://host:8080") with the admin token. hc may be nil.
func NewAdminClient(base, token string, hc *http.Client) *AdminClient {
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	if hc == nil {
		hc = &http.Client{} // no overall timeout: Subscribe streams
	}
	return &AdminClient{base: strings.TrimRight(base, "/"), token: token, hc: hc}
}

// BaseURL is the server's address.
func (c *AdminClient) BaseURL() string { return c.base }

// AdminError is an error answer of the admin API.
type AdminError struct {
	Status  int
	Type    string
	Message string
}

func (e *AdminError) Error() string {
	if e.Status == http.StatusUnauthorized {
		return "admin API: the admin token was refused (use --token, XJP_ADMIN_TOKEN or the server's <data-dir>/admin-token)"
	}
	return fmt.Sprintf("admin API: %s (HTTP %d)", e.Message, e.Status)
}

// callTimeout bounds a call other than Subscribe when ctx has no deadline.
const callTimeout = 30 * time.Second

// do sends a request and decodes a JSON answer into out (when not nil).
func (c *AdminClient) do(ctx context.Context, method, path string, body, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, callTimeout)
		defer cancel()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach xjp at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return readAdminError(resp)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("admin API %s %s: malformed answer: %w", method, path, err)
	}
	return nil
}

func readAdminError(resp *http.Response) error {
	var body struct {
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &AdminError{Status: resp.StatusCode}
	if json.Unmarshal(b, &body) == nil && body.Error.Message != "" {
		e.Type, e.Message = body.Error.Type, body.Error.Message
	} else {
		e.Message = strings.TrimSpace(string(b))
		if e.Message == "" {
			e.Message = http.StatusText(resp.StatusCode)
		}
	}
	return e
}

// Snapshot returns the server's state (GET /admin/status).
func (c *AdminClient) Snapshot(ctx context.Context) (event.Snapshot, error) {
	var s event.Snapshot
	err := c.do(ctx, http.MethodGet, "/admin/status", nil, &s)
	return s, err
}

// Keys lists API keys.
func (c *AdminClient) Keys(ctx context.Context, f AdminKeyFilter) ([]AdminKey, error) {
	q := url.Values{}
	if f.Tenant != "" {
		q.Set("tenant", f.Tenant)
	}
	if f.IncludeRevoked {
		q.Set("all", "true")
	}
	var ks []AdminKey
	err := c.do(ctx, http.MethodGet, "/admin/keys?"+q.Encode(), nil, &ks)
	return ks, err
}

// Key returns one key.
func (c *AdminClient) Key(ctx context.Context, id string) (AdminKey, error) {
	var k AdminKey
	err := c.do(ctx, http.MethodGet, "/admin/keys/"+url.PathEscape(id), nil, &k)
	return k, err
}

// CreateKey creates a key and returns it with its secret.
func (c *AdminClient) CreateKey(ctx context.Context, nk NewAdminKey) (AdminKey, string, error) {
	var k createdKey
	err := c.do(ctx, http.MethodPost, "/admin/keys", nk, &k)
	return k.AdminKey, k.Secret, err
}

// UpdateKey changes a key. patch holds the JSON fields to change (name,
// tenant, allowed_models, rpm, burst, daily_tokens, expires_at, enabled);
// a nil value clears a limit or the expiry.
func (c *AdminClient) UpdateKey(ctx context.Context, id string, patch map[string]any) (AdminKey, error) {
	var k AdminKey
	err := c.do(ctx, http.MethodPatch, "/admin/keys/"+url.PathEscape(id), patch, &k)
	return k, err
}

// RevokeKey revokes a key.
func (c *AdminClient) RevokeKey(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/admin/keys/"+url.PathEscape(id), nil, nil)
}

// Usage runs a usage report.
func (c *AdminClient) Usage(ctx context.Context, uq UsageQuery) ([]UsageRow, error) {
	q := url.Values{}
	if !uq.Since.IsZero() {
		q.Set("since", uq.Since.Format(time.RFC3339))
	}
	if !uq.Until.IsZero() {
		q.Set("until", uq.Until.Format(time.RFC3339))
	}
	if len(uq.By) > 0 {
		q.Set("by", strings.Join(uq.By, ","))
	}
	for k, v := range map[string]string{"key": uq.KeyID, "model": uq.Model, "tenant": uq.Tenant, "provider": uq.Provider} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var rows []UsageRow
	err := c.do(ctx, http.MethodGet, "/admin/usage?"+q.Encode(), nil, &rows)
	return rows, err
}

// Routes returns the routing table with breaker states and recent errors.
func (c *AdminClient) Routes(ctx context.Context) (AdminRoutes, error) {
	var r AdminRoutes
	err := c.do(ctx, http.MethodGet, "/admin/routes", nil, &r)
	return r, err
}

// Inflight returns the requests in progress.
func (c *AdminClient) Inflight(ctx context.Context) ([]event.Request, error) {
	var rs []event.Request
	err := c.do(ctx, http.MethodGet, "/admin/inflight", nil, &rs)
	return rs, err
}

// Reload asks the server to reload its config file.
func (c *AdminClient) Reload(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/admin/reload", nil, nil)
}

// errLagging ends a connection whose events the server had to drop, so
// that the next one resynchronises from a snapshot.
var errLagging = errors.New("the server dropped events for this slow client")

// Subscribe follows the server's live events (GET /admin/events), calling
// fn for each, until ctx ends (then it returns nil). When the connection
// is lost (a restart, a network failure, a client too slow for the server)
// it reconnects with exponential backoff and resynchronises from the
// snapshot the server sends first: requests that started meanwhile are
// announced, requests that finished meanwhile are delivered as finished
// (those still in the snapshot's recent window; others known to be open
// are finished with status 0 and a note), breakers whose state changed get
// a breaker event. fn is called from Subscribe's goroutine, one event at a
// time. A refused token or a server without the admin API is returned at
// once.
func (c *AdminClient) Subscribe(ctx context.Context, fn func(event.Event)) error {
	bo := &backoff.ExponentialBackOff{
		InitialInterval: c.MinBackoff, MaxInterval: c.MaxBackoff,
		RandomizationFactor: backoff.DefaultRandomizationFactor, Multiplier: 2,
	}
	if bo.InitialInterval <= 0 {
		bo.InitialInterval = 250 * time.Millisecond
	}
	if bo.MaxInterval <= 0 {
		bo.MaxInterval = 10 * time.Second
	}
	bo.Reset()
	st := newResync()
	lost := false
	for {
		connected, err := c.follow(ctx, st, fn, lost)
		if ctx.Err() != nil {
			return nil
		}
		var ae *AdminError
		if errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden || ae.Status == http.StatusNotFound || ae.Status == http.StatusNotImplemented) {
			return err
		}
		if connected {
			bo.Reset()
		}
		lost = true
		d := bo.NextBackOff()
		c.notify(fmt.Sprintf("lost the connection to %s (%v); reconnecting in %s", c.base, err, d.Round(10*time.Millisecond)))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

func (c *AdminClient) notify(msg string) {
	if c.Notify != nil {
		c.Notify(msg)
	}
}

// follow runs one connection of Subscribe. connected reports whether the
// server answered with a stream.
func (c *AdminClient) follow(ctx context.Context, st *resync, fn func(event.Event), reconnect bool) (connected bool, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	q := url.Values{"snapshot": {"1"}}
	if len(c.Kinds) > 0 {
		ks := make([]string, len(c.Kinds))
		for i, k := range c.Kinds {
			ks[i] = string(k)
		}
		q.Set("kinds", strings.Join(ks, ","))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/admin/events?"+q.Encode(), nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.hc.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, readAdminError(resp)
	}

	idle := c.IdleTimeout
	if idle <= 0 {
		idle = 45 * time.Second
	}
	watchdog := time.AfterFunc(idle, func() { cancel(fmt.Errorf("no data for %s", idle)) })
	defer watchdog.Stop()
	r := sse.NewReader(&idleReader{r: resp.Body, reset: func() { watchdog.Reset(idle) }})
	for r.Next() {
		ev := r.Event()
		switch ev.Event {
		case EventSnapshot:
			var s event.Snapshot
			if err := json.Unmarshal(ev.Data, &s); err != nil {
				return true, fmt.Errorf("malformed snapshot: %w", err)
			}
			if reconnect {
				c.notify("reconnected to " + c.base)
			}
			st.sync(s, fn)
			if c.OnSnapshot != nil {
				c.OnSnapshot(s)
			}
		case EventLagging:
			c.notify("the server dropped events for this client (too slow); resynchronising")
			return true, errLagging
		default:
			var e event.Event
			if err := json.Unmarshal(ev.Data, &e); err != nil {
				return true, fmt.Errorf("malformed event: %w", err)
			}
			st.deliver(e, fn)
		}
	}
	if err := context.Cause(ctx); err != nil && ctx.Err() != nil {
		return true, err
	}
	if err := r.Err(); err != nil {
		return true, err
	}
	return true, errors.New("the server closed the stream")
}

// idleReader calls reset on every read that returns data.
type idleReader struct {
	r     io.Reader
	reset func()
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.reset()
	}
	return n, err
}

// resync is what Subscribe knows across connections: the requests seen
// open, the breaker states, the requests delivered as finished and the
// time of the last event, so that a snapshot after a reconnect can be
// turned into the events that were missed.
type resync struct {
	seeded   bool
	open     map[string]event.Request
	breakers map[string]string
	done     map[string]bool
	ring     []string // done in delivery order, bounded
	last     time.Time
}

// maxDone bounds the finished request ids remembered for de-duplication.
const maxDone = 4096

func newResync() *resync {
	return &resync{open: map[string]event.Request{}, breakers: map[string]string{}, done: map[string]bool{}}
}

func (st *resync) finished(id string) {
	if st.done[id] {
		return
	}
	st.done[id] = true
	st.ring = append(st.ring, id)
	if len(st.ring) > maxDone {
		delete(st.done, st.ring[0])
		st.ring = st.ring[1:]
	}
}

// deliver passes a live event on, once.
func (st *resync) deliver(e event.Event, fn func(event.Event)) {
	if e.Time.After(st.last) {
		st.last = e.Time
	}
	switch e.Kind {
	case event.RequestStarted:
		if e.Request == nil {
			return
		}
		if _, ok := st.open[e.Request.ID]; ok || st.done[e.Request.ID] {
			return // already announced by a snapshot
		}
		st.open[e.Request.ID] = *e.Request
	case event.RequestFinished:
		if e.Request == nil || st.done[e.Request.ID] {
			return
		}
		delete(st.open, e.Request.ID)
		st.finished(e.Request.ID)
	case event.BreakerChanged:
		if e.Breaker != nil {
			st.breakers[e.Breaker.Route] = e.Breaker.To
		}
	}
	fn(e)
}

// sync applies a snapshot: the first one only seeds what is known (the
// caller has its own snapshot); later ones deliver what was missed.
func (st *resync) sync(s event.Snapshot, fn func(event.Event)) {
	if !st.seeded {
		st.seeded = true
		for _, r := range s.Inflight {
			st.open[r.ID] = r
		}
		for _, r := range s.Recent {
			st.finished(r.ID)
		}
		for _, b := range s.Breakers {
			st.breakers[b.Route] = b.State
		}
		st.last = s.Now
		return
	}
	// Finished while away: the recent ones (oldest first) that are new.
	for i := len(s.Recent) - 1; i >= 0; i-- {
		r := s.Recent[i]
		if st.done[r.ID] {
			continue
		}
		_, wasOpen := st.open[r.ID]
		if !wasOpen && r.Start.Add(r.Latency).Before(st.last) {
			continue // finished before we lost the connection: seen or filtered
		}
		delete(st.open, r.ID)
		st.finished(r.ID)
		fn(event.Event{Kind: event.RequestFinished, Time: r.Start.Add(r.Latency), Request: &r})
	}
	inflight := map[string]bool{}
	for _, r := range s.Inflight {
		inflight[r.ID] = true
		if _, ok := st.open[r.ID]; !ok {
			st.open[r.ID] = r
			fn(event.Event{Kind: event.RequestStarted, Time: r.Start, Request: &r})
		}
	}
	// Open before, neither in flight nor recent: the outcome is lost.
	for id, r := range st.open {
		if !inflight[id] {
			delete(st.open, id)
			st.finished(id)
			r.ErrorMessage = "finished while disconnected; outcome unknown"
			fn(event.Event{Kind: event.RequestFinished, Time: s.Now, Request: &r})
		}
	}
	for _, b := range s.Breakers {
		prev, ok := st.breakers[b.Route]
		if !ok {
			prev = "closed"
		}
		if prev != b.State {
			fn(event.Event{Kind: event.BreakerChanged, Time: s.Now, Breaker: &event.Breaker{Route: b.Route, From: prev, To: b.State, Reason: b.LastError}})
		}
		st.breakers[b.Route] = b.State
	}
	if s.Now.After(st.last) {
		st.last = s.Now
	}
}
