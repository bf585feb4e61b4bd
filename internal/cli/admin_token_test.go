package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rickyjim626/xjp/config"
)

func TestAdminToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // not there yet
	cfg := &config.Config{DataDir: dir}
	tok, generated, err := adminToken(cfg)
	if err != nil || !generated || !strings.HasPrefix(tok, "xjp_admin_") || len(tok) < 40 {
		t.Fatalf("first start: %q %v %v", tok, generated, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "admin-token"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi.Mode(), err)
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v", di.Mode())
	}
	again, generated, err := adminToken(cfg)
	if err != nil || generated || again != tok {
		t.Errorf("second start: %q %v %v, want the same token", again, generated, err)
	}
	if got, _ := readAdminToken(dir); got != tok {
		t.Errorf("readAdminToken = %q", got)
	}
	// admin.token (or XJP_ADMIN_TOKEN) wins and writes nothing.
	other := t.TempDir()
	tok2, generated, err := adminToken(&config.Config{DataDir: other, Admin: config.Admin{Token: " from-config "}})
	if err != nil || generated || tok2 != "from-config" {
		t.Errorf("configured: %q %v %v", tok2, generated, err)
	}
	if _, err := os.Stat(filepath.Join(other, "admin-token")); !os.IsNotExist(err) {
		t.Errorf("a token file was written: %v", err)
	}
	// An empty file is an error that says what to do.
	os.WriteFile(filepath.Join(other, "admin-token"), nil, 0o600)
	if _, _, err := adminToken(&config.Config{DataDir: other}); err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Errorf("empty file: %v", err)
	}
}
