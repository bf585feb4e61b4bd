package ingress

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/internal/demo"
	"github.com/rickyjim626/xjp/internal/event"
	"github.com/rickyjim626/xjp/internal/gateway"
	"github.com/rickyjim626/xjp/internal/llm"
)

const (
	admToken  = "xjp_admin_test-token-0123456789"
	admAPIKey = "xjp_apikey-for-admin-tests-0123456789"
)

// admFakeStore is an in-memory KeyAdmin, UsageQuerier and Auditor.
type admFakeStore struct {
	mu     sync.Mutex
	keys   map[string]*AdminKey
	n      int
	audit  []AuditEntry
	usageQ []UsageQuery
}

func newAdmFakeStore() *admFakeStore { return &admFakeStore{keys: map[string]*AdminKey{}} }

func (f *admFakeStore) ListKeys(_ context.Context, flt AdminKeyFilter) ([]AdminKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []AdminKey
	for _, k := range f.keys {
		if (flt.IncludeRevoked || k.RevokedAt == nil) && (flt.Tenant == "" || k.Tenant == flt.Tenant) {
			out = append(out, *k)
		}
	}
	slices.SortFunc(out, func(a, b AdminKey) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (f *admFakeStore) GetKey(_ context.Context, id string) (AdminKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, ok := f.keys[id]
	if !ok {
		return AdminKey{}, fmt.Errorf("%w: no key %q", ErrKeyNotFound, id)
	}
	return *k, nil
}

func (f *admFakeStore) CreateKey(_ context.Context, nk NewAdminKey) (AdminKey, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.keys {
		if k.Name == nk.Name {
			return AdminKey{}, "", fmt.Errorf("%w: a key of that name exists already", ErrConflict)
		}
	}
	f.n++
	k := &AdminKey{ID: fmt.Sprintf("key_%d", f.n), Name: nk.Name, Prefix: "xjp_sec", Tenant: nk.Tenant, AllowedModels: []string{},
		RPM: nk.RPM, Enabled: !nk.Disabled, CreatedAt: time.Unix(0, 0).UTC()}
	f.keys[k.ID] = k
	return *k, fmt.Sprintf("xjp_secret%d-0123456789abcdef", f.n), nil
}

func (f *admFakeStore) UpdateKey(_ context.Context, id string, u AdminKeyUpdate) (AdminKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, ok := f.keys[id]
	if !ok {
		return AdminKey{}, fmt.Errorf("%w: no key %q", ErrKeyNotFound, id)
	}
	if u.RPM != nil && *u.RPM < 0 {
		return AdminKey{}, fmt.Errorf("%w: rpm must be >= 0", ErrInvalid)
	}
	if u.Name != nil {
		k.Name = *u.Name
	}
	if u.RPM != nil {
		k.RPM = u.RPM
	}
	if u.ClearRPM {
		k.RPM = nil
	}
	if u.Enabled != nil {
		k.Enabled = *u.Enabled
	}
	return *k, nil
}

func (f *admFakeStore) RevokeKey(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, ok := f.keys[id]
	if !ok {
		return fmt.Errorf("%w: no key %q", ErrKeyNotFound, id)
	}
	if k.RevokedAt != nil {
		return fmt.Errorf("%w: the key %q is revoked", ErrConflict, id)
	}
	now := time.Unix(1, 0).UTC()
	k.RevokedAt = &now
	return nil
}

func (f *admFakeStore) QueryUsage(_ context.Context, q UsageQuery) ([]UsageRow, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.usageQ = append(f.usageQ, q)
	if slices.Contains(q.By, "bogus") {
		return nil, fmt.Errorf("%w: unknown dimension %q", ErrInvalid, "bogus")
	}
	return []UsageRow{{Model: "demo", Requests: 3, InputTokens: 10, OutputTokens: 20, CostUSD: 0.5}}, nil
}

func (f *admFakeStore) AddAudit(_ context.Context, e AuditEntry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.audit = append(f.audit, e)
	return nil
}

// admEnv is a server with the admin API in front of a demo gateway.
type admEnv struct {
	srv     *httptest.Server
	store   *admFakeStore
	events  *event.Broker
	gw      *gateway.Gateway
	lookups atomic.Int64 // key lookups that reached the "store"
	reloads atomic.Int64
}

func newAdmEnv(t *testing.T, mod func(*AdminOptions)) *admEnv {
	t.Helper()
	e := &admEnv{store: newAdmFakeStore(), events: event.NewBroker()}
	d := demo.New(demo.Options{Name: "demo"})
	m := &gateway.Model{Name: "demo", Routes: []*gateway.Route{{Provider: d, Model: "demo", MaxRetries: -1}},
		Price: &gateway.Price{InputPerMTok: 1, OutputPerMTok: 2}}
	e.gw = gateway.New(gateway.Options{
		Table: gateway.NewTable([]*gateway.Model{m}, map[string]gateway.Provider{"demo": d}), Events: e.events,
		Retry: gateway.Retry{MaxRetries: 0}, Breaker: gateway.BreakerSettings{FailureThreshold: 5},
	})
	keys := NewKeyCache(KeyCacheOptions{Lookup: func(ctx context.Context, secret string) (*Key, error) {
		e.lookups.Add(1)
		if secret != admAPIKey {
			return nil, ErrUnknownKey
		}
		return &Key{ID: "key_api", Name: "tester", Prefix: "xjp_api", Allows: func(string) bool { return true }, Enabled: true}, nil
	}, Fresh: time.Hour})
	o := AdminOptions{
		Token: admToken, Keys: e.store, Usage: e.store, Audit: e.store, KeyCache: keys, Gateway: e.gw, Events: e.events,
		Reload: func(context.Context) error {
			if e.reloads.Add(1) > 1 {
				return fmt.Errorf("xjp.toml: models[0].routes[0].provider: unknown provider \"nope\"")
			}
			return nil
		},
		KeepAlive: time.Hour,
		Now:       func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) },
	}
	if mod != nil {
		mod(&o)
	}
	e.srv = httptest.NewServer(New(Options{Gateway: e.gw, Keys: keys, Admin: NewAdmin(o)}))
	t.Cleanup(e.srv.Close)
	return e
}

// call sends an admin request and decodes the JSON answer into out.
func (e *admEnv) call(t *testing.T, method, path, token, body string, out any) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, body %s", method, path, ct, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// chat sends one chat request with the API key.
func (e *admEnv) chat(t *testing.T, prompt string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"demo","messages":[{"role":"user","content":"`+prompt+`"}]}`))
	req.Header.Set("Authorization", "Bearer "+admAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

type admErrBody struct {
	Error struct{ Type, Message string } `json:"error"`
}

func TestAdminAuth(t *testing.T) {
	e := newAdmEnv(t, nil)
	for _, tc := range []struct {
		name, header string
		want         int
	}{
		{"no header", "", 401},
		{"wrong token", "Bearer wrong", 401},
		{"token prefix", "Bearer " + admToken[:10], 401},
		{"token plus more", "Bearer " + admToken + "x", 401},
		{"basic scheme", "Basic " + admToken, 401},
		{"an API key", "Bearer " + admAPIKey, 401},
		{"the admin token", "Bearer " + admToken, 200},
		{"lower-case scheme", "bearer " + admToken, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/admin/breakers", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == 401 {
				var body admErrBody
				json.NewDecoder(resp.Body).Decode(&body)
				if body.Error.Type != "authentication_error" || !strings.Contains(body.Error.Message, "admin token") {
					t.Errorf("401 body: %+v", body)
				}
			}
		})
	}
	// Unknown admin paths are 401 too without the token: nothing is told.
	if code := e.call(t, "GET", "/admin/nope", "", "", nil); code != 401 {
		t.Errorf("unknown path without token: %d", code)
	}
	if code := e.call(t, "GET", "/admin/nope", admToken, "", nil); code != 404 {
		t.Errorf("unknown path with token: %d", code)
	}

	// A server with no admin token refuses everything.
	none := newAdmEnv(t, func(o *AdminOptions) { o.Token = "" })
	if code := none.call(t, "GET", "/admin/status", "", "", nil); code != 401 {
		t.Errorf("no admin token configured, empty bearer: %d", code)
	}
	req, _ := http.NewRequest(http.MethodGet, none.srv.URL+"/admin/status", nil)
	req.Header.Set("Authorization", "Bearer ")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("no admin token configured, \"Bearer \": %v %v", resp.StatusCode, err)
	}
}

func TestAdminKeys(t *testing.T) {
	e := newAdmEnv(t, nil)
	// Warm the key cache: one lookup.
	if code := e.chat(t, "hi"); code != 200 {
		t.Fatalf("chat: %d", code)
	}

	var created struct {
		AdminKey
		Secret string `json:"secret"`
	}
	if code := e.call(t, "POST", "/admin/keys", admToken, `{"name":"laptop","tenant":"acme","rpm":30}`, &created); code != 201 {
		t.Fatalf("create: %d", code)
	}
	if created.ID != "key_1" || created.Name != "laptop" || created.Secret == "" || *created.RPM != 30 {
		t.Errorf("created: %+v", created)
	}
	var errBody admErrBody
	if code := e.call(t, "POST", "/admin/keys", admToken, `{"name":"laptop"}`, &errBody); code != 409 || errBody.Error.Type != "conflict_error" {
		t.Errorf("duplicate name: %d %+v", code, errBody)
	}
	if code := e.call(t, "POST", "/admin/keys", admToken, `{"name":"x","secret":"mine"}`, &errBody); code != 400 {
		t.Errorf("unknown field: %d", code)
	}
	if code := e.call(t, "POST", "/admin/keys", admToken, `{"tenant":"x"}`, &errBody); code != 400 || errBody.Error.Message != "name is required" {
		t.Errorf("no name: %d %+v", code, errBody)
	}

	var list []AdminKey
	if code := e.call(t, "GET", "/admin/keys?tenant=acme", admToken, "", &list); code != 200 || len(list) != 1 || list[0].ID != "key_1" {
		t.Errorf("list: %d %+v", code, list)
	}
	var shown AdminKey
	if code := e.call(t, "GET", "/admin/keys/key_1", admToken, "", &shown); code != 200 || shown.Name != "laptop" {
		t.Errorf("show: %d %+v", code, shown)
	}
	if code := e.call(t, "GET", "/admin/keys/key_9", admToken, "", &errBody); code != 404 || errBody.Error.Message != `key not found: no key "key_9"` {
		t.Errorf("show unknown: %d %+v", code, errBody)
	}

	var updated AdminKey
	if code := e.call(t, "PATCH", "/admin/keys/key_1", admToken, `{"name":"desk","rpm":null,"enabled":false}`, &updated); code != 200 {
		t.Fatalf("update: %d", code)
	}
	if updated.Name != "desk" || updated.RPM != nil || updated.Enabled {
		t.Errorf("updated: %+v", updated)
	}
	for body, want := range map[string]int{`{}`: 400, `{"colour":"red"}`: 400, `{"rpm":"many"}`: 400, `{"rpm":-1}`: 400, `not json`: 400} {
		if code := e.call(t, "PATCH", "/admin/keys/key_1", admToken, body, &errBody); code != want {
			t.Errorf("update %s: %d, want %d (%s)", body, code, want, errBody.Error.Message)
		}
	}

	if code := e.call(t, "DELETE", "/admin/keys/key_1", admToken, "", nil); code != 200 {
		t.Errorf("revoke: %d", code)
	}
	if code := e.call(t, "DELETE", "/admin/keys/key_1", admToken, "", &errBody); code != 409 {
		t.Errorf("revoke again: %d", code)
	}
	if code := e.call(t, "GET", "/admin/keys", admToken, "", &list); code != 200 || len(list) != 0 {
		t.Errorf("list after revoke: %+v", list)
	}
	if code := e.call(t, "GET", "/admin/keys?all=true", admToken, "", &list); code != 200 || len(list) != 1 {
		t.Errorf("list all: %+v", list)
	}

	// Every change is audited, without the secret.
	var actions []string
	for _, a := range e.store.audit {
		actions = append(actions, a.Actor+" "+a.Action+" "+a.Target)
		if strings.Contains(string(a.Detail), created.Secret) {
			t.Errorf("audit detail holds the secret: %s", a.Detail)
		}
		if !json.Valid(a.Detail) {
			t.Errorf("audit detail not JSON: %s", a.Detail)
		}
	}
	want := []string{"admin key.create key_1", "admin key.update key_1", "admin key.revoke key_1"}
	if !slices.Equal(actions, want) {
		t.Errorf("audit = %q, want %q", actions, want)
	}
	if d := string(e.store.audit[1].Detail); !strings.Contains(d, `"rpm":null`) || !strings.Contains(d, `"name":"desk"`) {
		t.Errorf("update detail: %s", d)
	}

	// Key changes cleared the key cache: the next request looks the key up
	// again (the cache is fresh for an hour otherwise).
	before := e.lookups.Load()
	e.chat(t, "again")
	if e.lookups.Load() != before+1 {
		t.Errorf("lookups %d → %d: the key cache was not invalidated", before, e.lookups.Load())
	}
}

func TestAdminUsage(t *testing.T) {
	e := newAdmEnv(t, nil)
	var rows []UsageRow
	if code := e.call(t, "GET", "/admin/usage?since=7d&until=2026-11-23&by=model,key&key=key_1&model=demo&tenant=acme&provider=demo", admToken, "", &rows); code != 200 {
		t.Fatalf("usage: %d", code)
	}
	if len(rows) != 1 || rows[0].Requests != 3 || rows[0].CostUSD != 0.5 {
		t.Errorf("rows: %+v", rows)
	}
	q := e.store.usageQ[0]
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	want := UsageQuery{Since: now.Add(-7 * 24 * time.Hour), Until: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC),
		By: []string{"model", "key"}, KeyID: "key_1", Model: "demo", Tenant: "acme", Provider: "demo"}
	if !q.Since.Equal(want.Since) || !q.Until.Equal(want.Until) || !slices.Equal(q.By, want.By) ||
		q.KeyID != want.KeyID || q.Model != want.Model || q.Tenant != want.Tenant || q.Provider != want.Provider {
		t.Errorf("query = %+v, want %+v", q, want)
	}
	var errBody admErrBody
	if code := e.call(t, "GET", "/admin/usage?since=yesterday", admToken, "", &errBody); code != 400 || !strings.HasPrefix(errBody.Error.Message, "since: ") {
		t.Errorf("bad since: %d %+v", code, errBody)
	}
	if code := e.call(t, "GET", "/admin/usage?by=bogus", admToken, "", &errBody); code != 400 {
		t.Errorf("bad dimension: %d %+v", code, errBody)
	}
}

func TestAdminStatusRoutesReload(t *testing.T) {
	e := newAdmEnv(t, nil)
	e.chat(t, "hi")
	e.chat(t, "xjp:fail=500")

	var routes AdminRoutes
	if code := e.call(t, "GET", "/admin/routes", admToken, "", &routes); code != 200 {
		t.Fatalf("routes: %d", code)
	}
	if len(routes.Models) != 1 || len(routes.Models[0].Routes) != 1 {
		t.Fatalf("routes: %+v", routes)
	}
	r := routes.Models[0].Routes[0]
	if r.Route != "demo/demo" || r.Provider != "demo" || r.Breaker.State != "closed" || r.Breaker.ConsecutiveFailures != 1 {
		t.Errorf("route: %+v", r)
	}
	var snap event.Snapshot
	if code := e.call(t, "GET", "/admin/status", admToken, "", &snap); code != 200 || len(snap.Breakers) != 1 || snap.Inflight == nil {
		t.Errorf("status: %d %+v", code, snap)
	}
	var inflight []event.Request
	if code := e.call(t, "GET", "/admin/inflight", admToken, "", &inflight); code != 200 || len(inflight) != 0 {
		t.Errorf("inflight: %d %+v", code, inflight)
	}

	var ok map[string]any
	if code := e.call(t, "POST", "/admin/reload", admToken, "", &ok); code != 200 || ok["ok"] != true {
		t.Errorf("reload: %d %v", code, ok)
	}
	var errBody admErrBody
	if code := e.call(t, "POST", "/admin/reload", admToken, "", &errBody); code != 422 || !strings.Contains(errBody.Error.Message, `unknown provider "nope"`) {
		t.Errorf("bad reload: %d %+v", code, errBody)
	}
	if n := len(e.store.audit); n != 2 || e.store.audit[0].Action != "config.reload" || !strings.Contains(string(e.store.audit[1].Detail), `"ok":false`) {
		t.Errorf("reload audit: %+v", e.store.audit)
	}
}

// The recent errors of /admin/routes come from the status snapshot.
func TestAdminRoutesRecent(t *testing.T) {
	e := newAdmEnv(t, func(o *AdminOptions) {
		o.Status = func(context.Context) (event.Snapshot, error) {
			return event.Snapshot{Recent: []event.Request{
				{ID: "a", Provider: "demo", UpstreamModel: "demo", Status: 200},
				{ID: "b", Provider: "demo", UpstreamModel: "demo", Status: 502, ErrorKind: llm.KindProviderServer},
				{ID: "c", Provider: "demo", UpstreamModel: "demo", Status: 400, ErrorKind: llm.KindCallerInvalid},
				{ID: "d", Status: 429, ErrorKind: llm.KindPolicyBudget},
			}}, nil
		}
	})
	var routes AdminRoutes
	e.call(t, "GET", "/admin/routes", admToken, "", &routes)
	if got := routes.Models[0].Routes[0].Recent; got != (RouteRecent{Requests: 3, Errors: 1}) || routes.Window != 4 {
		t.Errorf("recent = %+v, window %d", got, routes.Window)
	}
}

// admSSE reads an admin event stream.
type admSSE struct {
	resp *http.Response
	sc   *bufio.Scanner
}

func (e *admEnv) openEvents(t *testing.T, query string) *admSSE {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/admin/events"+query, nil)
	req.Header.Set("Authorization", "Bearer "+admToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	return &admSSE{resp: resp, sc: sc}
}

// next returns the next event name and data, or a comment as ":text".
func (s *admSSE) next(t *testing.T) (string, string) {
	t.Helper()
	var name, data string
	for s.sc.Scan() {
		line := s.sc.Text()
		switch {
		case line == "":
			if name != "" || data != "" {
				return name, data
			}
		case strings.HasPrefix(line, ":"):
			return line, ""
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
	t.Fatalf("event stream ended: %v", s.sc.Err())
	return "", ""
}

func TestAdminEvents(t *testing.T) {
	e := newAdmEnv(t, func(o *AdminOptions) { o.KeepAlive = 50 * time.Millisecond })
	s := e.openEvents(t, "?snapshot=1&kinds=request_started,request_finished")
	name, data := s.next(t)
	var snap event.Snapshot
	if name != EventSnapshot || json.Unmarshal([]byte(data), &snap) != nil || len(snap.Breakers) != 1 {
		t.Fatalf("first event %q %s, want the snapshot", name, data)
	}
	// Events published after connecting arrive; progress is filtered out.
	go func() {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/chat/completions",
			strings.NewReader(`{"model":"demo","messages":[{"role":"user","content":"hello there"}]}`))
		req.Header.Set("Authorization", "Bearer "+admAPIKey)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	var kinds []string
	var finished event.Event
	for len(kinds) < 2 {
		name, data := s.next(t)
		if strings.HasPrefix(name, ":") {
			continue
		}
		kinds = append(kinds, name)
		if name == string(event.RequestFinished) {
			json.Unmarshal([]byte(data), &finished)
		}
	}
	if !slices.Equal(kinds, []string{"request_started", "request_finished"}) {
		t.Errorf("kinds = %q", kinds)
	}
	if r := finished.Request; r == nil || r.Status != 200 || r.Model != "demo" || r.Provider != "demo" || r.KeyName != "tester" || r.Usage.OutputTokens == 0 {
		t.Errorf("finished event: %+v", r)
	}
	// Keep-alive comments come while nothing happens.
	if name, _ := s.next(t); name != ": keep-alive" {
		t.Errorf("got %q, want a keep-alive comment", name)
	}
}

// A client that reads too slowly gets "event: lagging" once its queue
// overflowed; the publisher never waited for it.
func TestAdminEventsLagging(t *testing.T) {
	e := newAdmEnv(t, nil)
	s := e.openEvents(t, "")
	if name, _ := s.next(t); name != ": connected" {
		t.Fatalf("first: %q", name)
	}
	big := strings.Repeat("x", 512)
	start := time.Now()
	for i := range 60000 { // far more than the socket buffers and the subscriber's queue hold
		e.events.PublishMustDeliver(event.Event{Kind: event.RequestFinished, Request: &event.Request{ID: fmt.Sprint(i), Model: big}})
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("publishing to a stuck subscriber took %s", d)
	}
	e.events.PublishMustDeliver(event.Event{Kind: event.ConfigReloaded, Reload: &event.Reload{OK: true}})
	for {
		name, data := s.next(t)
		if name == EventLagging {
			var v struct{ Dropped int64 }
			if json.Unmarshal([]byte(data), &v) != nil || v.Dropped == 0 {
				t.Errorf("lagging data %s", data)
			}
			return
		}
	}
}
