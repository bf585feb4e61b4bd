package ingress_test

// Idempotency-Key end to end over HTTP (resilience_test.go has the
// harness): replays of stream and non-stream answers on every model
// endpoint, 409 while in flight, 422 on another body, 400 on a bad key, and
// the key released after failures so that a retry runs again. The store is
// an in-memory ingress.IdemStore with the store's semantics; internal/cli
// tests the adapter over the real store.

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/internal/gateway"
	"github.com/rickyjim626/xjp/internal/ingress"
)

// resIdemStore is an in-memory ingress.IdemStore.
type resIdemStore struct {
	mu   sync.Mutex // guards recs
	recs map[[2]string]*resIdemRec
}

type resIdemRec struct {
	hash     string
	done     bool
	status   int
	response []byte
	expires  time.Time
}

func newResIdemStore() *resIdemStore { return &resIdemStore{recs: map[[2]string]*resIdemRec{}} }

func (s *resIdemStore) Begin(_ context.Context, scope, key, hash string, ttl time.Duration) (*ingress.IdemRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{scope, key}
	r, ok := s.recs[k]
	if !ok || time.Now().After(r.expires) {
		s.recs[k] = &resIdemRec{hash: hash, expires: time.Now().Add(ttl)}
		return nil, nil
	}
	switch {
	case r.hash != hash:
		return nil, ingress.ErrIdemMismatch
	case !r.done:
		return nil, ingress.ErrIdemInFlight
	}
	return &ingress.IdemRecord{Status: r.status, Response: r.response}, nil
}

func (s *resIdemStore) Complete(_ context.Context, scope, key string, status int, response []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[[2]string{scope, key}]
	if !ok || r.done {
		return errors.New("no claim")
	}
	r.done, r.status, r.response = true, status, append([]byte(nil), response...)
	return nil
}

func (s *resIdemStore) Release(_ context.Context, scope, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{scope, key}
	if r, ok := s.recs[k]; ok && !r.done {
		delete(s.recs, k)
	}
	return nil
}

// state is "", "in_flight" or "done".
func (s *resIdemStore) state(scope, key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[[2]string{scope, key}]
	switch {
	case !ok:
		return ""
	case r.done:
		return "done"
	}
	return "in_flight"
}

func idemHdr(key string) http.Header { return http.Header{"Idempotency-Key": {key}} }

// newIdemEnv serves model "m" from one OpenAI upstream "up", and "demo".
func newIdemEnv(t *testing.T, o ingress.IdempotencyOptions) (*resEnv, *resUpstream, *resIdemStore) {
	t.Helper()
	e := newResEnv(t)
	up := e.upstream("up", "openai")
	st := newResIdemStore()
	o.Store = st
	e.start(resConfig{idem: o}, &gateway.Model{Name: "m", Routes: []*gateway.Route{up.route()}})
	return e, up, st
}

func TestIdempotentReplay(t *testing.T) {
	cases := []struct {
		name, path, body string
	}{
		{"chat", "/v1/chat/completions", resChat("m", false, "hi")},
		{"chat stream", "/v1/chat/completions", `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`},
		{"messages", "/v1/messages", resMessages("m", false, "hi")},
		{"messages stream", "/v1/messages", resMessages("m", true, "hi")},
		{"responses", "/v1/responses", `{"model":"m","input":"hi"}`},
		{"responses stream", "/v1/responses", `{"model":"m","input":"hi","stream":true}`},
		{"gemini", "/v1beta/models/m:generateContent", `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`},
		{"gemini stream", "/v1beta/models/m:streamGenerateContent?alt=sse", `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e, up, st := newIdemEnv(t, ingress.IdempotencyOptions{})
			first := e.do(t, c.path, c.body, idemHdr("k-1"))
			if first.status != 200 || !strings.Contains(first.body, "hello") {
				t.Fatalf("first: HTTP %d %s", first.status, first.body)
			}
			if first.header.Get("Idempotent-Replayed") != "" {
				t.Errorf("the first answer says it was replayed")
			}
			if got := st.state("key_res", "k-1"); got != "done" {
				t.Fatalf("record %q after a 200, want done", got)
			}
			for range 2 {
				again := e.do(t, c.path, c.body, idemHdr("k-1"))
				if again.status != first.status || again.body != first.body {
					t.Fatalf("replay differs:\nfirst  HTTP %d %q\nreplay HTTP %d %q", first.status, first.body, again.status, again.body)
				}
				if again.header.Get("Idempotent-Replayed") != "true" {
					t.Errorf("replay lacks Idempotent-Replayed: true: %v", again.header)
				}
				if ct := again.header.Get("Content-Type"); ct != first.header.Get("Content-Type") {
					t.Errorf("replay Content-Type %q, first %q", ct, first.header.Get("Content-Type"))
				}
				if again.id == first.id || again.id == "" {
					t.Errorf("replay has request id %q (first %q): want its own", again.id, first.id)
				}
			}
			if n := up.hits.Load(); n != 1 {
				t.Errorf("upstream hit %d times, want 1", n)
			}
			if recs := e.sink.all(); len(recs) != 1 {
				t.Errorf("%d usage records, want 1: a replay is not billed", len(recs))
			}
			// Without the header, or with another key, the request runs.
			if r := e.do(t, c.path, c.body, nil); r.header.Get("Idempotent-Replayed") != "" || up.hits.Load() != 2 {
				t.Errorf("a request without Idempotency-Key was replayed")
			}
			if r := e.do(t, c.path, c.body, idemHdr("k-2")); r.header.Get("Idempotent-Replayed") != "" || up.hits.Load() != 3 {
				t.Errorf("a request with another Idempotency-Key was replayed")
			}
		})
	}
}

// Keys are scoped per API key: another API key's identical Idempotency-Key
// runs its own request.
func TestIdempotencyScopedPerAPIKey(t *testing.T) {
	e, up, _ := newIdemEnv(t, ingress.IdempotencyOptions{})
	body := resChat("m", false, "hi")
	e.do(t, "/v1/chat/completions", body, idemHdr("shared"))
	r := e.do(t, "/v1/chat/completions", body, http.Header{"Idempotency-Key": {"shared"}, "Authorization": {"Bearer " + resOtherKey}})
	if r.status != 200 || r.header.Get("Idempotent-Replayed") != "" || up.hits.Load() != 2 {
		t.Errorf("another API key got the first key's answer: HTTP %d replayed %q hits %d", r.status, r.header.Get("Idempotent-Replayed"), up.hits.Load())
	}
}

func TestIdempotencyInFlight(t *testing.T) {
	e, up, _ := newIdemEnv(t, ingress.IdempotencyOptions{})
	started, release := make(chan struct{}), make(chan struct{})
	up.set(resSeq(resBlock(started, release, resOK("openai", "hello from up")), resOK("openai", "second")))
	body := resChat("m", true, "hi")

	firstDone := make(chan resResponse, 1)
	go func() {
		r, err := e.send("/v1/chat/completions", body, idemHdr("busy"))
		if err != nil {
			r.body = err.Error()
		}
		firstDone <- r
	}()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the first request did not reach the upstream")
	}
	for _, c := range []struct{ path, body, typ string }{
		{"/v1/chat/completions", body, "invalid_request_error"},
		{"/v1/messages", resMessages("m", true, "hi"), "invalid_request_error"},
	} {
		r := e.do(t, c.path, c.body, idemHdr("busy"))
		if c.path == "/v1/messages" {
			// Another endpoint is another request: 422, not 409.
			if r.status != http.StatusUnprocessableEntity {
				t.Errorf("%s: HTTP %d %s, want 422", c.path, r.status, r.body)
			}
			continue
		}
		if r.status != http.StatusConflict || r.header.Get("Retry-After") != "1" {
			t.Fatalf("%s while in flight: HTTP %d Retry-After %q %s, want 409 with Retry-After 1", c.path, r.status, r.header.Get("Retry-After"), r.body)
		}
		er := resParseErr(t, r.body)
		if er.Error.Type != c.typ || er.Error.Code != "idempotency_key_in_use" || !strings.Contains(er.Error.Message, "still in progress") {
			t.Errorf("%s: error %+v", c.path, er.Error)
		}
	}
	close(release)
	first := <-firstDone
	if first.status != 200 {
		t.Fatalf("first: HTTP %d %s", first.status, first.body)
	}
	again := e.do(t, "/v1/chat/completions", body, idemHdr("busy"))
	if again.body != first.body || again.header.Get("Idempotent-Replayed") != "true" || up.hits.Load() != 1 {
		t.Errorf("after the first finished: replayed %q hits %d, want the first answer replayed", again.header.Get("Idempotent-Replayed"), up.hits.Load())
	}
}

func TestIdempotencyKeyReused(t *testing.T) {
	e, up, _ := newIdemEnv(t, ingress.IdempotencyOptions{})
	e.do(t, "/v1/chat/completions", resChat("m", false, "hi"), idemHdr("k"))
	e.do(t, "/v1/messages", resMessages("m", false, "hi"), idemHdr("k-anthropic"))
	e.do(t, "/v1beta/models/m:generateContent", `{"contents":[{"parts":[{"text":"hi"}]}]}`, idemHdr("k-gemini"))
	cases := []struct {
		name, key, path, body string
		check                 func(t *testing.T, er resErr)
	}{
		{"openai, other body", "k", "/v1/chat/completions", resChat("m", false, "something else"), func(t *testing.T, er resErr) {
			if er.Error.Type != "invalid_request_error" || er.Error.Code != "idempotency_key_reused" {
				t.Errorf("%+v", er.Error)
			}
		}},
		{"openai, other endpoint", "k", "/v1/responses", `{"model":"m","input":"hi"}`, func(t *testing.T, er resErr) {
			if er.Error.Code != "idempotency_key_reused" {
				t.Errorf("%+v", er.Error)
			}
		}},
		{"anthropic, other body", "k-anthropic", "/v1/messages", resMessages("m", true, "hi"), func(t *testing.T, er resErr) {
			if er.Type != "error" || er.Error.Type != "invalid_request_error" {
				t.Errorf("%+v", er)
			}
		}},
		{"gemini, other body", "k-gemini", "/v1beta/models/m:generateContent", `{"contents":[{"parts":[{"text":"ho"}]}]}`, func(t *testing.T, er resErr) {
			if er.Error.Code != float64(422) {
				t.Errorf("%+v", er.Error)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(t, c.path, c.body, idemHdr(c.key))
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("HTTP %d %s, want 422", r.status, r.body)
			}
			er := resParseErr(t, r.body)
			if !strings.Contains(er.Error.Message, "different request") {
				t.Errorf("message %q", er.Error.Message)
			}
			c.check(t, er)
		})
	}
	if n := up.hits.Load(); n != 3 {
		t.Errorf("upstream hit %d times, want 3 (none for the 422s)", n)
	}
}

func TestIdempotencyInvalidKey(t *testing.T) {
	e, up, _ := newIdemEnv(t, ingress.IdempotencyOptions{})
	cases := []struct {
		name string
		vals []string
	}{
		{"empty", []string{""}},
		{"too long", []string{strings.Repeat("k", 256)}},
		{"tab", []string{"a\tb"}},
		{"not ascii", []string{"clé"}},
		{"twice", []string{"a", "b"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, p := range []struct{ path, body, typ string }{
				{"/v1/chat/completions", resChat("m", false, "hi"), "invalid_request_error"},
				{"/v1/messages", resMessages("m", false, "hi"), "invalid_request_error"},
			} {
				r := e.do(t, p.path, p.body, http.Header{"Idempotency-Key": c.vals})
				if r.status != http.StatusBadRequest {
					t.Fatalf("%s: HTTP %d %s, want 400", p.path, r.status, r.body)
				}
				if er := resParseErr(t, r.body); er.Error.Type != p.typ || !strings.Contains(er.Error.Message, "Idempotency-Key") {
					t.Errorf("%s: %+v", p.path, er.Error)
				}
			}
		})
	}
	if n := up.hits.Load(); n != 0 {
		t.Errorf("upstream hit %d times for invalid keys", n)
	}
	if r := e.do(t, "/v1/chat/completions", resChat("m", false, "hi"), idemHdr(strings.Repeat("k", 255))); r.status != 200 {
		t.Errorf("a 255-character key: HTTP %d %s", r.status, r.body)
	}
}

// A failed first attempt releases the key: the retry runs again.
func TestIdempotencyReleasedOnFailure(t *testing.T) {
	cases := []struct {
		name string
		fail resAction
	}{
		{"5xx", resStatus("openai", http.StatusInternalServerError, "", "boom")},
		{"429", resStatus("openai", http.StatusTooManyRequests, "", "slow down")},
		{"stream cut", resCut("openai")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, up, st := newIdemEnv(t, ingress.IdempotencyOptions{})
			up.set(resAlways(c.fail))
			body := resChat("m", true, "hi")
			first := e.do(t, "/v1/chat/completions", body, idemHdr("k"))
			if first.status == 200 && !strings.Contains(first.body, `"error"`) {
				t.Fatalf("first did not fail: %s", first.body)
			}
			if s := st.state("key_res", "k"); s != "" {
				t.Fatalf("record %q after a failure, want it released", s)
			}
			failedHits := up.hits.Load()
			up.set(resAlways(resOK("openai", "hello from up")))
			second := e.do(t, "/v1/chat/completions", body, idemHdr("k"))
			if second.status != 200 || second.header.Get("Idempotent-Replayed") != "" || up.hits.Load() != failedHits+1 {
				t.Fatalf("retry: HTTP %d replayed %q hits %d: want it run again", second.status, second.header.Get("Idempotent-Replayed"), up.hits.Load())
			}
			third := e.do(t, "/v1/chat/completions", body, idemHdr("k"))
			if third.body != second.body || third.header.Get("Idempotent-Replayed") != "true" {
				t.Errorf("the successful retry is not replayed")
			}
		})
	}
}

// A client that goes away mid-stream releases the key.
func TestIdempotencyReleasedOnClientAbort(t *testing.T) {
	e, up, st := newIdemEnv(t, ingress.IdempotencyOptions{})
	up.set(resSeq(resIdle(), resOK("openai", "hello from up")))
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.url+"/v1/chat/completions", strings.NewReader(resChat("m", true, "hi")))
	req.Header.Set("Authorization", "Bearer "+resKey)
	req.Header.Set("Idempotency-Key", "k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	resp.Body.Read(buf) // the stream has started
	cancel()
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for st.state("key_res", "k") != "" {
		if time.Now().After(deadline) {
			t.Fatalf("record %q after the client left, want it released", st.state("key_res", "k"))
		}
		time.Sleep(5 * time.Millisecond)
	}
	r := e.do(t, "/v1/chat/completions", resChat("m", true, "hi"), idemHdr("k"))
	if r.status != 200 || r.header.Get("Idempotent-Replayed") != "" || up.hits.Load() != 2 {
		t.Errorf("retry after an abort: HTTP %d replayed %q hits %d", r.status, r.header.Get("Idempotent-Replayed"), up.hits.Load())
	}
}

// A 4xx the upstream gave because of the request is stored: the same
// request would get it again.
func TestIdempotencyStoresRequestErrors(t *testing.T) {
	e, up, _ := newIdemEnv(t, ingress.IdempotencyOptions{})
	up.set(resAlways(resStatus("openai", http.StatusBadRequest, "", "max_tokens is too large")))
	first := e.do(t, "/v1/chat/completions", resChat("m", false, "hi"), idemHdr("k"))
	again := e.do(t, "/v1/chat/completions", resChat("m", false, "hi"), idemHdr("k"))
	if first.status != 400 || again.status != 400 || again.body != first.body || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("first HTTP %d %s; again HTTP %d replayed %q %s", first.status, first.body, again.status, again.header.Get("Idempotent-Replayed"), again.body)
	}
	if n := up.hits.Load(); n != 1 {
		t.Errorf("upstream hit %d times, want 1", n)
	}
}

// An answer larger than MaxBytes is not stored (nor truncated): the key is
// released and a retry runs again.
func TestIdempotencyTooLargeReleased(t *testing.T) {
	e, up, st := newIdemEnv(t, ingress.IdempotencyOptions{MaxBytes: 200})
	for _, stream := range []bool{false, true} {
		before := up.hits.Load()
		body := resChat("m", stream, "hi")
		first := e.do(t, "/v1/chat/completions", body, idemHdr("big"))
		if first.status != 200 || len(first.body) <= 200 {
			t.Fatalf("stream %v: HTTP %d, %d bytes; the test wants more than 200", stream, first.status, len(first.body))
		}
		if s := st.state("key_res", "big"); s != "" {
			t.Fatalf("stream %v: record %q, want released", stream, s)
		}
		again := e.do(t, "/v1/chat/completions", body, idemHdr("big"))
		if again.status != 200 || again.header.Get("Idempotent-Replayed") != "" || up.hits.Load() != before+2 {
			t.Errorf("stream %v: replayed %q hits %d", stream, again.header.Get("Idempotent-Replayed"), up.hits.Load()-before)
		}
	}
}

// Without a store the header is ignored.
func TestIdempotencyOff(t *testing.T) {
	e := newResEnv(t)
	up := e.upstream("up", "openai")
	e.start(resConfig{}, &gateway.Model{Name: "m", Routes: []*gateway.Route{up.route()}})
	for range 2 {
		if r := e.do(t, "/v1/chat/completions", resChat("m", false, "hi"), idemHdr("")); r.status != 200 || r.header.Get("Idempotent-Replayed") != "" {
			t.Errorf("HTTP %d replayed %q", r.status, r.header.Get("Idempotent-Replayed"))
		}
	}
	if up.hits.Load() != 2 {
		t.Errorf("hits %d, want 2", up.hits.Load())
	}
}
