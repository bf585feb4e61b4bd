package sse

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

type got struct {
	event, data, id string
}

func readAll(t *testing.T, r io.Reader) ([]got, error) {
	t.Helper()
	sr := NewReader(r)
	var out []got
	for sr.Next() {
		ev := sr.Event()
		out = append(out, got{ev.Event, string(ev.Data), ev.ID})
	}
	return out, sr.Err()
}

func TestReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []got
	}{
		{"one event", "data: hello\n\n", []got{{"", "hello", ""}}},
		{"event type", "event: message_start\ndata: {}\n\n", []got{{"message_start", "{}", ""}}},
		{"no space after colon", "data:x\n\n", []got{{"", "x", ""}}},
		{"only first space stripped", "data:  x\n\n", []got{{"", " x", ""}}},
		{"multi-line data", "data: a\ndata: b\n\n", []got{{"", "a\nb", ""}}},
		{"comments skipped", ": OPENROUTER PROCESSING\n\ndata: 1\n\n: ping\n\ndata: 2\n\n", []got{{"", "1", ""}, {"", "2", ""}}},
		{"crlf framing", "data: a\r\n\r\ndata: b\r\n\r\n", []got{{"", "a", ""}, {"", "b", ""}}},
		{"cr framing", "data: a\r\rdata: b\r\r\n", []got{{"", "a", ""}, {"", "b", ""}}},
		{"unterminated last event", "data: a\n\ndata: b", []got{{"", "a", ""}, {"", "b", ""}}},
		{"event without data not dispatched", "event: ping\n\ndata: x\n\n", []got{{"", "x", ""}}},
		{"event type resets", "event: a\ndata: 1\n\ndata: 2\n\n", []got{{"a", "1", ""}, {"", "2", ""}}},
		{"id kept", "id: 7\ndata: x\n\n", []got{{"", "x", "7"}}},
		{"unknown fields ignored", "retry: 10\nfoo: bar\ndata: x\n\n", []got{{"", "x", ""}}},
		{"empty data line", "data:\n\n", []got{{"", "", ""}}},
		{"blank lines between", "\n\n\ndata: x\n\n\n\n", []got{{"", "x", ""}}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, mode := range []string{"whole", "one byte", "half"} {
				var r io.Reader = strings.NewReader(tt.in)
				switch mode {
				case "one byte":
					r = iotest.OneByteReader(r)
				case "half":
					r = iotest.HalfReader(r)
				}
				evs, err := readAll(t, r)
				if err != nil {
					t.Fatalf("%s: err = %v", mode, err)
				}
				if len(evs) != len(tt.want) {
					t.Fatalf("%s: got %d events %q, want %q", mode, len(evs), evs, tt.want)
				}
				for i := range evs {
					if evs[i] != tt.want[i] {
						t.Errorf("%s: event %d = %q, want %q", mode, i, evs[i], tt.want[i])
					}
				}
			}
		})
	}
}

func TestReaderLargeEvent(t *testing.T) {
	big := strings.Repeat("x", 100_000) // larger than the bufio buffer
	evs, err := readAll(t, strings.NewReader("data: "+big+"\n\ndata: y\n\n"))
	if err != nil || len(evs) != 2 || evs[0].data != big || evs[1].data != "y" {
		t.Fatalf("got %d events, err %v", len(evs), err)
	}

	r := NewReader(strings.NewReader("data: " + big + "\n\n"))
	r.SetMaxEventSize(1000)
	if r.Next() {
		t.Fatal("Next() = true for an event over the limit")
	}
	if !errors.Is(r.Err(), ErrTooLarge) {
		t.Fatalf("Err() = %v, want ErrTooLarge", r.Err())
	}
}

func TestReaderError(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(boom)))
	if !r.Next() || string(r.Event().Data) != "a" {
		t.Fatal("first event missing")
	}
	if r.Next() {
		t.Fatalf("Next() = true after a read error, data %q", r.Event().Data)
	}
	if !errors.Is(r.Err(), boom) {
		t.Fatalf("Err() = %v", r.Err())
	}
}

func TestAppend(t *testing.T) {
	tests := []struct {
		ev   Event
		want string
	}{
		{Event{Data: []byte("{}")}, "data: {}\n\n"},
		{Event{Event: "ping", Data: []byte(`{"type":"ping"}`)}, "event: ping\ndata: {\"type\":\"ping\"}\n\n"},
		{Event{Data: []byte("a\nb")}, "data: a\ndata: b\n\n"},
		{Event{ID: "1", Data: []byte("x")}, "id: 1\ndata: x\n\n"},
	}
	for _, tt := range tests {
		if got := string(Append(nil, tt.ev)); got != tt.want {
			t.Errorf("Append(%+v) = %q, want %q", tt.ev, got, tt.want)
		}
		// Round trip through the reader.
		evs, err := readAll(t, strings.NewReader(tt.want))
		if err != nil || len(evs) != 1 || evs[0].data != string(tt.ev.Data) || evs[0].event != tt.ev.Event {
			t.Errorf("round trip of %q: %q, %v", tt.want, evs, err)
		}
	}
}

func TestWriterFlushes(t *testing.T) {
	rec := httptest.NewRecorder()
	w := NewWriter(rec)
	SetHeaders(rec.Header())
	if err := w.Write(Event{Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if !rec.Flushed {
		t.Error("not flushed")
	}
	if !w.Wrote || w.Bytes != int64(len("data: x\n\n")) {
		t.Errorf("Wrote %v Bytes %d", w.Wrote, w.Bytes)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("content type %q", ct)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"", 0, false},
		{"2", 2 * time.Second, false},
		{"0.5", 500 * time.Millisecond, false},
		{now.Add(3 * time.Second).Format(http.TimeFormat), 3 * time.Second, false},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, false},
		{"-1", 0, true},
		{"soon", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseRetryAfter(tt.in, now)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("data: a\n\nevent: x\ndata: b\r\n\r\n: c\n\ndata: d"))
	f.Add([]byte("data:\r\r\ndata"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(strings.NewReader(string(b)))
		n := 0
		for r.Next() {
			n++
			if n > len(b)+1 {
				t.Fatal("more events than input bytes")
			}
		}
	})
}

func BenchmarkReader(b *testing.B) {
	chunk := `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"hello "},"finish_reason":null}]}` + "\n\n"
	body := strings.Repeat(chunk, 100)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r := NewReader(strings.NewReader(body))
		for r.Next() {
		}
	}
}

func TestReaderReady(t *testing.T) {
	tests := []struct {
		in   string
		want []bool // Ready after each Next that returned true
	}{
		{"data: a\n\ndata: b\n\n", []bool{true, false}},
		{"data: a\r\n\r\ndata: b\r\n\r\n", []bool{true, false}},
		{"data: a\n\ndata: b", []bool{false, true}}, // a partial event is not ready; at EOF the stream is over
		{": comment\n\ndata: a\n\n", []bool{false}},
	}
	for _, tt := range tests {
		r := NewReader(strings.NewReader(tt.in))
		var got []bool
		for r.Next() {
			got = append(got, r.Ready())
		}
		if len(got) != len(tt.want) {
			t.Fatalf("%q: %d events, want %d", tt.in, len(got), len(tt.want))
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%q: Ready after event %d = %v, want %v", tt.in, i, got[i], tt.want[i])
			}
		}
	}
}
