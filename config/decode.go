package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
)

var durationType = reflect.TypeOf(time.Duration(0))

// decodeHook converts what TOML, YAML and the environment give into the
// field types: durations from strings with a unit ("250ms", "5s"), lists
// from comma-separated strings (XJP_SERVER_CORS_ORIGINS="a,b"), and refuses
// bare numbers as durations and fractions as whole numbers.
func decodeHook() mapstructure.DecodeHookFunc {
	return mapstructure.ComposeDecodeHookFunc(durationHook, listHook, wholeHook)
}

func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != durationType || from == durationType {
		return data, nil
	}
	switch from.Kind() {
	case reflect.String:
		s := strings.TrimSpace(data.(string))
		if s == "" || s == "0" {
			return time.Duration(0), nil
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("want a duration such as \"250ms\", \"30s\" or \"2m\", got %q", data)
		}
		return d, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		if reflect.ValueOf(data).IsZero() {
			return time.Duration(0), nil
		}
		return nil, fmt.Errorf("want a duration with a unit, such as \"%vs\", got the bare number %v", data, data)
	}
	return data, nil
}

func listHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to.Kind() != reflect.Slice || to.Elem().Kind() != reflect.String {
		return data, nil
	}
	var out []string
	for _, s := range strings.Split(data.(string), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

func wholeHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.Float64 && from.Kind() != reflect.Float32 {
		return data, nil
	}
	switch to.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		f := reflect.ValueOf(data).Float()
		if f != math.Trunc(f) || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("want a whole number, got %v", f)
		}
	}
	return data, nil
}

// decodeErrors turns mapstructure's errors into one error per key, each
// naming where the value came from, the key path and the problem.
func (c *Config) decodeErrors(err error) []error {
	var out []error
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		de, ok := err.(*mapstructure.DecodeError)
		if !ok {
			// Decode wraps everything in "decoding failed due to …".
			if inner := errors.Unwrap(err); inner != nil {
				walk(inner)
			} else {
				out = append(out, c.problem("", "%v", err))
			}
			return
		}
		inner := de.Unwrap()
		if j, ok := inner.(interface{ Unwrap() []error }); ok {
			walk(j.(error))
			return
		}
		key := keyPath(de.Name())
		out = append(out, c.problem(key, "%s", describeDecodeError(inner, isSecret(key))))
	}
	walk(err)
	return out
}

// isSecret reports whether the key at path p may hold a secret, whose value
// an error must not show.
func isSecret(p string) bool {
	last := p[strings.LastIndexAny(p, ".[")+1:]
	return last == "api_key" || last == "token" || last == "dsn" || last == "url" || strings.Contains(p, ".headers")
}

func describeDecodeError(err error, secret bool) string {
	var ute *mapstructure.UnconvertibleTypeError
	var pe *mapstructure.ParseError
	show := got
	if secret {
		show = func(v any) string { return kindWord(reflect.ValueOf(v).Kind().String()) }
	}
	switch {
	case errors.As(err, &ute):
		return fmt.Sprintf("want %s, got %s", want(ute.Expected.Type()), show(ute.Value))
	case errors.As(err, &pe):
		return fmt.Sprintf("want %s, got %s", want(pe.Expected.Type()), show(pe.Value))
	}
	msg := err.Error()
	if kind, ok := strings.CutPrefix(msg, "source data must be an array or slice, got "); ok {
		return "want a list, got " + kindWord(kind)
	}
	if kind, ok := strings.CutPrefix(msg, "expected a map or struct, got "); ok {
		return "want a table, got " + kindWord(strings.Trim(kind, `"`))
	}
	return msg
}

// kindWord names a reflect.Kind the way a config file user would.
func kindWord(kind string) string {
	switch kind {
	case "map", "struct":
		return "a table (for a list of tables, use [[double brackets]] in TOML or \"- \" items in YAML)"
	case "slice", "array":
		return "a list"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	}
	return kind
}

// want describes what a field of type t takes.
func want(t reflect.Type) string {
	if t == durationType {
		return `a duration such as "30s"`
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a table"
	case reflect.Pointer:
		return want(t.Elem())
	}
	return t.String()
}

// got describes a value from the file or the environment. Strings are
// quoted (and shortened): no secret field can fail to decode from a string.
func got(v any) string {
	switch v := v.(type) {
	case nil:
		return "nothing"
	case string:
		if len(v) > 40 {
			v = v[:37] + "..."
		}
		return fmt.Sprintf("%q", v)
	case bool:
		return fmt.Sprintf("%v", v)
	case map[string]any, map[any]any:
		return "a table"
	case []any:
		return "a list"
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return fmt.Sprintf("%v", v)
	case reflect.Slice:
		return "a list"
	case reflect.Map:
		return "a table"
	}
	return fmt.Sprintf("a %T", v)
}

var providerIndex = regexp.MustCompile(`^providers\[([^\]]*)\]`)

// keyPath rewrites mapstructure's "providers[openrouter].kind" as
// "providers.openrouter.kind"; list indexes stay ("models[1].routes[0]").
func keyPath(name string) string {
	return providerIndex.ReplaceAllString(name, "providers.$1")
}

// suggest returns the known key closest to the unknown key path p (its last
// element misspelt), or "".
func suggest(p string) string {
	parent, last := p, p
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		parent, last = p[:i], p[i+1:]
	} else {
		parent = ""
	}
	t := typeAt(reflect.TypeOf(Config{}), parent)
	if t == nil || t.Kind() != reflect.Struct {
		return ""
	}
	best, bestD := "", -1
	for i := range t.NumField() {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("mapstructure"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		d := editDistance(strings.ToLower(last), tag)
		if (d <= 2 || d*3 <= len(tag)) && (bestD < 0 || d < bestD) {
			best, bestD = tag, d
		}
	}
	return best
}

// typeAt follows a key path ("models[0].routes[1]", "providers.x") from t.
func typeAt(t reflect.Type, p string) reflect.Type {
	for p != "" && t != nil {
		var seg string
		seg, p, _ = strings.Cut(p, ".")
		name, _, _ := strings.Cut(seg, "[")
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Struct:
			var next reflect.Type
			for i := range t.NumField() {
				f := t.Field(i)
				if strings.Split(f.Tag.Get("mapstructure"), ",")[0] == name {
					next = f.Type
				}
			}
			t = next
		case reflect.Map:
			t = t.Elem()
			continue
		default:
			return nil
		}
		if t != nil && strings.Contains(seg, "[") {
			t = t.Elem() // list element or map value
		}
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
