//go:build unix

package cli

import (
	"os"
	"syscall"
	"testing"
)

// hangup sends SIGHUP to this process (serveRun reloads on it).
func hangup(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}
