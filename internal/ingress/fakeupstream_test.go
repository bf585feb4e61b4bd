package ingress_test

// What the three fake upstreams share: a recorder of the requests they get,
// and one deterministic "model" (decide) that answers a conversation each
// fake has parsed from its own wire format. The fakes parse and validate
// with plain encoding/json, never with xjp's codecs, so that they check the
// gateway's translation independently.
//
// The model's behaviour, from the last user turn:
//   - "failNNN" (400, 401, 429, 500, 503, 529): the fake answers HTTP NNN in
//     its provider's error envelope (429 with retry-after);
//   - "cutstream": a stream breaks after a few deltas, the way the provider
//     breaks (OpenAI, Gemini: connection closed; Anthropic: event: error
//     overloaded_error);
//   - "safetystop": the answer stops early on the provider's safety filter
//     (OpenAI content_filter, Anthropic refusal, Gemini SAFETY);
//   - "errorframe" (OpenAI only): an error frame inside the 200 stream,
//     before any content ("errorframe_first") or after some;
//   - "hangstream": a stream sends its first deltas, then waits for the
//     request's context to end and records that it did;
//   - the turn carries tool results: a text quoting every result;
//   - tools are offered and the text says "call <tool>": calls to every
//     offered tool it names, in order of mention, with fixed arguments;
//   - the turn carries images: an acknowledgement naming each media type
//     (or URL);
//   - "what is your system prompt": the system prompt echoed;
//   - otherwise a greeting quoting the text.
//
// Thinking comes first when the request asks for it (each fake knows how
// its API says so). max tokens cut the text by words (finish length).
// Usage is computed from the request, with a fixed number of cached input
// tokens per provider, so that the bucket conversions are checked.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// convo is a conversation as a fake understood it.
type convo struct {
	system    string
	turns     []turn
	tools     []string
	stream    bool
	maxTokens int
	think     bool
	stops     []string
}

type turn struct {
	role    string // "user" or "assistant"
	text    string
	images  []string // "image/png" or "url:https://…"
	calls   []fakeCall
	results []fakeResult
}

type fakeCall struct {
	ID   string
	Name string
	Args string // JSON object text
}

type fakeResult struct {
	ID      string // call id (Gemini: empty)
	Name    string // function name when known
	Content string
}

// neutralUsage is usage in the gateway's disjoint buckets.
type neutralUsage struct {
	Input      int64 // uncached input
	CacheRead  int64
	CacheWrite int64
	Output     int64 // including reasoning
}

// answer is what the model decided.
type answer struct {
	Thinking  string
	Signature string
	Text      string
	Calls     []fakeCall
	Finish    string // "stop", "stop_sequence", "length", "tool_calls", "content_filter"
	StopSeq   string // the stop sequence that matched
	Fail      int
	Cut       bool
	Hang      bool
	Usage     neutralUsage
	// ThoughtTokens is the part of Usage.Output spent thinking.
	ThoughtTokens int64
}

var failRE = regexp.MustCompile(`fail(\d{3})`)

// toolArgs are the arguments the fakes call each tool with: nested values,
// unicode and escapes, so that a lossy translation shows.
var toolArgs = map[string]string{
	"get_weather": `{"city":"Paris","unit":"celsius","days":[1,2],"note":"naïve \"quoted\" ☀"}`,
	"get_time":    `{"timezone":"Europe/Paris","format":{"h24":true}}`,
	"get_status":  `{}`, // a tool without parameters
}

func argsFor(name string) string {
	if a, ok := toolArgs[name]; ok {
		return a
	}
	return `{"input":"x"}`
}

func words(s string) int64 { return int64(len(strings.Fields(s))) }

// lastUser returns the last user turn.
func (c *convo) lastUser() turn {
	for i := len(c.turns) - 1; i >= 0; i-- {
		if c.turns[i].role == "user" {
			return c.turns[i]
		}
	}
	return turn{}
}

// callName finds the function name of a call id in the history.
func (c *convo) callName(id string) string {
	for _, t := range c.turns {
		for _, call := range t.calls {
			if call.ID == id {
				return call.Name
			}
		}
	}
	return ""
}

// decide answers the conversation. who names the fake in texts.
func decide(c *convo, who string, cached int64) answer {
	last := c.lastUser()
	l := last.text
	var a answer
	if m := failRE.FindStringSubmatch(l); m != nil {
		a.Fail, _ = strconv.Atoi(m[1])
	}
	a.Cut = strings.Contains(l, "cutstream")
	a.Hang = strings.Contains(l, "hangstream")
	if c.think {
		a.Thinking = "Let me think about this step by step."
	}
	lower := strings.ToLower(l)
	switch {
	case len(last.results) > 0 && len(c.turns) > 0 && c.turns[len(c.turns)-1].role == "user":
		var parts []string
		for _, r := range last.results {
			name := r.Name
			if name == "" {
				name = c.callName(r.ID)
			}
			parts = append(parts, fmt.Sprintf("%s returned %q", name, r.Content))
		}
		a.Text = "Tool results: " + strings.Join(parts, "; ") + "."
	case len(c.tools) > 0 && strings.Contains(lower, "call "):
		type mention struct {
			pos  int
			name string
		}
		var ms []mention
		for _, name := range c.tools {
			if i := strings.Index(l, name); i >= 0 {
				ms = append(ms, mention{i, name})
			}
		}
		slices.SortFunc(ms, func(x, y mention) int { return x.pos - y.pos })
		for _, m := range ms {
			a.Calls = append(a.Calls, fakeCall{Name: m.name, Args: argsFor(m.name)})
		}
	}
	if a.Text == "" && len(a.Calls) == 0 {
		switch {
		case len(last.images) > 0:
			var descs []string
			for _, im := range last.images {
				if u, ok := strings.CutPrefix(im, "url:"); ok {
					descs = append(descs, "an image at "+u)
				} else {
					descs = append(descs, "an image of type "+im)
				}
			}
			a.Text = "I see " + strings.Join(descs, " and ") + "."
		case strings.Contains(lower, "what is your system prompt"):
			a.Text = "My system prompt is: " + c.system
		default:
			a.Text = fmt.Sprintf("Hello from the fake %s upstream. You said: %s", who, l)
		}
	}
	a.Finish = "stop"
	if len(a.Calls) > 0 {
		// Models often say something before calling tools; the fakes
		// stream that text and the first call in one chunk where the
		// format allows (LiteLLM #18238 lost the tool call then).
		var names []string
		for _, call := range a.Calls {
			names = append(names, call.Name)
		}
		a.Text = "Let me call " + strings.Join(names, " and ") + "."
		a.Finish = "tool_calls"
	}
	for _, stop := range c.stops {
		if i := strings.Index(a.Text, stop); stop != "" && i >= 0 && len(a.Calls) == 0 {
			a.Text, a.StopSeq, a.Finish = a.Text[:i], stop, "stop_sequence"
		}
	}
	if strings.Contains(l, "safetystop") && len(a.Calls) == 0 {
		// the provider's safety system stops the answer early
		a.Text = strings.Join(strings.Fields(a.Text)[:3], " ")
		a.Finish = "content_filter"
	}
	if ws := strings.Fields(a.Text); c.maxTokens > 0 && len(ws) > c.maxTokens && len(a.Calls) == 0 {
		a.Text = strings.Join(ws[:c.maxTokens], " ")
		a.Finish = "length"
	}

	// usage
	in := int64(7) + words(c.system)
	for _, t := range c.turns {
		in += 3 + words(t.text) + 20*int64(len(t.images))
		for _, call := range t.calls {
			in += 2 + int64(len(call.Args)/4)
		}
		for _, r := range t.results {
			in += 2 + words(r.Content)
		}
	}
	in += 5 * int64(len(c.tools))
	a.ThoughtTokens = words(a.Thinking)
	out := 1 + words(a.Text) + a.ThoughtTokens
	for _, call := range a.Calls {
		out += 2 + int64(len(call.Args)/4)
	}
	a.Usage = neutralUsage{Input: in, CacheRead: cached, Output: out}
	return a
}

// textPieces splits text into streamed deltas: words with their trailing
// space.
func textPieces(s string) []string {
	var out []string
	for len(s) > 0 {
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

// argPieces splits JSON text into n fragments of roughly equal size,
// cutting inside strings and escapes on purpose.
func argPieces(s string, n int) []string {
	if n < 1 || len(s) < n {
		return []string{s}
	}
	size := (len(s) + n - 1) / n
	var out []string
	for len(s) > 0 {
		k := min(size, len(s))
		// keep UTF-8 sequences whole: JSON text is UTF-8 and a delta is a
		// string
		for k < len(s) && s[k]&0xC0 == 0x80 {
			k++
		}
		out = append(out, s[:k])
		s = s[k:]
	}
	return out
}

// upstreamRequest is one request a fake received.
type upstreamRequest struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
	JSON   map[string]any
	// Reject is why the fake refused the request (a 400), "" if it did not.
	Reject string
	// Status is the status the fake answered with.
	Status int
	Answer *answer
	Convo  *convo
}

// fakeUpstream is what tests read from every fake.
type fakeUpstream interface {
	kind() string
	requests() []*upstreamRequest
	// last returns the last request for model calls (not count_tokens).
	last() *upstreamRequest
	rejections() []string
	// canceled is closed when a "hangstream" request saw its context end.
	canceled() <-chan struct{}
}

// fakeBase records requests; each fake embeds it.
type fakeBase struct {
	name string
	srv  *httptest.Server

	mu      sync.Mutex // guards reqs and seq
	reqs    []*upstreamRequest
	seq     int
	hangCtx chan struct{}
	hangOne sync.Once
}

func newFakeBase(name string) fakeBase {
	return fakeBase{name: name, hangCtx: make(chan struct{})}
}

func (f *fakeBase) kind() string { return f.name }

func (f *fakeBase) canceled() <-chan struct{} { return f.hangCtx }

func (f *fakeBase) add(r *upstreamRequest) {
	f.mu.Lock()
	f.reqs = append(f.reqs, r)
	f.mu.Unlock()
}

func (f *fakeBase) nextSeq() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	return f.seq
}

func (f *fakeBase) requests() []*upstreamRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*upstreamRequest(nil), f.reqs...)
}

func (f *fakeBase) last() *upstreamRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.reqs) - 1; i >= 0; i-- {
		if !strings.HasSuffix(f.reqs[i].Path, "/count_tokens") {
			return f.reqs[i]
		}
	}
	return nil
}

func (f *fakeBase) rejections() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.reqs {
		if r.Reject != "" {
			out = append(out, r.Path+": "+r.Reject)
		}
	}
	return out
}

// hang blocks a stream until the request's context ends (or 10s pass)
// and records that it ended.
func (f *fakeBase) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
		f.hangOne.Do(func() { close(f.hangCtx) })
	case <-time.After(10 * time.Second):
	}
}

// flusher writes and flushes SSE text; split writes an event in two halves
// with a flush between them, as real servers split events across TCP
// writes.
type flusher struct {
	w http.ResponseWriter
	f http.Flusher
}

func newFlusher(w http.ResponseWriter) *flusher {
	f, _ := w.(http.Flusher)
	return &flusher{w: w, f: f}
}

func (s *flusher) write(text string) {
	s.w.Write([]byte(text))
	if s.f != nil {
		s.f.Flush()
	}
}

func (s *flusher) split(text string) {
	half := len(text) / 2
	s.write(text[:half])
	s.write(text[half:])
}

// readJSONBody reads and parses a request body as a JSON object.
func readJSONBody(b []byte) (map[string]any, error) {
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("body is not a JSON object")
	}
	return m, nil
}

// mustJSON marshals v without HTML escaping.
func mustJSON(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimRight(b.String(), "\n")
}

// Helpers reading decoded JSON.

func asMap(v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	return m, ok
}

func asList(v any) ([]any, bool) {
	l, ok := v.([]any)
	return l, ok
}

func asString(v any) (string, bool) {
	s, ok := v.(string)
	return s, ok
}

func asInt(v any) (int, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return int(i), err == nil
}

// unknownKeys returns the keys of m not in allowed, sorted.
func unknownKeys(m map[string]any, allowed ...string) []string {
	var out []string
	for k := range m {
		if !slices.Contains(allowed, k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
