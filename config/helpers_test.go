package config

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testdata is the absolute testdata directory: tests may change directory.
var testdata = func() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Join(wd, "testdata")
}()

// testHome is the HOME of every test environment: the data dir derives from
// it without touching the disk.
const testHome = "/nonexistent/home"

// env returns a Getenv over vars, with HOME set unless vars sets it.
func env(vars map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		if k == "HOME" {
			return testHome
		}
		return ""
	}
}

// mustLoad loads with a hermetic environment and fails the test on error.
func mustLoad(t *testing.T, file string, vars map[string]string) *Config {
	t.Helper()
	c, err := Load(LoadOptions{File: file, Getenv: env(vars)})
	if err != nil {
		t.Fatalf("Load(%q): %v", file, err)
	}
	return c
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(testdata, name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./config -update to create it)", err)
	}
	if got != string(want) {
		path, _ = filepath.Rel(filepath.Dir(testdata), path)
		t.Errorf("%s differs (go test ./config -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// dump prints every exported field of c, one "key = value" line each, in a
// stable order; values held in interfaces show their Go type, so that TOML
// and YAML decoding into different number types shows up.
func dump(c *Config) string {
	var lines []string
	dumpValue(&lines, "", reflect.ValueOf(*c))
	return strings.Join(lines, "\n") + "\n"
}

func dumpValue(lines *[]string, key string, v reflect.Value) {
	add := func(val string) { *lines = append(*lines, key+" = "+val) }
	join := func(k string) string {
		if key == "" {
			return k
		}
		return key + "." + k
	}
	if v.Type() == durationType {
		add(time.Duration(v.Int()).String())
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := strings.Split(f.Tag.Get("mapstructure"), ",")[0]
			if name == "" || name == "-" {
				name = strings.ToLower(f.Name)
			}
			dumpValue(lines, join(name), v.Field(i))
		}
	case reflect.Map:
		if v.Len() == 0 {
			add("{}")
			return
		}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			dumpValue(lines, key+"["+strconv.Quote(k.String())+"]", v.MapIndex(k))
		}
	case reflect.Slice:
		if v.Len() == 0 {
			add("[]")
			return
		}
		for i := range v.Len() {
			dumpValue(lines, fmt.Sprintf("%s[%d]", key, i), v.Index(i))
		}
	case reflect.Pointer:
		if v.IsNil() {
			add("nil")
			return
		}
		dumpValue(lines, key, v.Elem())
	case reflect.Interface:
		if v.IsNil() {
			add("null")
			return
		}
		e := v.Elem()
		switch e.Kind() {
		case reflect.Map, reflect.Slice:
			dumpValue(lines, key, e)
		default:
			add(fmt.Sprintf("%T(%#v)", e.Interface(), e.Interface()))
		}
	case reflect.String:
		add(strconv.Quote(v.String()))
	default:
		add(fmt.Sprint(v.Interface()))
	}
}

// lines returns the lines of a dump that start with prefix.
func lines(d, prefix string) string {
	var out []string
	for _, l := range strings.Split(d, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
