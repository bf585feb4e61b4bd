package ingress

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rickyjim626/xjp/internal/event"
	"github.com/rickyjim626/xjp/internal/gateway"
	"github.com/rickyjim626/xjp/internal/sse"
)

// The admin API (DESIGN §2), served under /admin/ with an admin token:
//
//	GET    /admin/status         event.Snapshot
//	GET    /admin/events         live events as SSE (?snapshot=1 sends the snapshot first; ?kinds=a,b filters)
//	GET    /admin/keys           keys (?tenant=, ?all=1 includes revoked ones)
//	POST   /admin/keys           create a key: 201 with its secret, shown once
//	GET    /admin/keys/{id}      one key
//	PATCH  /admin/keys/{id}      change a key (null clears rpm, burst, daily_tokens, expires_at)
//	DELETE /admin/keys/{id}      revoke a key
//	GET    /admin/usage          usage report (?since=&until=&by=&key=&model=&tenant=&provider=)
//	GET    /admin/routes         models, routes, breaker states and recent errors
//	GET    /admin/breakers       breaker states
//	GET    /admin/inflight       requests in progress
//	POST   /admin/reload         reload providers, routes and prices from the config file
//
// Every request needs "Authorization: Bearer <admin token>" (401
// otherwise); errors are JSON {"error":{"type","message"}}. Changes are
// written to the audit table with actor "admin".

// AdminKey is an API key as the admin API shows it: never its secret. The
// JSON is the same as `xjp keys list --json`.
type AdminKey struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	Prefix        string     `json:"prefix"`
	Tenant        string     `json:"tenant,omitempty"`
	AllowedModels []string   `json:"allowed_models"`
	RPM           *int       `json:"rpm"`
	Burst         *int       `json:"burst"`
	DailyTokens   *int64     `json:"daily_tokens"`
	Enabled       bool       `json:"enabled"`
	ExpiresAt     *time.Time `json:"expires_at"`
	CreatedAt     time.Time  `json:"created_at"`
	LastUsedAt    *time.Time `json:"last_used_at"`
	RevokedAt     *time.Time `json:"revoked_at,omitempty"`
}

// NewAdminKey is the body of POST /admin/keys. Limits left nil follow the
// server's defaults.
type NewAdminKey struct {
	Name          string     `json:"name"`
	Tenant        string     `json:"tenant,omitempty"`
	AllowedModels []string   `json:"allowed_models,omitempty"`
	RPM           *int       `json:"rpm,omitempty"`
	Burst         *int       `json:"burst,omitempty"`
	DailyTokens   *int64     `json:"daily_tokens,omitempty"`
	ExpiresAt     *time.Time `json:"expires_at,omitempty"`
	Disabled      bool       `json:"disabled,omitempty"`
}

// AdminKeyUpdate changes a key: nil fields stay as they are; the Clear
// fields make a limit follow the server's defaults again, or remove the
// expiry.
type AdminKeyUpdate struct {
	Name          *string
	Tenant        *string
	AllowedModels *[]string // an empty list allows every model
	RPM           *int
	Burst         *int
	DailyTokens   *int64
	ExpiresAt     *time.Time
	Enabled       *bool

	ClearRPM, ClearBurst, ClearDailyTokens, ClearExpiresAt bool
}

// AdminKeyFilter selects keys to list.
type AdminKeyFilter struct {
	Tenant         string
	IncludeRevoked bool
}

// UsageQuery selects and groups usage, with the filters of `xjp usage`.
type UsageQuery struct {
	// Since <= request time < Until; zero leaves that side open.
	Since, Until time.Time
	// By lists the dimensions to group by (day, model, key, tenant,
	// provider, upstream_model, endpoint, status); empty: one total.
	By []string
	// Filters; "" does not filter.
	KeyID, Model, Tenant, Provider string
}

// UsageRow is one group of a usage report; dimensions not grouped by are
// empty.
type UsageRow struct {
	Day              string  `json:"day,omitempty"`
	Model            string  `json:"model,omitempty"`
	KeyID            string  `json:"key_id,omitempty"`
	Tenant           string  `json:"tenant,omitempty"`
	Provider         string  `json:"provider,omitempty"`
	UpstreamModel    string  `json:"upstream_model,omitempty"`
	Endpoint         string  `json:"endpoint,omitempty"`
	Status           int     `json:"status,omitempty"`
	Requests         int64   `json:"requests"`
	Errors           int64   `json:"errors"`
	InputTokens      int64   `json:"input_tokens"`
	CacheReadTokens  int64   `json:"cache_read_tokens"`
	CacheWriteTokens int64   `json:"cache_write_tokens"`
	OutputTokens     int64   `json:"output_tokens"`
	ReasoningTokens  int64   `json:"reasoning_tokens"`
	CostUSD          float64 `json:"cost_usd"`
	UnpricedRequests int64   `json:"unpriced_requests"`
	Estimated        int64   `json:"estimated"`
}

// AuditEntry is one admin change, for the audit table. Detail is a JSON
// object and never holds a secret.
type AuditEntry struct {
	Actor  string
	Action string
	Target string
	Detail json.RawMessage
}

// KeyAdmin manages API keys in the store. The cli adapts *store.Store.
// Errors wrap ErrKeyNotFound, ErrConflict or ErrInvalid when they are the
// caller's.
type KeyAdmin interface {
	ListKeys(ctx context.Context, f AdminKeyFilter) ([]AdminKey, error)
	GetKey(ctx context.Context, id string) (AdminKey, error)
	CreateKey(ctx context.Context, nk NewAdminKey) (key AdminKey, secret string, err error)
	UpdateKey(ctx context.Context, id string, u AdminKeyUpdate) (AdminKey, error)
	RevokeKey(ctx context.Context, id string) error
}

// UsageQuerier runs usage reports (the store's QueryUsage).
type UsageQuerier interface {
	QueryUsage(ctx context.Context, q UsageQuery) ([]UsageRow, error)
}

// Auditor records admin changes (the store's audit table).
type Auditor interface {
	AddAudit(ctx context.Context, e AuditEntry) error
}

// Errors a KeyAdmin or UsageQuerier wraps to say the caller is at fault:
// they become 404, 409 and 400 with the error's message.
var (
	ErrKeyNotFound = errors.New("key not found")
	ErrConflict    = errors.New("conflict")
	ErrInvalid     = errors.New("invalid request")
)

// AdminOptions configure the admin API.
type AdminOptions struct {
	// Token is the admin bearer token; empty refuses every request.
	Token string
	Keys  KeyAdmin
	Usage UsageQuerier
	Audit Auditor
	// KeyCache is invalidated after every key change, so that it applies
	// at once on this replica (others notice within the cache's lifetime).
	KeyCache *KeyCache
	Gateway  *gateway.Gateway
	// Events feeds GET /admin/events.
	Events *event.Broker
	// Status builds the snapshot of GET /admin/status (and of
	// /admin/events?snapshot=1, and the recent errors of /admin/routes).
	Status func(ctx context.Context) (event.Snapshot, error)
	// Reload reloads the config (POST /admin/reload); nil: 501.
	Reload func(ctx context.Context) error
	// Stop, when closed, ends the event streams, so that a graceful
	// shutdown need not wait for followers (http.Server.RegisterOnShutdown).
	Stop <-chan struct{}
	// KeepAlive is the interval of SSE comments on /admin/events (default
	// 15s), so proxies keep the connection.
	KeepAlive time.Duration
	// WriteTimeout bounds each write of the event stream (default 60s).
	WriteTimeout time.Duration
	// Logger receives failures of the admin API (nil: discarded).
	Logger *slog.Logger
	// Now is the clock of relative times in usage queries ("7d"); nil:
	// time.Now.
	Now func() time.Time
}

type admin struct {
	o     AdminOptions
	token [32]byte // SHA-256 of the token: compared in constant time whatever its length
	log   *slog.Logger
	mux   *http.ServeMux
}

// NewAdmin returns the handler of /admin/, for Options.Admin.
func NewAdmin(o AdminOptions) http.Handler {
	if o.KeepAlive <= 0 {
		o.KeepAlive = 15 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 60 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	a := &admin{o: o, token: sha256.Sum256([]byte(o.Token)), log: o.Logger, mux: http.NewServeMux()}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.mux.HandleFunc("GET /admin/status", a.status)
	a.mux.HandleFunc("GET /admin/events", a.events)
	a.mux.HandleFunc("GET /admin/keys", a.listKeys)
	a.mux.HandleFunc("POST /admin/keys", a.createKey)
	a.mux.HandleFunc("GET /admin/keys/{id}", a.showKey)
	a.mux.HandleFunc("PATCH /admin/keys/{id}", a.updateKey)
	a.mux.HandleFunc("DELETE /admin/keys/{id}", a.revokeKey)
	a.mux.HandleFunc("GET /admin/usage", a.usage)
	a.mux.HandleFunc("GET /admin/routes", a.routes)
	a.mux.HandleFunc("GET /admin/breakers", a.breakers)
	a.mux.HandleFunc("GET /admin/inflight", a.inflight)
	a.mux.HandleFunc("POST /admin/reload", a.reload)
	a.mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		adminError(w, http.StatusNotFound, "not_found_error", "no such admin endpoint: "+r.Method+" "+r.URL.Path)
	})
	return a
}

// ServeHTTP checks the admin token, then serves the endpoint.
func (a *admin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="xjp admin"`)
		adminError(w, http.StatusUnauthorized, "authentication_error",
			"missing or wrong admin token: send Authorization: Bearer <admin token> (admin.token, XJP_ADMIN_TOKEN or <data-dir>/admin-token)")
		return
	}
	a.mux.ServeHTTP(w, r)
}

// authorized compares the bearer token with the admin token in constant
// time (SHA-256 first, so neither the content nor the length leaks).
func (a *admin) authorized(r *http.Request) bool {
	if a.o.Token == "" {
		return false
	}
	v := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(got[:], a.token[:]) == 1
}

// adminError writes {"error":{"type","message"}}.
func adminError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	writeJSON(w, map[string]any{"error": map[string]string{"type": typ, "message": msg}})
}

// fail answers err: the caller's fault (ErrKeyNotFound, ErrConflict,
// ErrInvalid) with its message, anything else as a logged 500.
func (a *admin) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrKeyNotFound):
		adminError(w, http.StatusNotFound, "not_found_error", err.Error())
	case errors.Is(err, ErrConflict):
		adminError(w, http.StatusConflict, "conflict_error", err.Error())
	case errors.Is(err, ErrInvalid):
		adminError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
	case errors.Is(err, context.Canceled):
	default:
		a.log.ErrorContext(r.Context(), "admin request failed", "request_id", RequestID(r.Context()), "path", r.URL.Path, "error", err)
		adminError(w, http.StatusInternalServerError, "api_error", "internal error (request "+RequestID(r.Context())+")")
	}
}

func (a *admin) ok(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	writeJSON(w, v)
}

// audit records a change. The change is done by now, so a failure is
// logged, not answered.
func (a *admin) audit(r *http.Request, action, target string, detail any) {
	if a.o.Audit == nil {
		return
	}
	b, err := json.Marshal(detail)
	if err != nil {
		b = []byte("{}")
	}
	if err := a.o.Audit.AddAudit(context.WithoutCancel(r.Context()), AuditEntry{Actor: "admin", Action: action, Target: target, Detail: b}); err != nil {
		a.log.ErrorContext(r.Context(), "writing the audit entry failed", "action", action, "target", target, "error", err)
	}
}

// keysChanged makes a key change apply at once on this replica.
func (a *admin) keysChanged() {
	if a.o.KeyCache != nil {
		a.o.KeyCache.Invalidate()
	}
}

func (a *admin) needKeys(w http.ResponseWriter) bool {
	if a.o.Keys == nil {
		adminError(w, http.StatusNotImplemented, "api_error", "key management is not available on this server")
		return false
	}
	return true
}

func (a *admin) listKeys(w http.ResponseWriter, r *http.Request) {
	if !a.needKeys(w) {
		return
	}
	q := r.URL.Query()
	all, err := parseBool(q.Get("all"))
	if err != nil {
		adminError(w, http.StatusBadRequest, "invalid_request_error", "all: "+err.Error())
		return
	}
	keys, err := a.o.Keys.ListKeys(r.Context(), AdminKeyFilter{Tenant: q.Get("tenant"), IncludeRevoked: all})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if keys == nil {
		keys = []AdminKey{}
	}
	a.ok(w, http.StatusOK, keys)
}

func (a *admin) showKey(w http.ResponseWriter, r *http.Request) {
	if !a.needKeys(w) {
		return
	}
	k, err := a.o.Keys.GetKey(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.ok(w, http.StatusOK, k)
}

// createdKey is the answer to POST /admin/keys: the key and, this once, its
// secret.
type createdKey struct {
	AdminKey
	Secret string `json:"secret"`
}

func (a *admin) createKey(w http.ResponseWriter, r *http.Request) {
	if !a.needKeys(w) {
		return
	}
	var nk NewAdminKey
	if err := decodeStrict(r, &nk); err != nil {
		adminError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	if strings.TrimSpace(nk.Name) == "" {
		adminError(w, http.StatusBadRequest, "invalid_request_error", "name is required")
		return
	}
	k, secret, err := a.o.Keys.CreateKey(r.Context(), nk)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.keysChanged()
	a.audit(r, "key.create", k.ID, nk) // NewAdminKey holds no secret
	a.ok(w, http.StatusCreated, createdKey{AdminKey: k, Secret: secret})
}

func (a *admin) updateKey(w http.ResponseWriter, r *http.Request) {
	if !a.needKeys(w) {
		return
	}
	var raw map[string]json.RawMessage
	if err := decodeStrict(r, &raw); err != nil {
		adminError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	u, err := parseKeyUpdate(raw)
	if err != nil {
		adminError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	id := r.PathValue("id")
	k, err := a.o.Keys.UpdateKey(r.Context(), id, u)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.keysChanged()
	a.audit(r, "key.update", id, raw)
	a.ok(w, http.StatusOK, k)
}

func (a *admin) revokeKey(w http.ResponseWriter, r *http.Request) {
	if !a.needKeys(w) {
		return
	}
	id := r.PathValue("id")
	if err := a.o.Keys.RevokeKey(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	a.keysChanged()
	a.audit(r, "key.revoke", id, struct{}{})
	a.ok(w, http.StatusOK, map[string]any{"id": id, "revoked": true})
}

// parseKeyUpdate reads a PATCH body: only the fields present change, and
// null on rpm, burst, daily_tokens or expires_at clears them.
func parseKeyUpdate(raw map[string]json.RawMessage) (AdminKeyUpdate, error) {
	var u AdminKeyUpdate
	if len(raw) == 0 {
		return u, errors.New("nothing to change: send at least one of name, tenant, allowed_models, rpm, burst, daily_tokens, expires_at, enabled")
	}
	isNull := func(v json.RawMessage) bool { return string(v) == "null" }
	for k, v := range raw {
		var err error
		switch k {
		case "name":
			u.Name = new(string)
			err = json.Unmarshal(v, u.Name)
		case "tenant":
			u.Tenant = new(string)
			err = json.Unmarshal(v, u.Tenant)
		case "allowed_models":
			list := []string{}
			if !isNull(v) {
				err = json.Unmarshal(v, &list)
			}
			u.AllowedModels = &list
		case "enabled":
			u.Enabled = new(bool)
			err = json.Unmarshal(v, u.Enabled)
		case "rpm":
			u.ClearRPM = isNull(v)
			if !u.ClearRPM {
				u.RPM = new(int)
				err = json.Unmarshal(v, u.RPM)
			}
		case "burst":
			u.ClearBurst = isNull(v)
			if !u.ClearBurst {
				u.Burst = new(int)
				err = json.Unmarshal(v, u.Burst)
			}
		case "daily_tokens":
			u.ClearDailyTokens = isNull(v)
			if !u.ClearDailyTokens {
				u.DailyTokens = new(int64)
				err = json.Unmarshal(v, u.DailyTokens)
			}
		case "expires_at":
			u.ClearExpiresAt = isNull(v)
			if !u.ClearExpiresAt {
				u.ExpiresAt = new(time.Time)
				err = json.Unmarshal(v, u.ExpiresAt)
			}
		default:
			return u, fmt.Errorf("unknown field %q", k)
		}
		if err != nil {
			return u, fmt.Errorf("%s: %v", k, err)
		}
	}
	return u, nil
}

// decodeStrict decodes a JSON body, refusing unknown fields.
func decodeStrict(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("request body exceeds %d bytes", mbe.Limit)
		}
		return fmt.Errorf("malformed JSON body: %v", err)
	}
	return nil
}

func parseBool(s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	return strconv.ParseBool(s)
}

func (a *admin) usage(w http.ResponseWriter, r *http.Request) {
	if a.o.Usage == nil {
		adminError(w, http.StatusNotImplemented, "api_error", "usage reports are not available on this server")
		return
	}
	q := r.URL.Query()
	now := a.o.Now()
	uq := UsageQuery{KeyID: q.Get("key"), Model: q.Get("model"), Tenant: q.Get("tenant"), Provider: q.Get("provider")}
	var err error
	if uq.Since, err = parseTimeArg(q.Get("since"), now); err != nil {
		adminError(w, http.StatusBadRequest, "invalid_request_error", "since: "+err.Error())
		return
	}
	if uq.Until, err = parseTimeArg(q.Get("until"), now); err != nil {
		adminError(w, http.StatusBadRequest, "invalid_request_error", "until: "+err.Error())
		return
	}
	for _, b := range strings.Split(q.Get("by"), ",") {
		if b = strings.TrimSpace(b); b != "" {
			uq.By = append(uq.By, b)
		}
	}
	rows, err := a.o.Usage.QueryUsage(r.Context(), uq)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if rows == nil {
		rows = []UsageRow{}
	}
	a.ok(w, http.StatusOK, rows)
}

// parseTimeArg reads a time bound: "" (none), a duration back from now
// ("7d", "24h", "90m"), a date ("2026-11-01", UTC midnight) or RFC 3339.
func parseTimeArg(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a duration (7d, 24h), a date (2006-01-02) or an RFC 3339 time", s)
}

// AdminRoutes is the answer of GET /admin/routes.
type AdminRoutes struct {
	Models []AdminModel `json:"models"`
	// Window is the number of recent finished requests the Recent counts
	// are taken from.
	Window int `json:"window"`
}

// AdminModel is a logical model and its routes.
type AdminModel struct {
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	Price       *gateway.Price `json:"price,omitempty"`
	Routes      []AdminRoute   `json:"routes"`
}

// AdminRoute is one route with its breaker and its recent outcomes.
type AdminRoute struct {
	Route    string              `json:"route"`
	Provider string              `json:"provider"`
	Model    string              `json:"model"`
	Priority int                 `json:"priority"`
	Weight   int                 `json:"weight,omitempty"`
	Breaker  event.BreakerStatus `json:"breaker"`
	// Recent counts the recent finished requests this route answered, and
	// those that failed on it (upstream faults).
	Recent RouteRecent `json:"recent"`
}

// RouteRecent counts recent finished requests of one route.
type RouteRecent struct {
	Requests int `json:"requests"`
	Errors   int `json:"errors"`
}

func (a *admin) routes(w http.ResponseWriter, r *http.Request) {
	if a.o.Gateway == nil {
		adminError(w, http.StatusNotImplemented, "api_error", "no gateway")
		return
	}
	recent := map[string]*RouteRecent{}
	out := AdminRoutes{Models: []AdminModel{}}
	if a.o.Status != nil {
		snap, err := a.o.Status(r.Context())
		if err != nil {
			a.fail(w, r, err)
			return
		}
		out.Window = len(snap.Recent)
		for _, q := range snap.Recent {
			if q.Provider == "" {
				continue
			}
			name := q.Provider + "/" + q.UpstreamModel
			rr := recent[name]
			if rr == nil {
				rr = &RouteRecent{}
				recent[name] = rr
			}
			rr.Requests++
			if q.ErrorKind.UpstreamFault() {
				rr.Errors++
			}
		}
	}
	breakers := map[string]event.BreakerStatus{}
	for _, b := range a.o.Gateway.Breakers() {
		breakers[b.Route] = b
	}
	for _, m := range a.o.Gateway.Table().Models() {
		am := AdminModel{Name: m.Name, Description: m.Description, Price: m.Price, Routes: []AdminRoute{}}
		for _, rt := range m.Routes {
			ar := AdminRoute{Route: rt.Name(), Provider: rt.Provider.Name(), Model: rt.Model, Priority: rt.Priority, Weight: rt.Weight,
				Breaker: breakers[rt.Name()]}
			if rr := recent[rt.Name()]; rr != nil {
				ar.Recent = *rr
			}
			am.Routes = append(am.Routes, ar)
		}
		out.Models = append(out.Models, am)
	}
	a.ok(w, http.StatusOK, out)
}

func (a *admin) breakers(w http.ResponseWriter, r *http.Request) {
	if a.o.Gateway == nil {
		adminError(w, http.StatusNotImplemented, "api_error", "no gateway")
		return
	}
	bs := a.o.Gateway.Breakers()
	if bs == nil {
		bs = []event.BreakerStatus{}
	}
	a.ok(w, http.StatusOK, bs)
}

func (a *admin) inflight(w http.ResponseWriter, r *http.Request) {
	if a.o.Gateway == nil {
		adminError(w, http.StatusNotImplemented, "api_error", "no gateway")
		return
	}
	a.ok(w, http.StatusOK, sortedInflight(a.o.Gateway.Inflight()))
}

// sortedInflight orders requests oldest first.
func sortedInflight(rs []event.Request) []event.Request {
	if rs == nil {
		return []event.Request{}
	}
	slices.SortFunc(rs, func(a, b event.Request) int { return a.Start.Compare(b.Start) })
	return rs
}

func (a *admin) snapshot(ctx context.Context) (event.Snapshot, error) {
	if a.o.Status != nil {
		return a.o.Status(ctx)
	}
	s := event.Snapshot{Now: a.o.Now(), Recent: []event.Request{}, Spend: []event.Spend{}, Breakers: []event.BreakerStatus{}}
	if a.o.Gateway != nil {
		s.Inflight, s.Breakers = sortedInflight(a.o.Gateway.Inflight()), a.o.Gateway.Breakers()
	}
	return s, nil
}

func (a *admin) status(w http.ResponseWriter, r *http.Request) {
	s, err := a.snapshot(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.ok(w, http.StatusOK, s)
}

func (a *admin) reload(w http.ResponseWriter, r *http.Request) {
	if a.o.Reload == nil {
		adminError(w, http.StatusNotImplemented, "api_error", "config reload is not available on this server")
		return
	}
	err := a.o.Reload(r.Context())
	detail := map[string]any{"ok": err == nil}
	if err != nil {
		detail["error"] = err.Error()
	}
	a.audit(r, "config.reload", "", detail)
	if err != nil {
		adminError(w, http.StatusUnprocessableEntity, "invalid_request_error", "config reload rejected, the running config is kept: "+err.Error())
		return
	}
	a.ok(w, http.StatusOK, map[string]any{"ok": true})
}

// Names of the control events of /admin/events besides the event kinds.
const (
	// EventSnapshot carries an event.Snapshot (first, with ?snapshot=1).
	EventSnapshot = "snapshot"
	// EventLagging says events were lost because the client read too
	// slowly; its data is {"dropped": n}. Resynchronise from a snapshot.
	EventLagging = "lagging"
)

// events streams live events as SSE: "event: <kind>" and "data: <the
// event as JSON>", a keep-alive comment every KeepAlive.
func (a *admin) events(w http.ResponseWriter, r *http.Request) {
	if a.o.Events == nil {
		adminError(w, http.StatusNotImplemented, "api_error", "no live events on this server")
		return
	}
	q := r.URL.Query()
	var kinds map[event.Kind]bool
	if v := q.Get("kinds"); v != "" {
		kinds = map[event.Kind]bool{}
		for _, k := range strings.Split(v, ",") {
			kinds[event.Kind(strings.TrimSpace(k))] = true
		}
	}
	withSnapshot, err := parseBool(q.Get("snapshot"))
	if err != nil {
		adminError(w, http.StatusBadRequest, "invalid_request_error", "snapshot: "+err.Error())
		return
	}

	// Subscribe before the snapshot, so nothing falls between them (an
	// event may be in both; clients key requests by id).
	sub := a.o.Events.Subscribe()
	defer sub.Close()
	var snap []byte
	if withSnapshot {
		s, err := a.snapshot(r.Context())
		if err != nil {
			a.fail(w, r, err)
			return
		}
		snap, _ = json.Marshal(s)
	}

	ctx := r.Context()
	sse.SetHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	sw := sse.NewWriter(w)
	write := func(evs ...sse.Event) bool {
		sw.SetWriteDeadline(time.Now().Add(a.o.WriteTimeout))
		return sw.Write(evs...) == nil
	}
	if snap != nil {
		if !write(sse.Event{Event: EventSnapshot, Data: snap}) {
			return
		}
	} else if sw.Comment("connected") != nil {
		return
	}

	// One goroutine waits on the subscription, so the loop below can also
	// send keep-alives; it ends with the request.
	evs := make(chan event.Event)
	go func() {
		defer close(evs)
		for {
			ev, ok := sub.Next(ctx.Done())
			if !ok {
				return
			}
			select {
			case evs <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	tick := time.NewTicker(a.o.KeepAlive)
	defer tick.Stop()
	lagged := false
	for {
		var out []sse.Event
		select {
		case <-ctx.Done():
			return
		case <-a.o.Stop: // a nil channel never fires
			return
		case <-tick.C:
			sw.SetWriteDeadline(time.Now().Add(a.o.WriteTimeout))
			if sw.Comment("keep-alive") != nil {
				return
			}
		case ev, ok := <-evs:
			if !ok {
				return
			}
			if kinds == nil || kinds[ev.Kind] {
				data, err := json.Marshal(ev)
				if err != nil {
					continue
				}
				out = append(out, sse.Event{Event: string(ev.Kind), Data: data})
			}
		}
		if !lagged && sub.Lagging() {
			lagged = true
			out = append(out, sse.Event{Event: EventLagging, Data: fmt.Appendf(nil, `{"dropped":%d}`, sub.Dropped())})
		}
		if len(out) > 0 && !write(out...) {
			return
		}
	}
}

var _ http.Handler = (*admin)(nil)
