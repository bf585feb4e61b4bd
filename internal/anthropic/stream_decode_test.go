package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/rickyjim626/xjp/internal/llm"
)

func streamFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "stream", "*.sse"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no stream fixtures: %v", err)
	}
	return files
}

func TestMessagesStreamDecoderGolden(t *testing.T) {
	for _, path := range streamFiles(t) {
		name := strings.TrimSuffix(filepath.Base(path), ".sse")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got := dumpEvents(NewMessagesStreamDecoder(io.NopCloser(bytes.NewReader(data)), "up"))
			golden(t, "stream/"+name+".golden", got)

			// Real servers split events across reads: one byte at a time
			// must give the same events.
			oneByte := dumpEvents(NewMessagesStreamDecoder(io.NopCloser(iotest.OneByteReader(bytes.NewReader(data))), "up"))
			if !bytes.Equal(oneByte, got) {
				t.Errorf("one byte per read differs:\n%s\nwant:\n%s", oneByte, got)
			}
		})
	}
}

func TestMessagesStreamDecoderFolds(t *testing.T) {
	s := NewMessagesStreamDecoder(io.NopCloser(bytes.NewReader(readTestdata(t, "stream/parallel_tools.sse"))), "up")
	resp, err := llm.Collect(s)
	if err != nil {
		t.Fatal(err)
	}
	calls := resp.ToolCalls()
	if len(calls) != 2 || calls[0].Arguments != `{"city": "Paris"}` || calls[1].Arguments != `{"city": "Lyon"}` || calls[1].ID != "toolu_B" {
		t.Fatalf("tool calls = %+v", calls)
	}
	if resp.FinishReason != llm.FinishToolCalls || resp.Usage.InputTokens != 600 || resp.Usage.OutputTokens != 70 {
		t.Errorf("resp = %+v", resp)
	}

	s = NewMessagesStreamDecoder(io.NopCloser(bytes.NewReader(readTestdata(t, "stream/thinking.sse"))), "up")
	resp, err = llm.Collect(s)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content[0].Signature == "" || resp.Content[1].Data == "" || resp.Usage.ReasoningTokens != 80 {
		t.Errorf("thinking not folded: %+v", resp)
	}
}

func TestMessagesStreamDecoderErrors(t *testing.T) {
	tests := []struct {
		file string
		kind llm.Kind
		typ  string
	}{
		{"stream/overloaded.sse", llm.KindProviderOverloaded, "overloaded_error"},
		{"stream/truncated.sse", llm.KindProviderServer, ""},
		{"stream/malformed.sse", llm.KindProviderServer, ""},
	}
	for _, tt := range tests {
		s := NewMessagesStreamDecoder(io.NopCloser(bytes.NewReader(readTestdata(t, tt.file))), "up")
		for s.Next() {
		}
		var e *llm.Error
		if !errors.As(s.Err(), &e) || e.Kind != tt.kind || e.UpstreamType != tt.typ || e.Provider != "up" {
			t.Errorf("%s: err = %#v", tt.file, s.Err())
		}
	}
	for typ, kind := range map[string]llm.Kind{
		"overloaded_error": llm.KindProviderOverloaded, "rate_limit_error": llm.KindProviderRateLimited,
		"api_error": llm.KindProviderServer, "timeout_error": llm.KindProviderTimeout,
		"authentication_error": llm.KindProviderAuth, "billing_error": llm.KindProviderAuth,
		"permission_error": llm.KindProviderAuth, "invalid_request_error": llm.KindCallerInvalid,
		"something_new": llm.KindProviderServer,
	} {
		body := `event: error` + "\n" + `data: {"type":"error","error":{"type":"` + typ + `","message":"boom"}}` + "\n\n"
		s := NewMessagesStreamDecoder(io.NopCloser(strings.NewReader(body)), "up")
		if s.Next() {
			t.Errorf("%s: an event before the error", typ)
		}
		e := llm.AsError(s.Err())
		if e == nil || e.Kind != kind || e.UpstreamType != typ || !strings.Contains(e.Message, "boom") {
			t.Errorf("%s: err = %#v", typ, e)
		}
	}
}

func TestMessagesStreamDecoderReadError(t *testing.T) {
	data := readTestdata(t, "stream/text.sse")
	r := iotest.TimeoutReader(bytes.NewReader(data[:200]))
	s := NewMessagesStreamDecoder(io.NopCloser(r), "up")
	for s.Next() {
	}
	if e := llm.AsError(s.Err()); e == nil || !e.Kind.Retryable() {
		t.Errorf("err = %#v", s.Err())
	}
}

func TestMessagesStreamDecoderCloseDuringNext(t *testing.T) {
	pr, pw := io.Pipe()
	s := NewMessagesStreamDecoder(pr, "up")
	go func() {
		pw.Write([]byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":1}}}\n\n"))
		// then nothing: the upstream stalls
	}()
	if !s.Next() || s.Event().Type != llm.EventStart {
		t.Fatal("no start event")
	}
	done := make(chan bool)
	go func() { done <- s.Next() }()
	time.Sleep(20 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case more := <-done:
		if more {
			t.Error("Next returned true after Close")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Next did not return after Close")
	}
	if s.Err() != nil {
		t.Errorf("Err after Close = %v", s.Err())
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestUnescapeMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{`plain`, `a\"b\\c\/d`, `\n\r\t\b\f`, `\u00e9\u4e2d`, `\ud83d\ude00`, `\ud83d`, `\ud83dx`, `\udc00\ud83d\ude00`} {
		var want string
		if err := json.Unmarshal([]byte(`"`+s+`"`), &want); err != nil {
			t.Fatal(err)
		}
		var d messagesStreamDecoder
		got, ok := d.unquote([]byte(`"` + s + `"`))
		if !ok || got != want {
			t.Errorf("unquote(%s) = %q, %v; want %q", s, got, ok, want)
		}
	}
}
