package openai

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/rickyjim626/xjp/internal/jsonw"
)

// This file holds the hand-written JSON appenders the codecs use instead of
// json.Marshal of maps: they run once per streamed token, keep field order
// fixed (golden files) and allocate nothing when dst has room.

// appendString appends s as a JSON string (see jsonw.AppendString).
func appendString(dst []byte, s string) []byte { return jsonw.AppendString(dst, s) }

// appendKey appends `"key":`, with a leading comma unless dst ends an
// opening brace or bracket.
func appendKey(dst []byte, key string) []byte {
	if n := len(dst); n > 0 && dst[n-1] != '{' && dst[n-1] != '[' {
		dst = append(dst, ',')
	}
	dst = appendString(dst, key)
	return append(dst, ':')
}

func appendStringField(dst []byte, key, v string) []byte {
	return appendString(appendKey(dst, key), v)
}

func appendIntField(dst []byte, key string, v int64) []byte {
	return strconv.AppendInt(appendKey(dst, key), v, 10)
}

func appendBoolField(dst []byte, key string, v bool) []byte {
	return strconv.AppendBool(appendKey(dst, key), v)
}

// appendFloat appends a float the way encoding/json does for ordinary
// magnitudes (shortest representation, no exponent below 1e21).
func appendFloat(dst []byte, f float64) []byte {
	abs := f
	if abs < 0 {
		abs = -abs
	}
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		return strconv.AppendFloat(dst, f, 'e', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}

// appendRaw appends raw JSON compacted; invalid or empty raw becomes null.
func appendRaw(dst []byte, raw []byte) []byte {
	if len(raw) == 0 {
		return append(dst, "null"...)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return append(dst, "null"...)
	}
	return append(dst, buf.Bytes()...)
}
