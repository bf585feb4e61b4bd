package vertex

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/internal/llm"
)

// fakeTokenServer is a Google OAuth2 token endpoint for the JWT-bearer
// grant. Each request gets the next token; expiresIn[i] is its lifetime.
type fakeTokenServer struct {
	t         *testing.T
	mu        sync.Mutex
	issued    int
	expiresIn []int
}

func (f *fakeTokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	if g := r.PostForm.Get("grant_type"); g != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		f.t.Errorf("grant_type = %q", g)
	}
	segs := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(segs) != 3 {
		f.t.Errorf("assertion is not a JWT")
		http.Error(w, "bad assertion", 400)
		return
	}
	payload, _ := base64.RawURLEncoding.DecodeString(segs[1])
	var claims struct {
		Iss, Scope, Aud string
	}
	_ = json.Unmarshal(payload, &claims)
	if claims.Iss != "xjp-test@sa-proj.iam.gserviceaccount.com" || claims.Scope != CloudPlatformScope {
		f.t.Errorf("claims = %+v", claims)
	}
	f.mu.Lock()
	f.issued++
	n := f.issued
	exp := 3600
	if n-1 < len(f.expiresIn) {
		exp = f.expiresIn[n-1]
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("sa-token-%d", n), "token_type": "Bearer", "expires_in": exp})
}

func (f *fakeTokenServer) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issued
}

// writeServiceAccount writes a service-account key file whose token_uri is
// tokenURL, with a fresh RSA key.
func writeServiceAccount(t *testing.T, tokenURL string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	sa := map[string]string{
		"type":           "service_account",
		"project_id":     "sa-proj",
		"private_key_id": "kid-1",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   "xjp-test@sa-proj.iam.gserviceaccount.com",
		"client_id":      "1234567890",
		"auth_uri":       "https://accounts.google.com/o/oauth2/auth",
		"token_uri":      tokenURL,
	}
	b, _ := json.Marshal(sa)
	path := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestServiceAccountAuth(t *testing.T) {
	// Token 1 lives an hour (cached), token 2 lives 61 s, which with a 60 s
	// refresh margin means about one second, token 3 an hour.
	tokens := &fakeTokenServer{t: t, expiresIn: []int{3600, 61, 3600}}
	tokenSrv := httptest.NewServer(tokens)
	defer tokenSrv.Close()
	f := &fakeVertex{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	var logs bytes.Buffer
	c := newTestClient(t, ClientOptions{
		Name:               "sa",
		CredentialsFile:    writeServiceAccount(t, tokenSrv.URL+"/token"),
		Region:             "us-east5",
		BaseURL:            srv.URL,
		TokenRefreshMargin: time.Minute,
		Logger:             slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})

	call := func() string {
		t.Helper()
		s, err := c.Stream(context.Background(), userCall("gemini-2.5-pro"))
		if err != nil {
			t.Fatalf("Stream: %v", err)
		}
		if _, err := llm.Collect(s); err != nil {
			t.Fatal(err)
		}
		r := f.last(t)
		if !strings.Contains(r.Path, "/projects/sa-proj/locations/us-east5/") {
			t.Errorf("path %s does not use the service account's project", r.Path)
		}
		if r.Header.Get("X-Goog-Api-Key") != "" {
			t.Error("api key header sent with oauth")
		}
		return r.Header.Get("Authorization")
	}

	if a, b := call(), call(); a != "Bearer sa-token-1" || b != a || tokens.count() != 1 {
		t.Fatalf("cached token: got %q, %q after %d token requests", a, b, tokens.count())
	}

	// A second client (its own cache) gets token 2, which is valid for about
	// a second once the margin is taken off: reused at once, refreshed after.
	c2 := newTestClient(t, ClientOptions{
		CredentialsFile: writeServiceAccount(t, tokenSrv.URL+"/token"), Project: "sa-proj", Region: "us-east5",
		BaseURL: srv.URL, TokenRefreshMargin: time.Minute,
	})
	c = c2
	if a := call(); a != "Bearer sa-token-2" {
		t.Fatalf("got %q, want token 2", a)
	}
	if a := call(); a != "Bearer sa-token-2" {
		t.Fatalf("token 2 not reused before its refresh point: %q", a)
	}
	time.Sleep(1500 * time.Millisecond)
	if a := call(); a != "Bearer sa-token-3" {
		t.Fatalf("token not refreshed before expiry: %q", a)
	}
	if tokens.count() != 3 {
		t.Errorf("token requests = %d, want 3", tokens.count())
	}
	if strings.Contains(logs.String(), "sa-token") {
		t.Errorf("a token was logged: %s", logs.String())
	}
}

func TestDefaultRefreshMargin(t *testing.T) {
	// A token that expires within the default 5-minute margin is refreshed
	// on every use: the margin is really applied to service accounts.
	tokens := &fakeTokenServer{t: t, expiresIn: []int{200, 200}}
	tokenSrv := httptest.NewServer(tokens)
	defer tokenSrv.Close()
	f := &fakeVertex{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := newTestClient(t, ClientOptions{CredentialsFile: writeServiceAccount(t, tokenSrv.URL+"/token"), BaseURL: srv.URL})
	for range 2 {
		s, err := c.Stream(context.Background(), userCall("gemini-2.5-pro"))
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	if tokens.count() != 2 {
		t.Errorf("token requests = %d, want 2", tokens.count())
	}
}

func TestTokenFailureIsProviderAuth(t *testing.T) {
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`, http.StatusBadRequest)
	}))
	defer tokenSrv.Close()
	f := &fakeVertex{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := newTestClient(t, ClientOptions{CredentialsFile: writeServiceAccount(t, tokenSrv.URL), BaseURL: srv.URL})
	_, err := c.Stream(context.Background(), userCall("gemini-2.5-pro"))
	if e := llm.AsError(err); e == nil || e.Kind != llm.KindProviderAuth {
		t.Errorf("err = %v, want provider_auth", err)
	}
	if f.count() != 0 {
		t.Error("request sent without a token")
	}
}
