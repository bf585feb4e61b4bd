package cli

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rickyjim626/xjp/config"
)

// adminTokenFile is the name of the generated admin token under the data
// directory.
const adminTokenFile = "admin-token"

// adminTokenPrefix starts generated admin tokens; the log redaction masks
// anything that starts with "xjp_".
const adminTokenPrefix = "xjp_admin_"

// adminToken returns the server's admin token: admin.token (or
// XJP_ADMIN_TOKEN) when set, else the one in <data-dir>/admin-token, which
// is generated (mode 0600) at the first start. generated reports whether
// this call created the file.
func adminToken(cfg *config.Config) (token string, generated bool, err error) {
	if t := strings.TrimSpace(cfg.Admin.Token); t != "" {
		return t, false, nil
	}
	path := filepath.Join(cfg.DataDir, adminTokenFile)
	if t, err := readAdminToken(cfg.DataDir); err == nil {
		return t, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return "", false, fmt.Errorf("creating the data directory for the admin token: %w", err)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", false, err
	}
	token = adminTokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another replica or process won the race
		t, err := readAdminToken(cfg.DataDir)
		return t, false, err
	}
	if err != nil {
		return "", false, fmt.Errorf("writing the admin token: %w", err)
	}
	_, err = f.WriteString(token + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", false, fmt.Errorf("writing the admin token: %w", err)
	}
	return token, true, nil
}

// readAdminToken reads <dataDir>/admin-token.
func readAdminToken(dataDir string) (string, error) {
	path := filepath.Join(dataDir, adminTokenFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("the admin token file %s is empty: delete it to have a new token generated", path)
	}
	return t, nil
}
