package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func newCmdKeys(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the API keys clients use to reach the gateway",
		Long: `Manage API keys. Clients send a key as 'Authorization: Bearer <key>' or
'x-api-key: <key>'. Keys are stored as SHA-256 hashes: the secret is printed
once, when the key is created, and cannot be shown again.

These commands work on the configured store directly, whether or not a
server is running; a running server notices changes within 5 seconds.`,
	}
	cmd.AddCommand(
		newCmdKeysCreate(f, nil),
		newCmdKeysList(f, nil),
		newCmdKeysShow(f, nil),
		newCmdKeysUpdate(f, nil),
		newCmdKeysRevoke(f, nil),
	)
	return cmd
}

// parseExpiry reads --expires: a duration from now ("30d", "12h", "90m")
// or a date ("2026-12-31", RFC 3339).
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("empty expiry")
	}
	if d, err := parseDays(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("expiry %q is not in the future", s)
		}
		return now.Add(d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			if !t.After(now) {
				return time.Time{}, fmt.Errorf("expiry %q is in the past", s)
			}
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid expiry %q: use a duration such as 30d or 12h, or a date such as 2026-12-31", s)
}

// parseDays is time.ParseDuration that also accepts days ("30d", "1d12h").
func parseDays(s string) (time.Duration, error) {
	if i := strings.IndexByte(s, 'd'); i > 0 {
		days, err := strconv.Atoi(s[:i])
		if err != nil {
			return 0, err
		}
		rest := time.Duration(0)
		if s[i+1:] != "" {
			if rest, err = time.ParseDuration(s[i+1:]); err != nil {
				return 0, err
			}
		}
		return time.Duration(days)*24*time.Hour + rest, nil
	}
	return time.ParseDuration(s)
}

// parseModels reads --models: comma-separated model names, "" for none
// (every model). An empty item ("a,,b", "a,", ",") is an error: dropping it
// silently could turn a key meant to be scoped into one allowed every model.
func parseModels(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			return nil, fmt.Errorf("%q: an empty model name (separate models with single commas)", s)
		}
		out = append(out, p)
	}
	return out, nil
}

// splitList splits "a,b, c" into trimmed non-empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
