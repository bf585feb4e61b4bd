package vertex

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
)

// Tool-call ids minted for Gemini function calls have this grammar:
//
//	call_<nonce>[__g<hex(gemini id)>][__ts_<base64url(signature bytes)> | __tr_<base64url(signature text)>]
//
// <nonce> is base62 (no "_"), the Gemini id is hex (no "_"), so the first
// "__ts_"/"__tr_" after the nonce starts the signature, which runs to the
// end. Every character is in [A-Za-z0-9_-], the set Anthropic accepts for
// tool_use ids (^[a-zA-Z0-9_-]+$) and OpenAI accepts for tool_call ids.
//
// The id carries everything the next turn needs, so any replica can encode
// it without shared state, and clients that only echo the id (OpenAI and
// Anthropic SDKs) still give Gemini back its thoughtSignature.
const (
	idPrefix      = "call_"
	idGeminiMark  = "__g"
	idSigMark     = "__ts_" // signature bytes: the Gemini value is canonical standard base64
	idSigTextMark = "__tr_" // signature text that is not canonical base64, kept as text

	// MaxToolCallIDLen bounds minted ids. A thought signature that would make
	// the id longer is not embedded (it still travels in
	// llm.ToolCall.Signature; a client that only echoes the id then gets
	// the documented bypass value on the next turn).
	MaxToolCallIDLen = 16 << 10

	// SkipThoughtSignature is the value Google documents for function calls
	// that have no signature of their own (histories migrated from other
	// models, injected calls): Vertex AI's thought-signatures page says to set
	// thought_signature to "skip_thought_signature_validator", and the Gemini
	// API's FAQ accepts it (or "context_engineering_is_the_way_to_go"). It is
	// valid base64url, so the bytes field parses.
	SkipThoughtSignature = "skip_thought_signature_validator"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// mintNonce returns 16 base62 characters: derived from seed when it is not
// empty (so the same response always yields the same ids), random otherwise.
func mintNonce(seed string) string {
	var b [16]byte
	if seed != "" {
		sum := sha256.Sum256([]byte(seed))
		copy(b[:], sum[:])
	} else {
		_, _ = rand.Read(b[:])
	}
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = base62[int(c)%len(base62)]
	}
	return string(out)
}

// MintToolCallID builds a tool-call id for a Gemini function call. seed makes
// the nonce deterministic (the decoder passes responseId and block index);
// geminiID is the functionCall.id Gemini sent, if any; signature is the
// part's thoughtSignature, if any.
func MintToolCallID(seed, geminiID, signature string) string {
	var b strings.Builder
	b.WriteString(idPrefix)
	b.WriteString(mintNonce(seed))
	if geminiID != "" {
		b.WriteString(idGeminiMark)
		b.WriteString(hex.EncodeToString([]byte(geminiID)))
	}
	if signature != "" {
		var enc string
		if raw, err := base64.StdEncoding.DecodeString(signature); err == nil && base64.StdEncoding.EncodeToString(raw) == signature {
			enc = idSigMark + base64.RawURLEncoding.EncodeToString(raw)
		} else {
			enc = idSigTextMark + base64.RawURLEncoding.EncodeToString([]byte(signature))
		}
		if b.Len()+len(enc) <= MaxToolCallIDLen {
			b.WriteString(enc)
		}
	}
	return b.String()
}

// ParseToolCallID recovers the Gemini function-call id and thought signature
// from an id minted by MintToolCallID. ok is false for other ids (an
// OpenAI "call_…" id simply yields nothing).
func ParseToolCallID(id string) (geminiID, signature string, ok bool) {
	rest, found := strings.CutPrefix(id, idPrefix)
	if !found {
		return "", "", false
	}
	i := strings.Index(rest, "__")
	if i < 0 {
		return "", "", false
	}
	rest = rest[i:]
	if g, found := strings.CutPrefix(rest, idGeminiMark); found {
		end := strings.Index(g, "__")
		if end < 0 {
			end = len(g)
		}
		raw, err := hex.DecodeString(g[:end])
		if err != nil {
			return "", "", false
		}
		geminiID, rest = string(raw), g[end:]
		ok = true
	}
	switch {
	case strings.HasPrefix(rest, idSigMark):
		raw, err := base64.RawURLEncoding.DecodeString(rest[len(idSigMark):])
		if err != nil {
			return geminiID, "", ok
		}
		return geminiID, base64.StdEncoding.EncodeToString(raw), true
	case strings.HasPrefix(rest, idSigTextMark):
		raw, err := base64.RawURLEncoding.DecodeString(rest[len(idSigTextMark):])
		if err != nil {
			return geminiID, "", ok
		}
		return geminiID, string(raw), true
	}
	return geminiID, "", ok
}

// validSignature reports whether s decodes as base64 in one of the forms
// Google's JSON parser accepts for bytes fields (standard or URL alphabet,
// padded or not). Anything else makes Gemini reject the whole request
// ("Base64 decoding failed"), so such values are never sent.
func validSignature(s string) bool {
	if s == "" {
		return false
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if _, err := enc.DecodeString(s); err == nil {
			return true
		}
	}
	return false
}

// seedFor returns the nonce seed of block index in response responseID.
func seedFor(responseID string, index int) string {
	if responseID == "" {
		return ""
	}
	return responseID + "#" + strconv.Itoa(index)
}
