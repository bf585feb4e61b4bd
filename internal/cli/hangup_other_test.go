//go:build !unix

package cli

import "testing"

// hangup: there is no SIGHUP to send here.
func hangup(t *testing.T) { t.Skip("no SIGHUP on this platform") }
