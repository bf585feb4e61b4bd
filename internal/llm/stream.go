package llm

// EventType is the kind of a stream event.
type EventType uint8

const (
	// EventStart opens the message: ID and Model are set; Usage may carry the
	// input tokens when the upstream reports them up front (Anthropic).
	EventStart EventType = iota + 1
	// EventBlockStart opens content block Index; Block says what it is.
	EventBlockStart
	// EventTextDelta appends Text to text block Index.
	EventTextDelta
	// EventThinkingDelta appends Text to thinking block Index.
	EventThinkingDelta
	// EventSignatureDelta sets the signature (Text) of thinking block Index.
	EventSignatureDelta
	// EventToolArgsDelta appends a fragment of JSON (Text) to the arguments
	// of tool call block Index.
	EventToolArgsDelta
	// EventBlockStop closes block Index.
	EventBlockStop
	// EventUsage reports the usage known so far. Each one is a cumulative
	// snapshot that replaces the previous one.
	EventUsage
	// EventFinish says why the message ended (Finish, StopSequence). Usage
	// may still follow (OpenAI sends it in a last chunk).
	EventFinish
	// EventError reports a failure after the stream started (Err). It is the
	// last event.
	EventError
)

var eventTypeNames = [...]string{
	EventStart:          "start",
	EventBlockStart:     "block_start",
	EventTextDelta:      "text_delta",
	EventThinkingDelta:  "thinking_delta",
	EventSignatureDelta: "signature_delta",
	EventToolArgsDelta:  "tool_args_delta",
	EventBlockStop:      "block_stop",
	EventUsage:          "usage",
	EventFinish:         "finish",
	EventError:          "error",
}

func (t EventType) String() string {
	if int(t) < len(eventTypeNames) && eventTypeNames[t] != "" {
		return eventTypeNames[t]
	}
	return "unknown"
}

// BlockType is the kind of a content block in a stream.
type BlockType uint8

const (
	BlockText BlockType = iota + 1
	BlockThinking
	BlockRedactedThinking
	BlockToolCall
)

// Block describes a content block when it starts.
type Block struct {
	Type BlockType
	// ToolCall is set for BlockToolCall: ID, Name, Type and Signature are
	// known at start; Arguments arrive as EventToolArgsDelta fragments
	// (Arguments here is empty or holds arguments known up front).
	ToolCall *ToolCall
	// Data is the payload of a redacted thinking block.
	Data string
}

// Event is one step of a stream. Which fields are set depends on Type.
type Event struct {
	Type EventType
	// Index is the content block index for block events, counted from 0 in
	// order of EventBlockStart.
	Index int
	Text  string
	Block *Block

	ID    string // EventStart
	Model string // EventStart

	Usage *Usage // EventUsage, optionally EventStart

	Finish       FinishReason // EventFinish
	StopSequence string       // EventFinish

	Err *Error // EventError
}

// Stream is an iterator over the events of one model answer, shaped like
// database/sql.Rows:
//
//	defer s.Close()
//	for s.Next() {
//		ev := s.Event()
//		…
//	}
//	if err := s.Err(); err != nil { … }
//
// A failure before any event is returned by the provider call itself; a
// failure after the first event ends the iteration and is returned by Err
// (as an *Error). Close releases the upstream connection and may be called
// at any time, also concurrently with Next to abort it.
type Stream interface {
	Next() bool
	Event() Event
	Err() error
	Close() error
}

// Readier is an optional Stream capability: Ready reports whether Next will
// return without waiting on the network — an event is already buffered, or
// the stream is over. Writers use it to send a burst of events in one write
// and one flush instead of one per event, without delaying any of them.
type Readier interface {
	Ready() bool
}

// Ready reports whether s's next event is at hand (see Readier); false for
// streams that cannot tell.
func Ready(s Stream) bool {
	r, ok := s.(Readier)
	return ok && r.Ready()
}

// Collect folds a stream into a Response. It closes the stream.
func Collect(s Stream) (*Response, error) {
	defer s.Close()
	var f Folder
	for s.Next() {
		f.Add(s.Event())
	}
	if err := s.Err(); err != nil {
		return f.Response(), err
	}
	return f.Response(), nil
}

// Folder accumulates stream events into a Response. The zero value is ready.
type Folder struct {
	resp   Response
	blocks map[int]int // stream index → position in resp.Content
}

// Add folds one event in.
func (f *Folder) Add(ev Event) {
	switch ev.Type {
	case EventStart:
		f.resp.ID, f.resp.Model = ev.ID, ev.Model
		if ev.Usage != nil {
			f.resp.Usage = *ev.Usage
		}
	case EventBlockStart:
		if f.blocks == nil {
			f.blocks = make(map[int]int)
		}
		var p Part
		switch ev.Block.Type {
		case BlockText:
			p = Part{Type: PartText}
		case BlockThinking:
			p = Part{Type: PartThinking}
		case BlockRedactedThinking:
			p = Part{Type: PartRedactedThinking, Data: ev.Block.Data}
		case BlockToolCall:
			tc := *ev.Block.ToolCall
			p = Part{Type: PartToolCall, ToolCall: &tc}
		}
		f.blocks[ev.Index] = len(f.resp.Content)
		f.resp.Content = append(f.resp.Content, p)
	case EventTextDelta, EventThinkingDelta:
		if p := f.part(ev.Index); p != nil {
			p.Text += ev.Text
		}
	case EventSignatureDelta:
		if p := f.part(ev.Index); p != nil {
			p.Signature += ev.Text
		}
	case EventToolArgsDelta:
		if p := f.part(ev.Index); p != nil && p.ToolCall != nil {
			p.ToolCall.Arguments += ev.Text
		}
	case EventUsage:
		if ev.Usage != nil {
			f.resp.Usage = *ev.Usage
		}
	case EventFinish:
		f.resp.FinishReason, f.resp.StopSequence = ev.Finish, ev.StopSequence
	}
}

func (f *Folder) part(index int) *Part {
	i, ok := f.blocks[index]
	if !ok {
		return nil
	}
	return &f.resp.Content[i]
}

// Response returns what was folded so far. Empty tool arguments become "{}".
func (f *Folder) Response() *Response {
	r := f.resp
	r.Content = append([]Part(nil), f.resp.Content...)
	for i, p := range r.Content {
		if p.Type == PartToolCall && p.ToolCall.Arguments == "" {
			tc := *p.ToolCall
			tc.Arguments = "{}"
			r.Content[i].ToolCall = &tc
		}
	}
	return &r
}

// Events returns a Stream over a fixed list of events, for tests and for
// replaying a Response as a stream.
func Events(evs ...Event) Stream { return &sliceStream{evs: evs, i: -1} }

type sliceStream struct {
	evs []Event
	i   int
	err error
}

func (s *sliceStream) Next() bool {
	if s.i+1 >= len(s.evs) {
		s.i = len(s.evs)
		return false
	}
	s.i++
	if ev := s.evs[s.i]; ev.Type == EventError {
		if ev.Err != nil {
			s.err = ev.Err
		} else {
			s.err = &Error{Kind: KindOther, Message: "stream failed"}
		}
		return false
	}
	return true
}

func (s *sliceStream) Event() Event { return s.evs[s.i] }
func (s *sliceStream) Ready() bool  { return true }
func (s *sliceStream) Err() error   { return s.err }
func (s *sliceStream) Close() error { return nil }

// ResponseEvents turns a whole Response into the events a stream of it would
// have produced. Useful for upstreams that answered without streaming.
func ResponseEvents(r *Response) []Event {
	evs := []Event{{Type: EventStart, ID: r.ID, Model: r.Model}}
	i := -1
	for _, p := range r.Content {
		i++
		switch p.Type {
		case PartText:
			evs = append(evs,
				Event{Type: EventBlockStart, Index: i, Block: &Block{Type: BlockText}},
				Event{Type: EventTextDelta, Index: i, Text: p.Text})
		case PartThinking:
			evs = append(evs,
				Event{Type: EventBlockStart, Index: i, Block: &Block{Type: BlockThinking}},
				Event{Type: EventThinkingDelta, Index: i, Text: p.Text})
			if p.Signature != "" {
				evs = append(evs, Event{Type: EventSignatureDelta, Index: i, Text: p.Signature})
			}
		case PartRedactedThinking:
			evs = append(evs, Event{Type: EventBlockStart, Index: i, Block: &Block{Type: BlockRedactedThinking, Data: p.Data}})
		case PartToolCall:
			tc := *p.ToolCall
			args := tc.Arguments
			tc.Arguments = ""
			evs = append(evs, Event{Type: EventBlockStart, Index: i, Block: &Block{Type: BlockToolCall, ToolCall: &tc}})
			if args != "" {
				evs = append(evs, Event{Type: EventToolArgsDelta, Index: i, Text: args})
			}
		default:
			i--
			continue
		}
		evs = append(evs, Event{Type: EventBlockStop, Index: i})
	}
	u := r.Usage
	evs = append(evs, Event{Type: EventUsage, Usage: &u})
	evs = append(evs, Event{Type: EventFinish, Finish: r.FinishReason, StopSequence: r.StopSequence})
	return evs
}
