package llm

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"image"
	_ "image/gif"  // register GIF for image.DecodeConfig
	_ "image/jpeg" // register JPEG
	_ "image/png"  // register PNG
	"io"
	"math"
	"strings"
	"sync"

	tiktoken "github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
)

// Local token counting, for upstreams that cannot count (count_tokens of a
// non-Anthropic route) and for usage the upstream did not report. The
// tokenizer is OpenAI's o200k_base from the embedded offline BPE files: it
// approximates Claude's and Gemini's tokenizers, which are not public.
// Loading it costs about 300 ms and 22 MiB, so it happens on first use,
// never at package init.

var tokenizer struct {
	once sync.Once
	enc  *tiktoken.Tiktoken
}

func encoding() *tiktoken.Tiktoken {
	tokenizer.once.Do(func() {
		tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader())
		if enc, err := tiktoken.GetEncoding("o200k_base"); err == nil {
			tokenizer.enc = enc
		}
	})
	return tokenizer.enc
}

// CountTextTokens returns the number of o200k_base tokens in s. Should the
// tokenizer fail to load, it falls back to one token per four bytes.
func CountTextTokens(s string) int64 {
	if s == "" {
		return 0
	}
	if enc := encoding(); enc != nil {
		return int64(len(enc.EncodeOrdinary(s)))
	}
	return int64(len(s)+3) / 4
}

// Fixed costs of the request layout, estimates in the spirit of OpenAI's
// published per-message overhead.
const (
	messageOverheadTokens = 3 // role and separators of one message
	replyPrimingTokens    = 3 // the assistant turn the model starts
	toolCallOverhead      = 3 // a tool call's or result's framing
	toolDefOverhead       = 8 // a tool definition's framing
	// toolUseSystemPromptTokens is the system prompt Anthropic adds when a
	// request has tools (its pricing page lists 313 to 346 tokens for
	// current models, by tool_choice).
	toolUseSystemPromptTokens = 346
	// UnknownImageTokens is the estimate for an image whose size cannot be
	// read (a URL, an unknown format): about the most an image costs after
	// Anthropic's downscaling.
	UnknownImageTokens = 1600
	// pdfPageTokens estimates one PDF page: Anthropic documents 1,500 to
	// 3,000 tokens of text per page, plus the page image.
	pdfPageTokens = 2000
	// unknownFileTokens estimates a file of any other kind.
	unknownFileTokens = 1000
)

// CountRequestTokens estimates the input tokens of req: system and
// developer prompts, the text of every message, tool call names and
// arguments, tool results, thinking of the last assistant turn (Anthropic
// drops thinking of earlier turns from the context), tool definitions
// (name, description, schema) with the tool-use system prompt, a JSON
// schema response format, a small per-message overhead, images by
// Anthropic's formula (width × height / 750 after its downscaling) and
// documents. A non-empty request never counts zero.
func CountRequestTokens(req *Request) int64 {
	if req == nil {
		return 0
	}
	lastAssistant := -1
	for i, m := range req.Messages {
		if m.Role == RoleAssistant {
			lastAssistant = i
		}
	}
	var n int64
	for i, m := range req.Messages {
		n += messageOverheadTokens
		n += countParts(m.Content, i == lastAssistant)
	}
	if len(req.Messages) > 0 {
		n += replyPrimingTokens
	}
	for _, t := range req.Tools {
		n += toolDefOverhead
		if len(t.Native) > 0 && t.Type != "" && t.Type != "function" {
			n += CountTextTokens(string(t.Native))
			continue
		}
		n += CountTextTokens(t.Name) + CountTextTokens(t.Description) + CountTextTokens(string(t.Parameters))
	}
	if len(req.Tools) > 0 {
		n += toolUseSystemPromptTokens
	}
	if rf := req.ResponseFormat; rf != nil && len(rf.Schema) > 0 {
		n += CountTextTokens(string(rf.Schema))
	}
	if n == 0 && (len(req.Messages) > 0 || len(req.Tools) > 0) {
		n = 1
	}
	return n
}

func countParts(parts []Part, thinking bool) int64 {
	var n int64
	for _, p := range parts {
		switch p.Type {
		case PartText:
			n += CountTextTokens(p.Text)
		case PartThinking:
			if thinking {
				n += CountTextTokens(p.Text)
			}
		case PartRedactedThinking:
			if thinking {
				n += int64(len(p.Data)+3) / 4
			}
		case PartToolCall:
			if p.ToolCall != nil {
				n += toolCallOverhead + CountTextTokens(p.ToolCall.Name) + CountTextTokens(p.ToolCall.Arguments)
			}
		case PartToolResult:
			if p.ToolResult != nil {
				n += toolCallOverhead + countParts(p.ToolResult.Content, false)
			}
		case PartImage:
			n += imageTokens(p.Media)
		case PartFile:
			n += fileTokens(p.Media)
		case PartNative:
			n += CountTextTokens(string(p.Native))
		}
	}
	return n
}

// ImageTokens returns Anthropic's token cost of a width × height image:
// an image whose long edge exceeds 1568 px, or that would cost more than
// about 1,600 tokens, is first scaled down keeping its aspect ratio; the
// cost is then width × height / 750.
func ImageTokens(width, height int) int64 {
	if width <= 0 || height <= 0 {
		return UnknownImageTokens
	}
	w, h := float64(width), float64(height)
	if long := max(w, h); long > 1568 {
		s := 1568 / long
		w, h = w*s, h*s
	}
	const maxPixels = 1600 * 750
	if px := w * h; px > maxPixels {
		s := math.Sqrt(maxPixels / px)
		w, h = w*s, h*s
	}
	return max(1, int64(math.Ceil(w*h/750)))
}

// imageTokens reads the image's dimensions from the start of its data.
func imageTokens(m *Media) int64 {
	w, h, ok := imageSize(m)
	if !ok {
		return UnknownImageTokens
	}
	return ImageTokens(w, h)
}

// mediaData returns the base64 data of inline media (Data or a data: URL).
func mediaData(m *Media) (mediaType, data string) {
	if m == nil {
		return "", ""
	}
	if m.Data != "" {
		return m.MediaType, m.Data
	}
	if mt, d, ok := ParseDataURL(m.URL); ok {
		return mt, d
	}
	return m.MediaType, ""
}

// imageSize reads width and height from the header of PNG, JPEG, GIF or
// WebP data, decoding only as much base64 as the header needs.
func imageSize(m *Media) (w, h int, ok bool) {
	_, data := mediaData(m)
	if data == "" {
		return 0, 0, false
	}
	r := base64.NewDecoder(base64.StdEncoding, strings.NewReader(strings.TrimRight(data, "\r\n")))
	head := make([]byte, 30)
	n, _ := io.ReadFull(r, head)
	head = head[:n]
	if w, h, ok := webpSize(head); ok {
		return w, h, true
	}
	cfg, _, err := image.DecodeConfig(io.MultiReader(bytes.NewReader(head), r))
	if err != nil {
		return 0, 0, false
	}
	return cfg.Width, cfg.Height, true
}

// webpSize parses the size of a WebP image from its first 30 bytes
// (simple lossy VP8, lossless VP8L, or extended VP8X).
func webpSize(b []byte) (w, h int, ok bool) {
	if len(b) < 30 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return 0, 0, false
	}
	switch string(b[12:16]) {
	case "VP8X":
		w = 1 + (int(b[24]) | int(b[25])<<8 | int(b[26])<<16)
		h = 1 + (int(b[27]) | int(b[28])<<8 | int(b[29])<<16)
		return w, h, true
	case "VP8L":
		if b[20] != 0x2f {
			return 0, 0, false
		}
		bits := binary.LittleEndian.Uint32(b[21:25])
		return int(bits&0x3FFF) + 1, int(bits>>14&0x3FFF) + 1, true
	case "VP8 ":
		if b[23] != 0x9d || b[24] != 0x01 || b[25] != 0x2a {
			return 0, 0, false
		}
		return int(binary.LittleEndian.Uint16(b[26:28]) & 0x3FFF), int(binary.LittleEndian.Uint16(b[28:30]) & 0x3FFF), true
	}
	return 0, 0, false
}

// fileTokens estimates a document: plain text is counted, a PDF costs
// pdfPageTokens per page (pages found by their /Type /Page objects, else
// one per 100 KB), anything else a fixed estimate.
func fileTokens(m *Media) int64 {
	mt, data := mediaData(m)
	switch {
	case strings.HasPrefix(mt, "image/"):
		return imageTokens(m)
	case strings.HasPrefix(mt, "text/") && data != "":
		text, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return int64(len(data)) / 4
		}
		return CountTextTokens(string(text))
	case mt == "application/pdf":
		if data == "" {
			return pdfPageTokens
		}
		pdf, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return pdfPageTokens
		}
		return pdfPageTokens * int64(pdfPages(pdf))
	}
	return unknownFileTokens
}

// pdfPages counts page objects ("/Type /Page", not "/Pages"); PDFs whose
// pages sit in compressed object streams are estimated by size.
func pdfPages(pdf []byte) int {
	pages := 0
	for _, marker := range [][]byte{[]byte("/Type /Page"), []byte("/Type/Page")} {
		rest := pdf
		for {
			i := bytes.Index(rest, marker)
			if i < 0 {
				break
			}
			rest = rest[i+len(marker):]
			if len(rest) == 0 || rest[0] != 's' {
				pages++
			}
		}
	}
	if pages == 0 {
		pages = max(1, len(pdf)/(100<<10))
	}
	return pages
}
