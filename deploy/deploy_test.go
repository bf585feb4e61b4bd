package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/rickyjim626/xjp/config"
)

// manifest is one Kubernetes object of a file.
type manifest struct {
	file string
	obj  map[string]any
}

func (m manifest) kind() string { return str(m.obj["kind"]) }
func (m manifest) name() string { return str(at(m.obj, "metadata", "name")) }

// loadManifests parses every YAML file of kubernetes/, all documents.
func loadManifests(t *testing.T) []manifest {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("kubernetes", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	var out []manifest
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var obj map[string]any
			err := dec.Decode(&obj)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if obj == nil {
				continue
			}
			out = append(out, manifest{file: filepath.Base(f), obj: obj})
		}
	}
	return out
}

func find(t *testing.T, ms []manifest, kind string) manifest {
	t.Helper()
	for _, m := range ms {
		if m.kind() == kind {
			return m
		}
	}
	t.Fatalf("no %s manifest", kind)
	return manifest{}
}

// at follows a path of map keys (string) and list indexes (int).
func at(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func list(v any) []any { l, _ := v.([]any); return l }

// byName returns the element of a list of objects whose "name" is name.
func byName(l any, name string) map[string]any {
	for _, e := range list(l) {
		if m, ok := e.(map[string]any); ok && m["name"] == name {
			return m
		}
	}
	return nil
}

func TestManifestsParse(t *testing.T) {
	ms := loadManifests(t)
	kinds := map[string]bool{}
	for _, m := range ms {
		if m.kind() == "" || str(m.obj["apiVersion"]) == "" {
			t.Errorf("%s: an object without apiVersion or kind", m.file)
		}
		if m.kind() != "Kustomization" && m.name() == "" {
			t.Errorf("%s: %s without metadata.name", m.file, m.kind())
		}
		if ns := at(m.obj, "metadata", "namespace"); ns != nil {
			t.Errorf("%s: namespace %v set: the manifests are namespace-agnostic", m.file, ns)
		}
		kinds[m.kind()] = true
	}
	for _, k := range []string{"Deployment", "Service", "HorizontalPodAutoscaler", "ConfigMap", "Secret", "Kustomization"} {
		if !kinds[k] {
			t.Errorf("no %s", k)
		}
	}

	// The kustomization lists every manifest but the examples.
	k := find(t, ms, "Kustomization")
	var listed []string
	for _, r := range list(k.obj["resources"]) {
		listed = append(listed, str(r))
		if _, err := os.Stat(filepath.Join("kubernetes", str(r))); err != nil {
			t.Errorf("kustomization resource %v: %v", r, err)
		}
	}
	files, _ := filepath.Glob(filepath.Join("kubernetes", "*.yaml"))
	for _, f := range files {
		b := filepath.Base(f)
		if b == "kustomization.yaml" || strings.HasSuffix(b, ".example.yaml") {
			if slices.Contains(listed, b) {
				t.Errorf("kustomization applies %s", b)
			}
			continue
		}
		if !slices.Contains(listed, b) {
			t.Errorf("kustomization does not list %s", b)
		}
	}
	d := find(t, ms, "Deployment")
	image := str(at(d.obj, "spec", "template", "spec", "containers", 0, "image"))
	if repo, _, _ := strings.Cut(image, ":"); str(at(k.obj, "images", 0, "name")) != repo {
		t.Errorf("kustomization images[0].name %v does not name the Deployment's image %s", at(k.obj, "images", 0, "name"), image)
	}
}

func TestDeployment(t *testing.T) {
	ms := loadManifests(t)
	d := find(t, ms, "Deployment")
	spec := at(d.obj, "spec", "template", "spec")
	c := at(spec, "containers", 0)

	if r := at(d.obj, "spec", "replicas"); r != 2 {
		t.Errorf("replicas %v, want 2", r)
	}
	labels := at(d.obj, "spec", "template", "metadata", "labels").(map[string]any)
	for k, v := range at(d.obj, "spec", "selector", "matchLabels").(map[string]any) {
		if labels[k] != v {
			t.Errorf("selector %s=%v does not match the pod labels", k, v)
		}
	}

	port := byName(at(c, "ports"), "http")
	if port == nil || port["containerPort"] != 8080 {
		t.Fatalf("container port http: %v", port)
	}
	for probe, path := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz", "startupProbe": "/healthz"} {
		get := at(c, probe, "httpGet")
		if str(at(get, "path")) != path || str(at(get, "port")) != "http" {
			t.Errorf("%s: %v, want GET %s on port http", probe, get, path)
		}
	}
	args := strings.Join(strings.Fields(fmt.Sprint(list(at(c, "args")))), " ")
	if args != "[serve --headless --listen 0.0.0.0:8080]" {
		t.Errorf("args %s", args)
	}

	// Non-root, read-only root filesystem, /tmp writable.
	if at(spec, "securityContext", "runAsNonRoot") != true && at(c, "securityContext", "runAsNonRoot") != true {
		t.Error("runAsNonRoot is not set")
	}
	if uid := at(spec, "securityContext", "runAsUser"); uid == 0 || uid == nil {
		t.Errorf("runAsUser %v", uid)
	}
	if at(c, "securityContext", "readOnlyRootFilesystem") != true || at(c, "securityContext", "allowPrivilegeEscalation") != false {
		t.Errorf("container securityContext %v", at(c, "securityContext"))
	}
	mounts := map[string]string{}
	for _, m := range list(at(c, "volumeMounts")) {
		mounts[str(at(m, "mountPath"))] = str(at(m, "name"))
	}
	if v := byName(at(spec, "volumes"), mounts["/tmp"]); v == nil || v["emptyDir"] == nil {
		t.Errorf("/tmp is not an emptyDir: %v", v)
	}

	// Resources sized for a ~40 MB process, requests below limits.
	for _, r := range []string{"cpu", "memory"} {
		req, lim := str(at(c, "resources", "requests", r)), str(at(c, "resources", "limits", r))
		if req == "" || lim == "" {
			t.Errorf("resources %s: request %q, limit %q", r, req, lim)
		}
	}
	if mem := str(at(c, "resources", "requests", "memory")); mem != "64Mi" {
		t.Errorf("memory request %s", mem)
	}

	// Config from the ConfigMap, mounted where XJP_CONFIG points.
	env := map[string]string{}
	for _, e := range list(at(c, "env")) {
		env[str(at(e, "name"))] = str(at(e, "value"))
	}
	cm := find(t, ms, "ConfigMap")
	cfgPath := env["XJP_CONFIG"]
	dir, file := filepath.Split(cfgPath)
	vol := byName(at(spec, "volumes"), mounts[strings.TrimSuffix(dir, "/")])
	if vol == nil || str(at(vol, "configMap", "name")) != cm.name() {
		t.Errorf("XJP_CONFIG %s is not in a volume of ConfigMap %s: %v", cfgPath, cm.name(), vol)
	}
	if at(cm.obj, "data", file) == nil {
		t.Errorf("ConfigMap %s has no %s", cm.name(), file)
	}
	if env["XJP_STORE_DRIVER"] != "postgres" {
		t.Errorf("XJP_STORE_DRIVER %q", env["XJP_STORE_DRIVER"])
	}

	// Secrets from the Secret.
	sec := find(t, ms, "Secret")
	if str(at(c, "envFrom", 0, "secretRef", "name")) != sec.name() {
		t.Errorf("envFrom %v does not name Secret %s", at(c, "envFrom"), sec.name())
	}

	// The Service and the HPA reach the Deployment.
	svc := find(t, ms, "Service")
	for k, v := range at(svc.obj, "spec", "selector").(map[string]any) {
		if labels[k] != v {
			t.Errorf("Service selector %s=%v does not match the pods", k, v)
		}
	}
	if tp := str(at(svc.obj, "spec", "ports", 0, "targetPort")); tp != "http" && tp != "8080" {
		t.Errorf("Service targetPort %s", tp)
	}
	hpa := find(t, ms, "HorizontalPodAutoscaler")
	if str(at(hpa.obj, "spec", "scaleTargetRef", "name")) != d.name() || str(at(hpa.obj, "spec", "scaleTargetRef", "kind")) != "Deployment" {
		t.Errorf("HPA target %v", at(hpa.obj, "spec", "scaleTargetRef"))
	}
	if str(at(hpa.obj, "spec", "metrics", 0, "resource", "name")) != "cpu" {
		t.Errorf("HPA metric %v", at(hpa.obj, "spec", "metrics"))
	}
	if min, _ := at(hpa.obj, "spec", "minReplicas").(int); min < 2 {
		t.Errorf("HPA minReplicas %d", min)
	}

	// The pod runs as the image's user, with its data dir mounted.
	df := parseDockerfile(t)
	if user := str(at(spec, "securityContext", "runAsUser")); !strings.HasPrefix(df.user, user+":") && df.user != user {
		t.Errorf("runAsUser %s, Dockerfile USER %s", user, df.user)
	}
	if mounts[df.env["XJP_DATA_DIR"]] == "" {
		t.Errorf("the data dir %s (Dockerfile ENV XJP_DATA_DIR) is not mounted: a read-only root filesystem", df.env["XJP_DATA_DIR"])
	}
}

// TestEnvNames loads the ConfigMap's config file with the environment the
// pod gets (Dockerfile ENV, Deployment env, Secret), recording every
// variable config.Load asks for: each variable the manifests set must be
// one of them, and the result must be a valid config that uses them.
func TestEnvNames(t *testing.T) {
	ms := loadManifests(t)
	d := find(t, ms, "Deployment")
	c := at(d.obj, "spec", "template", "spec", "containers", 0)
	cm := find(t, ms, "ConfigMap")
	sec := find(t, ms, "Secret")
	df := parseDockerfile(t)

	env := map[string]string{}
	from := map[string]string{}
	for k, v := range df.env {
		env[k], from[k] = v, "Dockerfile"
	}
	for _, e := range list(at(c, "env")) {
		env[str(at(e, "name"))], from[str(at(e, "name"))] = str(at(e, "value")), d.file
	}
	for k, v := range at(sec.obj, "stringData").(map[string]any) {
		env[k], from[k] = str(v), sec.file
	}
	// The config file where the pod has it, here.
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, filepath.Base(env["XJP_CONFIG"]))
	if err := os.WriteFile(cfgFile, []byte(str(at(cm.obj, "data", filepath.Base(env["XJP_CONFIG"])))), 0o600); err != nil {
		t.Fatal(err)
	}
	env["XJP_CONFIG"] = cfgFile
	env["XJP_DATA_DIR"] = filepath.Join(dir, "data")
	env["HOME"] = dir

	asked := map[string]bool{}
	getenv := func(k string) string { asked[k] = true; return env[k] }
	cfg, err := config.Load(config.LoadOptions{Getenv: getenv})
	if err != nil {
		t.Fatalf("the manifests' config does not load: %v", err)
	}
	if w := cfg.Warnings(); len(w) > 0 {
		t.Errorf("warnings: %q", w)
	}

	runtimeVars := map[string]bool{"GOMEMLIMIT": true, "GOMAXPROCS": true, "GOGC": true, "GODEBUG": true}
	for name := range from {
		if runtimeVars[name] {
			continue
		}
		if !asked[name] {
			t.Errorf("%s sets %s, which config.Load never reads", from[name], name)
		}
	}

	sv := at(sec.obj, "stringData").(map[string]any)
	switch {
	case cfg.Store.Driver != "postgres":
		t.Errorf("store.driver %q", cfg.Store.Driver)
	case cfg.Store.DSN != sv["XJP_STORE_DSN"]:
		t.Errorf("store.dsn %q, want the Secret's", cfg.Store.DSN)
	case cfg.Redis.URL != sv["XJP_REDIS_URL"]:
		t.Errorf("redis.url %q, want the Secret's", cfg.Redis.URL)
	case cfg.Admin.Token != sv["XJP_ADMIN_TOKEN"]:
		t.Errorf("admin.token %q, want the Secret's", cfg.Admin.Token)
	case cfg.Log.Format != "json":
		t.Errorf("log.format %q", cfg.Log.Format)
	}
	if _, demo := cfg.Model("demo"); demo {
		t.Error("the demo model is served in production")
	}
	for name, p := range cfg.Providers {
		if p.Key(getenv) == "" {
			t.Errorf("provider %s has no key from the Secret (api_key_env %q)", name, p.APIKeyEnv)
		}
	}
	_, port, _ := strings.Cut(cfg.Server.Listen, ":")
	if n, _ := strconv.Atoi(port); n != 8080 {
		t.Errorf("server.listen %s, want port 8080", cfg.Server.Listen)
	}
	grace := at(d.obj, "spec", "template", "spec", "terminationGracePeriodSeconds").(int)
	if cfg.Server.ShutdownGrace.Seconds() >= float64(grace) {
		t.Errorf("server.shutdown_grace %v is not below terminationGracePeriodSeconds %d", cfg.Server.ShutdownGrace, grace)
	}
}

// dockerfile is what the tests read from ../Dockerfile.
type dockerfile struct {
	stages []string // FROM images
	args   map[string]string
	env    map[string]string
	user   string
	expose []string
	run    []string
	entry  string
	cmd    string
	volume string
}

func parseDockerfile(t *testing.T) dockerfile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines, drop comments.
	var logical []string
	var cur strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		trim := strings.TrimSpace(line)
		if strings.HasPrefix(trim, "#") || (trim == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(trim, `\`) {
			cur.WriteString(strings.TrimSuffix(trim, `\`) + " ")
			continue
		}
		cur.WriteString(trim)
		logical = append(logical, cur.String())
		cur.Reset()
	}
	if cur.Len() > 0 {
		t.Fatal("Dockerfile ends with a continuation line")
	}
	df := dockerfile{args: map[string]string{}, env: map[string]string{}}
	for _, l := range logical {
		instr, rest, _ := strings.Cut(l, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM":
			df.stages = append(df.stages, rest)
			df.user = "" // USER is per stage
		case "ARG":
			k, v, _ := strings.Cut(rest, "=")
			if _, seen := df.args[k]; !seen || v != "" {
				df.args[k] = v
			}
		case "ENV":
			k, v, ok := strings.Cut(rest, "=")
			if !ok {
				t.Errorf("ENV %q: use NAME=value", rest)
			}
			df.env[k] = v
		case "USER":
			df.user = rest
		case "EXPOSE":
			df.expose = append(df.expose, strings.Fields(rest)...)
		case "RUN":
			df.run = append(df.run, rest)
		case "ENTRYPOINT":
			df.entry = rest
		case "CMD":
			df.cmd = rest
		case "VOLUME":
			df.volume = rest
		case "WORKDIR", "COPY", "ADD", "LABEL", "HEALTHCHECK", "SHELL", "STOPSIGNAL", "ONBUILD":
		default:
			t.Errorf("Dockerfile: unknown instruction %q", instr)
		}
	}
	return df
}

func TestDockerfile(t *testing.T) {
	df := parseDockerfile(t)
	if len(df.stages) != 2 {
		t.Fatalf("stages %q, want build and runtime", df.stages)
	}

	// The build stage: the go.mod Go version, pure Go, reproducible, version stamped.
	gomod, _ := os.ReadFile(filepath.Join("..", "go.mod"))
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("no go directive in go.mod")
	}
	if want := "golang:${GO_VERSION} AS build"; df.stages[0] != want || df.args["GO_VERSION"] != string(m[1]) {
		t.Errorf("build stage FROM %q with GO_VERSION=%s, want %q with go.mod's %s", df.stages[0], df.args["GO_VERSION"], want, m[1])
	}
	build := strings.Join(df.run, "\n")
	for _, s := range []string{"CGO_ENABLED=0", "go build", "-trimpath", "./cmd/xjp"} {
		if !strings.Contains(build, s) {
			t.Errorf("the build does not use %q", s)
		}
	}
	// The ldflags name variables that exist.
	src, _ := os.ReadFile(filepath.Join("..", "internal", "cli", "build.go"))
	for _, v := range []string{"Version", "Commit", "Date"} {
		if !strings.Contains(build, "-X github.com/rickyjim626/xjp/internal/cli."+v+"=") {
			t.Errorf("ldflags do not set internal/cli.%s", v)
		}
		if !regexp.MustCompile(`(?m)^\s*` + v + `\s+=`).Match(src) {
			t.Errorf("internal/cli/build.go has no variable %s", v)
		}
	}

	// The runtime stage: minimal, non-root, the server on every interface.
	if rt := df.stages[1]; !strings.HasPrefix(rt, "gcr.io/distroless/static") && rt != "scratch" {
		t.Errorf("runtime image %q", rt)
	}
	if df.user == "" || strings.HasPrefix(df.user, "0") || strings.HasPrefix(df.user, "root") {
		t.Errorf("USER %q: run as non-root", df.user)
	}
	if !slices.Contains(df.expose, "8080") {
		t.Errorf("EXPOSE %q", df.expose)
	}
	if df.entry != `["/usr/local/bin/xjp"]` || df.cmd != `["serve", "--headless", "--listen", "0.0.0.0:8080"]` {
		t.Errorf("ENTRYPOINT %s CMD %s", df.entry, df.cmd)
	}
	if dir := df.env["XJP_DATA_DIR"]; dir == "" || !strings.Contains(df.volume, dir) {
		t.Errorf("data dir %q, VOLUME %s", dir, df.volume)
	}

	// The build context keeps what the build needs.
	ignore, err := os.ReadFile(filepath.Join("..", ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Split(string(ignore), "\n") {
		p = strings.TrimSpace(p)
		if p == "" || strings.HasPrefix(p, "#") || strings.HasPrefix(p, "!") {
			continue
		}
		for _, need := range []string{"go.mod", "go.sum", "cmd", "config", "internal", "tui", "internal/store/migrations"} {
			if ok, _ := filepath.Match(strings.Trim(p, "/"), need); ok {
				t.Errorf(".dockerignore %q excludes %s, which the build needs", p, need)
			}
		}
	}
}
