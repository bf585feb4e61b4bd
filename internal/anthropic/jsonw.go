package anthropic

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/rickyjim626/xjp/internal/jsonw"
)

// appendString appends s as a JSON string (see jsonw.AppendString).
func appendString(dst []byte, s string) []byte { return jsonw.AppendString(dst, s) }

// appendInt appends n in decimal.
func appendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }

// appendCompact appends raw JSON without insignificant whitespace; invalid
// JSON is appended as is (callers validate first).
func appendCompact(dst []byte, raw []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return append(dst, raw...)
	}
	return append(dst, buf.Bytes()...)
}

// object is a JSON object under construction that keeps member order.
type object struct {
	keys []string
	vals []json.RawMessage
}

// set adds or replaces member k.
func (o *object) set(k string, v json.RawMessage) {
	if i := slices.Index(o.keys, k); i >= 0 {
		o.vals[i] = v
		return
	}
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
}

// setString sets member k to the JSON string s.
func (o *object) setString(k, s string) { o.set(k, appendString(nil, s)) }

// setInt sets member k to n.
func (o *object) setInt(k string, n int64) { o.set(k, appendInt(nil, n)) }

// get returns member k.
func (o *object) get(k string) (json.RawMessage, bool) {
	if i := slices.Index(o.keys, k); i >= 0 {
		return o.vals[i], true
	}
	return nil, false
}

// has reports whether member k is set.
func (o *object) has(k string) bool { return slices.Contains(o.keys, k) }

// addExtras adds the members of the JSON object raw that o does not have
// and that skip does not name, in key order. raw that is not an object is
// ignored.
func (o *object) addExtras(raw json.RawMessage, skip ...string) {
	if len(raw) == 0 {
		return
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if !o.has(k) && !slices.Contains(skip, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		o.set(k, m[k])
	}
}

// bytes returns the object as JSON.
func (o *object) bytes() []byte {
	return o.appendTo(nil)
}

// appendTo appends the object as JSON to dst.
func (o *object) appendTo(dst []byte) []byte {
	dst = append(dst, '{')
	for i, k := range o.keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		if len(o.vals[i]) == 0 {
			dst = append(dst, "null"...)
		} else {
			dst = append(dst, o.vals[i]...)
		}
	}
	return append(dst, '}')
}

// mergeObjects returns computed with the members of native that computed
// lacks added; computed's members win. When either is not a JSON object,
// computed is returned unchanged.
func mergeObjects(computed, native json.RawMessage) json.RawMessage {
	if !isJSONObject(computed) || !isJSONObject(native) {
		return computed
	}
	var o object
	// keep computed's member order
	dec := json.NewDecoder(bytes.NewReader(computed))
	if _, err := dec.Token(); err != nil {
		return computed
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return computed
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return computed
		}
		o.set(k, v)
	}
	o.addExtras(native)
	return o.bytes()
}

// rawBool returns b as a JSON value.
func rawBool(b bool) json.RawMessage {
	if b {
		return json.RawMessage("true")
	}
	return json.RawMessage("false")
}
