package ingress_test

// The Gemini-native driver: conversations through google.golang.org/genai
// (Backend GeminiAPI, the xjp key as APIKey, HTTPOptions.BaseURL the
// gateway), Models.GenerateContent and Models.GenerateContentStream (which
// asks for alt=sse). A send records the model turn the client assembled,
// the finish reason, the usage metadata and, for streams, the chunk-level
// facts gemini-cli depends on (one finish reason, on the last chunk, with
// the usage; function calls whole). The model turn is replayed into the
// next request as the SDK user would, optionally without the function call
// ids (the Gemini API has none: results are then paired by name and
// position).

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"google.golang.org/genai"
)

// gemCall is a function call as the Gemini client saw it.
type gemCall struct {
	id   string
	name string
	args string // JSON text of args
}

// gemResult is what the Gemini client saw of one request.
type gemResult struct {
	reqID        string
	text         string
	thought      string
	calls        []gemCall
	finish       genai.FinishReason
	usage        *genai.GenerateContentResponseUsageMetadata
	modelVersion string
	responseID   string
	content      *genai.Content // the model turn, for replay

	streamed bool
	chunks   int
	problems []string

	err        error
	errCode    int
	errStatus  string
	errMessage string
	errDetails []map[string]any
}

func (r *gemResult) ok() bool { return r.err == nil }

// gemUsage is usage metadata as neutral numbers (zero when absent).
type gemUsage struct {
	Prompt, Cached, Candidates, Thoughts, Total int64
}

func (r *gemResult) usageNumbers() gemUsage {
	if r.usage == nil {
		return gemUsage{}
	}
	u := r.usage
	return gemUsage{int64(u.PromptTokenCount), int64(u.CachedContentTokenCount), int64(u.CandidatesTokenCount), int64(u.ThoughtsTokenCount), int64(u.TotalTokenCount)}
}

// geminiSession is one conversation through the genai client.
type geminiSession struct {
	h        *harness
	c        *genai.Client
	model    string
	system   string
	contents []*genai.Content
	// byName replays function calls and sends results without ids.
	byName bool
}

func newGeminiSession(t *testing.T, h *harness, model, key string) *geminiSession {
	t.Helper()
	c, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		Backend: genai.BackendGeminiAPI, APIKey: key,
		HTTPOptions: genai.HTTPOptions{BaseURL: h.url},
		HTTPClient:  &http.Client{Timeout: 30 * time.Second},
	})
	if err != nil {
		t.Fatalf("genai.NewClient: %v", err)
	}
	return &geminiSession{h: h, c: c, model: model}
}

func (s *geminiSession) addUser(text string, imgs ...image) {
	var parts []*genai.Part
	for _, im := range imgs {
		if im.url != "" {
			parts = append(parts, genai.NewPartFromURI(im.url, im.mediaType))
			continue
		}
		data, err := base64.StdEncoding.DecodeString(im.data)
		if err != nil {
			panic(err)
		}
		parts = append(parts, genai.NewPartFromBytes(data, im.mediaType))
	}
	parts = append(parts, genai.NewPartFromText(text))
	s.contents = append(s.contents, &genai.Content{Role: genai.RoleUser, Parts: parts})
}

// gemToolResult answers a function call: by name (and id unless byName),
// with response {"output": content}, or obj when set.
type gemToolResult struct {
	id, name string
	content  string
	obj      map[string]any
}

func (s *geminiSession) addResults(rs ...gemToolResult) {
	var parts []*genai.Part
	for _, r := range rs {
		resp := r.obj
		if resp == nil {
			resp = map[string]any{"output": r.content}
		}
		p := genai.NewPartFromFunctionResponse(r.name, resp)
		if !s.byName {
			p.FunctionResponse.ID = r.id
		}
		parts = append(parts, p)
	}
	s.contents = append(s.contents, &genai.Content{Role: genai.RoleUser, Parts: parts})
}

// replay appends the model turn to the history.
func (s *geminiSession) replay(c *genai.Content) {
	if c == nil {
		return
	}
	turn := &genai.Content{Role: genai.RoleModel}
	for _, p := range c.Parts {
		q := *p
		if q.FunctionCall != nil && s.byName {
			fc := *q.FunctionCall
			fc.ID = ""
			q.FunctionCall = &fc
		}
		turn.Parts = append(turn.Parts, &q)
	}
	s.contents = append(s.contents, turn)
}

type gemOpts struct {
	stream    bool
	maxTokens int32
	tools     []toolDef
	// jsonSchema declares tools with parametersJsonSchema instead of
	// Google's Schema.
	jsonSchema bool
	// think asks for thoughts (includeThoughts, a budget of 1024).
	think bool
}

// genaiSchema converts the JSON Schema of a toolDef to Google's Schema.
func genaiSchema(s map[string]any) *genai.Schema {
	out := &genai.Schema{}
	switch s["type"] {
	case "object":
		out.Type = genai.TypeObject
	case "string":
		out.Type = genai.TypeString
	case "integer":
		out.Type = genai.TypeInteger
	case "number":
		out.Type = genai.TypeNumber
	case "boolean":
		out.Type = genai.TypeBoolean
	case "array":
		out.Type = genai.TypeArray
	}
	if d, ok := s["description"].(string); ok {
		out.Description = d
	}
	if e, ok := s["enum"].([]any); ok {
		for _, v := range e {
			out.Enum = append(out.Enum, fmt.Sprint(v))
		}
	}
	if props, ok := s["properties"].(map[string]any); ok && len(props) > 0 {
		out.Properties = map[string]*genai.Schema{}
		for k, v := range props {
			out.Properties[k] = genaiSchema(v.(map[string]any))
		}
	}
	if req, ok := s["required"].([]string); ok {
		out.Required = req
	}
	if it, ok := s["items"].(map[string]any); ok {
		out.Items = genaiSchema(it)
	}
	return out
}

func (s *geminiSession) config(reqID string, o gemOpts) *genai.GenerateContentConfig {
	cfg := &genai.GenerateContentConfig{
		HTTPOptions: &genai.HTTPOptions{Headers: http.Header{"X-Request-Id": []string{reqID}}},
	}
	if s.system != "" {
		cfg.SystemInstruction = genai.NewContentFromText(s.system, genai.RoleUser)
	}
	if o.maxTokens > 0 {
		cfg.MaxOutputTokens = o.maxTokens
	}
	if o.think {
		budget := int32(1024)
		cfg.ThinkingConfig = &genai.ThinkingConfig{IncludeThoughts: true, ThinkingBudget: &budget}
	}
	if len(o.tools) > 0 {
		var decls []*genai.FunctionDeclaration
		for _, td := range o.tools {
			fd := &genai.FunctionDeclaration{Name: td.name, Description: td.desc}
			if o.jsonSchema {
				fd.ParametersJsonSchema = td.schema()
			} else if len(td.props) > 0 {
				fd.Parameters = genaiSchema(td.schema())
			}
			decls = append(decls, fd)
		}
		cfg.Tools = []*genai.Tool{{FunctionDeclarations: decls}}
	}
	return cfg
}

func (s *geminiSession) send(t *testing.T, o gemOpts) *gemResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := &gemResult{reqID: s.h.newRequestID(), streamed: o.stream}
	cfg := s.config(r.reqID, o)
	contents := append([]*genai.Content(nil), s.contents...)
	turn := &genai.Content{Role: genai.RoleModel}
	if !o.stream {
		resp, err := s.c.Models.GenerateContent(ctx, s.model, contents, cfg)
		if err != nil {
			r.fillError(err)
			return r
		}
		r.chunks = 1
		r.chunk(resp, turn, true)
	} else {
		var last *genai.GenerateContentResponse
		finishes := 0
		for resp, err := range s.c.Models.GenerateContentStream(ctx, s.model, contents, cfg) {
			if err != nil {
				r.fillError(err)
				break
			}
			r.chunks++
			if finishes > 0 {
				r.problems = append(r.problems, fmt.Sprintf("chunk %d comes after the chunk with the finish reason", r.chunks))
			}
			if len(resp.Candidates) > 0 && resp.Candidates[0].FinishReason != "" {
				finishes++
			}
			if resp.UsageMetadata != nil && (len(resp.Candidates) == 0 || resp.Candidates[0].FinishReason == "") && resp.UsageMetadata.CandidatesTokenCount > 0 {
				r.problems = append(r.problems, fmt.Sprintf("chunk %d carries output usage before the last chunk", r.chunks))
			}
			r.chunk(resp, turn, false)
			last = resp
		}
		if r.err == nil {
			if finishes != 1 {
				r.problems = append(r.problems, fmt.Sprintf("%d chunks carried a finish reason, want exactly one (the last)", finishes))
			}
			if last == nil || last.UsageMetadata == nil {
				r.problems = append(r.problems, "the last chunk has no usageMetadata")
			}
		}
	}
	if len(turn.Parts) > 0 {
		r.content = turn
	}
	if r.err == nil {
		s.replay(r.content)
	}
	return r
}

// chunk folds one response (or stream chunk) into the result and the turn.
func (r *gemResult) chunk(resp *genai.GenerateContentResponse, turn *genai.Content, whole bool) {
	if resp.ModelVersion != "" {
		r.modelVersion = resp.ModelVersion
	}
	if resp.ResponseID != "" {
		r.responseID = resp.ResponseID
	}
	if resp.UsageMetadata != nil {
		r.usage = resp.UsageMetadata
	}
	if len(resp.Candidates) == 0 {
		if whole {
			r.problems = append(r.problems, "no candidates")
		}
		return
	}
	cand := resp.Candidates[0]
	if cand.FinishReason != "" {
		r.finish = cand.FinishReason
	}
	if cand.Content == nil {
		return
	}
	if cand.Content.Role != genai.RoleModel {
		r.problems = append(r.problems, fmt.Sprintf("content role %q, want model", cand.Content.Role))
	}
	for _, p := range cand.Content.Parts {
		switch {
		case p.FunctionCall != nil:
			args, _ := json.Marshal(p.FunctionCall.Args)
			if p.FunctionCall.Args == nil {
				args = []byte("{}")
			}
			r.calls = append(r.calls, gemCall{id: p.FunctionCall.ID, name: p.FunctionCall.Name, args: string(args)})
		case p.Thought:
			r.thought += p.Text
		default:
			r.text += p.Text
		}
		// Text parts of a stream are merged as the SDK user does; other
		// parts are kept whole.
		if n := len(turn.Parts); n > 0 && p.Text != "" && !p.Thought && p.FunctionCall == nil &&
			turn.Parts[n-1].Text != "" && !turn.Parts[n-1].Thought && turn.Parts[n-1].FunctionCall == nil {
			turn.Parts[n-1].Text += p.Text
			continue
		}
		q := *p
		turn.Parts = append(turn.Parts, &q)
	}
}

func (r *gemResult) fillError(err error) {
	r.err = err
	var apiErr genai.APIError
	if errors.As(err, &apiErr) {
		r.errCode, r.errStatus, r.errMessage, r.errDetails = apiErr.Code, apiErr.Status, apiErr.Message, apiErr.Details
		return
	}
	r.errMessage = err.Error()
}
