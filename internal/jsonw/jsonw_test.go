package jsonw

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

func want(t *testing.T, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	cases := []string{"", "plain", `"quoted"`, `back\slash`, "\n\r\t\b\f", "\x00\x01\x1f\x7f", "<&>",
		"é 中文 😀", "\u2028\u2029", "\xff\xfe", "a\xc3", "\xed\xa0\x80", "mixed \"\x00\xe2\x80\xa8 end"}
	for b := range 256 {
		cases = append(cases, string([]byte{byte(b)}))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, r.IntN(20))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		if got := AppendString(nil, s); !bytes.Equal(got, want(t, s)) {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want(t, s))
		}
		if !utf8.ValidString(s) {
			continue
		}
		var back string
		if err := json.Unmarshal(AppendString(nil, s), &back); err != nil || back != s {
			t.Errorf("round trip of %q = %q, %v", s, back, err)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("plain \"x\" \n \u2028 \xff")
	f.Fuzz(func(t *testing.T, s string) {
		if got := AppendString(nil, s); !bytes.Equal(got, want(t, s)) {
			t.Fatalf("AppendString(%q) = %s", s, got)
		}
	})
}

func BenchmarkAppendString(b *testing.B) {
	buf := make([]byte, 0, 256)
	for b.Loop() {
		buf = AppendString(buf[:0], "Hello, world. A typical token of streamed text with \"quotes\" and é.")
	}
}
