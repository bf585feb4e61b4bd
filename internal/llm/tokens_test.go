package llm

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
)

func TestCountTextTokensKnown(t *testing.T) {
	tests := []struct {
		s    string
		want int64
	}{
		{"", 0},
		{"hello world", 2},
		{"Hello, world!", 4},
		{"The quick brown fox jumps over the lazy dog.", 10},
	}
	for _, tt := range tests {
		if got := CountTextTokens(tt.s); got != tt.want {
			t.Errorf("CountTextTokens(%q) = %d, want %d", tt.s, got, tt.want)
		}
	}
}

func imageData(t *testing.T, format string, w, h int) string {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.White, color.Black})
	var buf bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&buf, img)
	case "jpeg":
		err = jpeg.Encode(&buf, img, nil)
	case "gif":
		err = gif.Encode(&buf, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func webpData(kind string, w, h int) string {
	b := make([]byte, 30)
	copy(b[0:4], "RIFF")
	copy(b[8:12], "WEBP")
	switch kind {
	case "VP8X":
		copy(b[12:16], "VP8X")
		w, h = w-1, h-1
		b[24], b[25], b[26] = byte(w), byte(w>>8), byte(w>>16)
		b[27], b[28], b[29] = byte(h), byte(h>>8), byte(h>>16)
	case "VP8L":
		copy(b[12:16], "VP8L")
		b[20] = 0x2f
		bits := uint32(w-1) | uint32(h-1)<<14
		b[21], b[22], b[23], b[24] = byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24)
	case "VP8 ":
		copy(b[12:16], "VP8 ")
		b[23], b[24], b[25] = 0x9d, 0x01, 0x2a
		b[26], b[27] = byte(w), byte(w>>8)
		b[28], b[29] = byte(h), byte(h>>8)
	}
	return base64.StdEncoding.EncodeToString(append(b, make([]byte, 10)...))
}

func TestImageTokens(t *testing.T) {
	tests := []struct {
		name string
		m    *Media
		want int64
	}{
		{"png 1000x1000", &Media{MediaType: "image/png", Data: imageData(t, "png", 1000, 1000)}, 1334},
		{"jpeg 300x200", &Media{MediaType: "image/jpeg", Data: imageData(t, "jpeg", 300, 200)}, 80},
		{"gif as data url", &Media{URL: "data:image/gif;base64," + imageData(t, "gif", 200, 200)}, 54},
		{"png 2000x1000 downscaled", &Media{MediaType: "image/png", Data: imageData(t, "png", 2000, 1000)}, 1600},
		{"webp VP8X", &Media{MediaType: "image/webp", Data: webpData("VP8X", 750, 100)}, 100},
		{"webp VP8L", &Media{MediaType: "image/webp", Data: webpData("VP8L", 1500, 500)}, 1000},
		{"webp VP8", &Media{MediaType: "image/webp", Data: webpData("VP8 ", 300, 250)}, 100},
		{"url", &Media{URL: "https://example.com/cat.jpg"}, UnknownImageTokens},
		{"garbage", &Media{MediaType: "image/png", Data: "bm90IGFuIGltYWdl"}, UnknownImageTokens},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := imageTokens(tt.m); got != tt.want {
				t.Errorf("imageTokens = %d, want %d", got, tt.want)
			}
		})
	}
	if got := ImageTokens(8000, 100); got < 1 || got > 1600 {
		t.Errorf("ImageTokens(8000,100) = %d", got)
	}
}

func TestCountRequestTokens(t *testing.T) {
	base := &Request{Messages: []Message{
		{Role: RoleSystem, Content: []Part{TextPart("You are a helpful assistant.")}},
		{Role: RoleUser, Content: []Part{TextPart("What's the weather in Paris?")}},
	}}
	n := CountRequestTokens(base)
	if n <= CountTextTokens("You are a helpful assistant.")+CountTextTokens("What's the weather in Paris?") {
		t.Errorf("count %d has no message overhead", n)
	}
	if again := CountRequestTokens(base); again != n {
		t.Errorf("unstable: %d then %d", n, again)
	}

	withTools := base.Clone()
	withTools.Tools = []Tool{{Name: "get_weather", Description: "Current weather for a city",
		Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`)}}
	nt := CountRequestTokens(withTools)
	if nt < n+toolUseSystemPromptTokens+10 {
		t.Errorf("tools add %d tokens", nt-n)
	}

	withCall := withTools.Clone()
	withCall.Messages = append(withCall.Messages,
		Message{Role: RoleAssistant, Content: []Part{
			{Type: PartThinking, Text: "I should call the tool.", Signature: "sig"},
			{Type: PartToolCall, ToolCall: &ToolCall{ID: "c1", Name: "get_weather", Arguments: `{"city":"Paris"}`}}}},
		Message{Role: RoleTool, Content: []Part{{Type: PartToolResult, ToolResult: &ToolResult{ToolCallID: "c1",
			Content: []Part{TextPart("18°C and sunny")}}}}})
	if nc := CountRequestTokens(withCall); nc <= nt+10 {
		t.Errorf("tool call and result add %d tokens", nc-nt)
	}

	withImage := base.Clone()
	withImage.Messages[1].Content = append(withImage.Messages[1].Content,
		Part{Type: PartImage, Media: &Media{MediaType: "image/png", Data: imageData(t, "png", 1000, 1000)}})
	if ni := CountRequestTokens(withImage); ni != n+1334 {
		t.Errorf("image adds %d tokens, want 1334", ni-n)
	}

	pdf := base64.StdEncoding.EncodeToString([]byte("%PDF-1.4\n1 0 obj <</Type /Pages /Kids [2 0 R 3 0 R]>>\n2 0 obj <</Type /Page>>\n3 0 obj <</Type/Page>>\n"))
	withPDF := base.Clone()
	withPDF.Messages[1].Content = append(withPDF.Messages[1].Content, Part{Type: PartFile, Media: &Media{MediaType: "application/pdf", Data: pdf}})
	if np := CountRequestTokens(withPDF); np != n+2*pdfPageTokens {
		t.Errorf("two-page PDF adds %d tokens", np-n)
	}

	empty := &Request{Messages: []Message{{Role: RoleUser, Content: []Part{TextPart("")}}}}
	if got := CountRequestTokens(empty); got <= 0 {
		t.Errorf("non-empty request counted %d", got)
	}
	if got := CountRequestTokens(&Request{}); got != 0 {
		t.Errorf("empty request counted %d", got)
	}
}

// BenchmarkCountTextTokens counts a 60 KB prompt, the size of Claude Code's
// system prompt and tools.
func BenchmarkCountTextTokens(b *testing.B) {
	s := strings.Repeat("You are an interactive CLI tool that helps users with software engineering tasks.\n", 750)
	CountTextTokens("warm up") // load the tokenizer outside the timing
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		CountTextTokens(s)
	}
}
