// Package sse reads and writes text/event-stream (Server-Sent Events) as the
// WHATWG HTML standard defines it: lines ended by LF, CRLF or CR, "field:
// value" lines, ":" comments, events dispatched on a blank line.
//
// The Reader is built for proxying: it never assumes one read is one event
// (real servers split events across TCP writes), accepts CRLF framing
// (Gemini), skips comments (OpenRouter's ": OPENROUTER PROCESSING"), grows its
// buffer for large events, and, unlike a strict parser, dispatches a final
// event that the upstream did not end with a blank line.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Event is one dispatched event.
type Event struct {
	// Event is the event type ("" when the stream sent no event: line).
	Event string
	// Data is the data lines joined with "\n".
	Data []byte
	// ID is the last event id seen, if any.
	ID string
}

// DefaultMaxEventSize bounds one event (16 MiB: inline images in model
// output can be large).
const DefaultMaxEventSize = 16 << 20

// ErrTooLarge is returned when an event exceeds the reader's limit.
var ErrTooLarge = errors.New("sse: event too large")

// Reader reads events from a stream. Use it like bufio.Scanner:
//
//	r := sse.NewReader(body)
//	for r.Next() {
//		ev := r.Event()
//	}
//	if err := r.Err(); err != nil { … }
//
// The Data of an Event is valid only until the next call to Next.
type Reader struct {
	br      *bufio.Reader
	max     int
	ev      Event
	data    []byte
	line    []byte
	pending [][]byte
	hasData bool
	err     error
	done    bool
}

// NewReader returns a Reader over r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 4<<10), max: DefaultMaxEventSize}
}

// SetMaxEventSize changes the largest event accepted.
func (r *Reader) SetMaxEventSize(n int) { r.max = n }

// Next advances to the next event. It returns false at the end of the
// stream or on an error (see Err).
func (r *Reader) Next() bool {
	if r.done {
		return false
	}
	r.data = r.data[:0]
	r.hasData = false
	r.ev.Event = ""
	for {
		line, err := r.readLine()
		if err != nil {
			r.done = true
			if err == io.EOF {
				if r.hasData { // lenient: dispatch an unterminated last event
					r.ev.Data = r.data
					return true
				}
				return false
			}
			r.err = err
			return false
		}
		if len(line) == 0 {
			if !r.hasData {
				r.ev.Event = "" // an event with no data is not dispatched
				continue
			}
			r.ev.Data = r.data
			return true
		}
		r.field(line)
		if len(r.data) > r.max {
			r.done, r.err = true, ErrTooLarge
			return false
		}
	}
}

func (r *Reader) field(line []byte) {
	if line[0] == ':' { // comment
		return
	}
	name, value, _ := bytes.Cut(line, []byte{':'})
	if len(value) > 0 && value[0] == ' ' {
		value = value[1:]
	}
	switch string(name) {
	case "data":
		if r.hasData {
			r.data = append(r.data, '\n')
		}
		r.data = append(r.data, value...)
		r.hasData = true
	case "event":
		r.ev.Event = string(value)
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			r.ev.ID = string(value)
		}
	}
}

// readLine returns the next line without its terminator (LF, CRLF or CR).
// Lone CRs are rare (no LLM server sends them); lines they separate are
// queued in pending and only seen once a LF or the end of input arrives.
func (r *Reader) readLine() ([]byte, error) {
	if len(r.pending) > 0 {
		l := r.pending[0]
		r.pending = r.pending[1:]
		return l, nil
	}
	r.line = r.line[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			r.line = append(r.line, chunk...)
			if len(r.line) > r.max {
				return nil, ErrTooLarge
			}
			continue
		}
		if err != nil && (err != io.EOF || len(chunk) == 0 && len(r.line) == 0) {
			return nil, err
		}
		line := chunk
		if len(r.line) > 0 {
			r.line = append(r.line, chunk...)
			line = r.line
		}
		line = bytes.TrimSuffix(line, []byte{'\n'})
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if bytes.IndexByte(line, '\r') >= 0 {
			parts := bytes.Split(bytes.Clone(line), []byte{'\r'})
			r.pending = parts[1:]
			return parts[0], nil
		}
		return line, nil
	}
}

// Event returns the current event.
func (r *Reader) Event() Event { return r.ev }

// Ready reports whether Next will return without reading from the network:
// a whole event (up to its blank line) is already buffered, or the stream is
// over. A partial event does not count: its rest may take long to arrive.
func (r *Reader) Ready() bool {
	if r.done || len(r.pending) > 0 {
		return true
	}
	n := r.br.Buffered()
	if n == 0 {
		return false
	}
	b, _ := r.br.Peek(n)
	return bytes.Contains(b, []byte("\n\n")) || bytes.Contains(b, []byte("\n\r\n")) || bytes.Contains(b, []byte("\r\r"))
}

// Err returns the first error other than io.EOF.
func (r *Reader) Err() error { return r.err }

// Writer writes events to an HTTP response and flushes after each one.
type Writer struct {
	w   io.Writer
	rc  *http.ResponseController
	buf []byte
	// Bytes counts what was written.
	Bytes int64
	// Wrote is true once anything reached the client.
	Wrote bool
}

// NewWriter returns a Writer on w. Call WriteHeader first if headers need
// setting; the Writer sets the SSE headers on the first write when w is an
// http.ResponseWriter whose headers were not yet sent.
func NewWriter(w io.Writer) *Writer {
	sw := &Writer{w: w}
	if rw, ok := w.(http.ResponseWriter); ok {
		sw.rc = http.NewResponseController(rw)
	}
	return sw
}

// SetHeaders sets the response headers of an event stream.
func SetHeaders(h http.Header) {
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
}

// Append appends ev in wire form to dst.
func Append(dst []byte, ev Event) []byte {
	if ev.Event != "" {
		dst = append(dst, "event: "...)
		dst = append(dst, ev.Event...)
		dst = append(dst, '\n')
	}
	if ev.ID != "" {
		dst = append(dst, "id: "...)
		dst = append(dst, ev.ID...)
		dst = append(dst, '\n')
	}
	data := ev.Data
	for {
		i := bytes.IndexByte(data, '\n')
		dst = append(dst, "data: "...)
		if i < 0 {
			dst = append(dst, data...)
			dst = append(dst, '\n')
			break
		}
		dst = append(dst, data[:i]...)
		dst = append(dst, '\n')
		data = data[i+1:]
	}
	return append(dst, '\n')
}

// Write writes events and flushes once.
func (w *Writer) Write(evs ...Event) error {
	if len(evs) == 0 {
		return nil
	}
	w.buf = w.buf[:0]
	for _, ev := range evs {
		w.buf = Append(w.buf, ev)
	}
	return w.WriteRaw(w.buf)
}

// WriteRaw writes bytes already in wire form and flushes.
func (w *Writer) WriteRaw(b []byte) error {
	n, err := w.w.Write(b)
	w.Bytes += int64(n)
	if n > 0 {
		w.Wrote = true
	}
	if err != nil {
		return err
	}
	return w.Flush()
}

// Comment writes a ":" comment line (a keep-alive) and flushes.
func (w *Writer) Comment(text string) error {
	return w.WriteRaw([]byte(": " + text + "\n\n"))
}

// Flush sends buffered bytes to the client.
func (w *Writer) Flush() error {
	if w.rc != nil {
		if err := w.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		return nil
	}
	if f, ok := w.w.(interface{ Flush() error }); ok {
		return f.Flush()
	}
	return nil
}

// SetWriteDeadline sets the deadline of the next write, when supported.
func (w *Writer) SetWriteDeadline(t time.Time) error {
	if w.rc == nil {
		return nil
	}
	if err := w.rc.SetWriteDeadline(t); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// ParseRetryAfter reads a Retry-After header value: seconds or an HTTP date.
func ParseRetryAfter(v string, now time.Time) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 {
			return 0, fmt.Errorf("negative retry-after %q", v)
		}
		return time.Duration(secs * float64(time.Second)), nil
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, fmt.Errorf("bad retry-after %q", v)
	}
	if d := t.Sub(now); d > 0 {
		return d, nil
	}
	return 0, nil
}
