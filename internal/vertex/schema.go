package vertex

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// Schema cleaning.
//
// Function parameters (and JSON-mode response schemas) are sent as
// Google's Schema object, the "select subset of OpenAPI 3.0" that both APIs
// accept on every model and API version. Clients send full JSON Schema
// (Claude Code: $schema, additionalProperties:false, exclusiveMinimum, const,
// type arrays; MCP servers: $ref/$defs, anyOf with null), which Google
// rejects field by field ("Unknown name ... Cannot find field", "type: must
// be specified", "should be non-empty for OBJECT type"). cleanSchema keeps an
// allowlist of the Schema fields each API documents and rewrites the rest:
//
//   - $schema, $id, $comment, exclusiveMinimum/Maximum, multipleOf,
//     uniqueItems, propertyNames, patternProperties, not, if/then/else,
//     readOnly/writeOnly, deprecated and every other unknown keyword: dropped
//   - const → enum of one; enum values become strings (Schema.enum is
//     string[]), with format "enum" on INTEGER/NUMBER types as Google's
//     reference example does
//   - type ["string","null"] → type STRING + nullable; ["string","number"] → anyOf
//   - anyOf/oneOf with a {"type":"null"} branch → nullable; one branch left → inlined
//   - allOf → its branches merged
//   - local $ref ("#/$defs/X", "#/definitions/X") → inlined; $defs dropped
//   - type names upper-cased (STRING, OBJECT…), as Google's SDKs send them;
//     a missing type is inferred (properties → OBJECT, items → ARRAY, enum → STRING)
//   - required filtered to the properties that exist
//   - additionalProperties: kept on Vertex (its Schema has the field), dropped
//     on AI Studio (its Schema does not)
//   - format: kept on Vertex; on AI Studio only "enum" and "date-time" (the
//     only values the Gemini Developer API accepts)
//   - examples → example (first one)
//
// A schema that the subset cannot express (a recursive $ref, a nested object
// with no properties, an untyped "any" value, a tuple) is sent instead as
// parametersJsonSchema / responseJsonSchema, the full-JSON-Schema fields both
// APIs document as mutually exclusive with parameters / responseSchema, with
// only $schema/$id/$comment removed. The subset is preferred because it is
// the form every Gemini model and API version accepts; the JSON Schema field
// is the escape hatch for what the subset cannot say.

var errInexpressible = errors.New("schema not expressible in the Gemini schema subset")

// maxSchemaDepth bounds nesting (and $ref expansion).
const maxSchemaDepth = 40

// cleanedSchema is the result of cleaning: Schema is the subset form, or
// JSONSchema the fallback; both nil means "send no schema".
type cleanedSchema struct {
	Schema     json.RawMessage
	JSONSchema json.RawMessage
}

type schemaCleaner struct {
	api  string
	defs map[string]any
}

// cleanSchema converts a JSON Schema for the given API. root says whether an
// object schema without properties may be dropped entirely (function
// parameters of a function that takes none).
func cleanSchema(raw json.RawMessage, api string) (cleanedSchema, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return cleanedSchema{}, nil
	}
	var root any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		return cleanedSchema{}, err
	}
	m, isMap := root.(map[string]any)
	if !isMap {
		if b, isBool := root.(bool); isBool && b {
			return cleanedSchema{}, nil
		}
		return cleanedSchema{}, errors.New("schema is not a JSON object")
	}
	c := &schemaCleaner{api: api, defs: map[string]any{}}
	for _, key := range []string{"$defs", "definitions"} {
		if d, isMap := m[key].(map[string]any); isMap {
			for name, s := range d {
				c.defs["#/"+key+"/"+name] = s
			}
		}
	}
	out, err := c.convert(m, 0, nil)
	if errors.Is(err, errInexpressible) {
		js := jsonSchemaFallback(m)
		b, err := marshalSchema(js)
		return cleanedSchema{JSONSchema: b}, err
	}
	if err != nil {
		return cleanedSchema{}, err
	}
	if out["type"] == "OBJECT" && len(asMap(out["properties"])) == 0 {
		// A function without parameters: Google rejects an OBJECT with no
		// properties, and parameters may simply be left out.
		return cleanedSchema{}, nil
	}
	b, err := marshalSchema(out)
	return cleanedSchema{Schema: b}, err
}

func marshalSchema(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// jsonSchemaFallback strips the meta keywords Google rejects even in its
// JSON Schema fields.
func jsonSchemaFallback(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch k {
		case "$schema", "$id", "$comment":
			continue
		}
		out[k] = v
	}
	return out
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

var schemaTypes = map[string]string{
	"string": "STRING", "number": "NUMBER", "integer": "INTEGER",
	"boolean": "BOOLEAN", "array": "ARRAY", "object": "OBJECT", "null": "NULL",
}

func (c *schemaCleaner) convert(node map[string]any, depth int, refs []string) (map[string]any, error) {
	if depth > maxSchemaDepth {
		return nil, errInexpressible
	}
	node, refs, err := c.resolve(node, refs)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	nullable := false

	// Combinators first: they may replace the node's shape.
	if all, isList := node["allOf"].([]any); isList {
		merged := map[string]any{}
		for k, v := range node {
			if k != "allOf" {
				merged[k] = v
			}
		}
		for _, b := range all {
			bm, isMap := b.(map[string]any)
			if !isMap {
				continue
			}
			bm, _, err := c.resolve(bm, refs)
			if err != nil {
				return nil, err
			}
			mergeSchema(merged, bm)
		}
		return c.convert(merged, depth+1, refs)
	}
	branches, hasAny := node["anyOf"].([]any)
	if one, isList := node["oneOf"].([]any); isList && !hasAny {
		branches, hasAny = one, true
	}
	if hasAny {
		var kept []any
		for _, b := range branches {
			bm, isMap := b.(map[string]any)
			if !isMap {
				return nil, errInexpressible
			}
			if t, _ := bm["type"].(string); t == "null" && len(bm) == 1 {
				nullable = true
				continue
			}
			cb, err := c.convert(bm, depth+1, refs)
			if err != nil {
				return nil, err
			}
			kept = append(kept, cb)
		}
		switch len(kept) {
		case 0:
			return nil, errInexpressible
		case 1:
			for k, v := range kept[0].(map[string]any) {
				out[k] = v
			}
		default:
			out["anyOf"] = kept
		}
	}

	// type: a name or a list of names.
	var types []string
	switch t := node["type"].(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			if s, isStr := x.(string); isStr {
				types = append(types, s)
			}
		}
	}
	var named []string
	for _, t := range types {
		if t == "null" {
			nullable = true
			continue
		}
		if up, known := schemaTypes[t]; known {
			named = append(named, up)
		}
	}
	switch {
	case len(named) == 1:
		out["type"] = named[0]
	case len(named) > 1:
		var alts []any
		for _, t := range named {
			alt := map[string]any{"type": t}
			if t == "ARRAY" || t == "OBJECT" {
				// Structural keywords belong to their branch.
				sub := map[string]any{"type": strings.ToLower(t)}
				for _, k := range []string{"items", "properties", "required", "additionalProperties", "minItems", "maxItems"} {
					if v, has := node[k]; has {
						sub[k] = v
					}
				}
				cs, err := c.convert(sub, depth+1, refs)
				if err != nil {
					return nil, err
				}
				alt = cs
			}
			alts = append(alts, alt)
		}
		out["anyOf"] = alts
	}

	if v, has := node["const"]; has {
		if v == nil {
			nullable = true
		} else {
			out["enum"] = []any{stringifyEnum(v)}
			if _, typed := out["type"]; !typed {
				out["type"] = jsonKind(v)
			}
		}
	}
	if list, isList := node["enum"].([]any); isList {
		var vals []any
		for _, v := range list {
			if v == nil {
				nullable = true
				continue
			}
			vals = append(vals, stringifyEnum(v))
		}
		if len(vals) > 0 {
			out["enum"] = vals
		}
	}

	if props, isMap := node["properties"].(map[string]any); isMap {
		cp := map[string]any{}
		for name, p := range props {
			pm, isMap := p.(map[string]any)
			if !isMap {
				if b, isBool := p.(bool); isBool && !b {
					continue // a property that must not appear
				}
				return nil, errInexpressible
			}
			cs, err := c.convert(pm, depth+1, refs)
			if err != nil {
				return nil, err
			}
			cp[name] = cs
		}
		out["properties"] = cp
		if req, isList := node["required"].([]any); isList {
			var keep []any
			for _, r := range req {
				if s, isStr := r.(string); isStr {
					if _, exists := cp[s]; exists {
						keep = append(keep, s)
					}
				}
			}
			if len(keep) > 0 {
				out["required"] = keep
			}
		}
		if ord, isList := node["propertyOrdering"].([]any); isList {
			out["propertyOrdering"] = ord
		}
	}
	switch items := node["items"].(type) {
	case map[string]any:
		cs, err := c.convert(items, depth+1, refs)
		if err != nil {
			return nil, err
		}
		out["items"] = cs
	case []any:
		return nil, errInexpressible // tuple
	}
	if ap, has := node["additionalProperties"]; has && c.api != APIGemini {
		switch v := ap.(type) {
		case bool:
			out["additionalProperties"] = v
		case map[string]any:
			if cs, err := c.convert(v, depth+1, refs); err == nil {
				out["additionalProperties"] = cs
			}
		}
	}

	for _, k := range []string{"description", "title", "pattern"} {
		if s, isStr := node[k].(string); isStr && s != "" {
			out[k] = s
		}
	}
	if f, isStr := node["format"].(string); isStr && f != "" {
		if c.api != APIGemini || f == "enum" || f == "date-time" {
			out["format"] = f
		}
	}
	for _, k := range []string{"minimum", "maximum", "minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties"} {
		if n, isNum := node[k].(json.Number); isNum {
			out[k] = n
		}
	}
	for _, k := range []string{"default", "example"} {
		if v, has := node[k]; has {
			out[k] = v
		}
	}
	if _, has := out["example"]; !has {
		if ex, isList := node["examples"].([]any); isList && len(ex) > 0 {
			out["example"] = ex[0]
		}
	}
	if b, isBool := node["nullable"].(bool); isBool && b {
		nullable = true
	}
	if nullable {
		out["nullable"] = true
	}

	// Infer a missing type; Google requires one on every node.
	if _, typed := out["type"]; !typed {
		if _, union := out["anyOf"]; !union {
			switch {
			case out["properties"] != nil:
				out["type"] = "OBJECT"
			case out["items"] != nil:
				out["type"] = "ARRAY"
			case out["enum"] != nil:
				out["type"] = "STRING"
			default:
				return nil, errInexpressible // any value
			}
		}
	}
	if t := out["type"]; out["enum"] != nil && (t == "INTEGER" || t == "NUMBER") && out["format"] == nil {
		out["format"] = "enum" // as in Google's example {type:INTEGER, format:enum, enum:["101", …]}
	}
	switch out["type"] {
	case "OBJECT":
		if len(asMap(out["properties"])) == 0 && depth > 0 {
			return nil, errInexpressible // free-form nested object
		}
	case "ARRAY":
		if out["items"] == nil {
			return nil, errInexpressible // array of anything
		}
	}
	return out, nil
}

// resolve follows a local $ref, merging the referring node's own keywords
// (description, …) over the target. refs is the chain of references being
// expanded: meeting one again means recursion, which the subset cannot say.
func (c *schemaCleaner) resolve(node map[string]any, refs []string) (map[string]any, []string, error) {
	for {
		ref, isStr := node["$ref"].(string)
		if !isStr {
			return node, refs, nil
		}
		for _, r := range refs {
			if r == ref {
				return nil, nil, errInexpressible
			}
		}
		target, found := c.defs[ref]
		tm, isMap := target.(map[string]any)
		if !found || !isMap {
			return nil, nil, errInexpressible
		}
		refs = append(refs[:len(refs):len(refs)], ref)
		merged := make(map[string]any, len(tm)+len(node))
		for k, v := range tm {
			merged[k] = v
		}
		for k, v := range node {
			if k != "$ref" {
				merged[k] = v
			}
		}
		node = merged
	}
}

// mergeSchema folds src into dst (allOf): properties and required are
// unioned, other keywords already in dst win.
func mergeSchema(dst, src map[string]any) {
	for k, v := range src {
		switch k {
		case "properties":
			dp := asMap(dst["properties"])
			if dp == nil {
				dp = map[string]any{}
			}
			for name, p := range asMap(v) {
				dp[name] = p
			}
			dst["properties"] = dp
		case "required":
			have := map[string]bool{}
			dr, _ := dst["required"].([]any)
			for _, r := range dr {
				if s, isStr := r.(string); isStr {
					have[s] = true
				}
			}
			sr, _ := v.([]any)
			for _, r := range sr {
				if s, isStr := r.(string); isStr && !have[s] {
					dr = append(dr, s)
					have[s] = true
				}
			}
			dst["required"] = dr
		default:
			if _, has := dst[k]; !has {
				dst[k] = v
			}
		}
	}
}

func stringifyEnum(v any) any {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func jsonKind(v any) string {
	switch x := v.(type) {
	case string:
		return "STRING"
	case bool:
		return "BOOLEAN"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return "INTEGER"
		}
		return "NUMBER"
	case []any:
		return "ARRAY"
	}
	return "OBJECT"
}
