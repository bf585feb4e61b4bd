package storetest_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/rickyjim626/xjp/internal/store"
	"github.com/rickyjim626/xjp/internal/store/storetest"
)

// TestEachRunsBothDrivers: every driver gets a fresh, working store.
func TestEachRunsBothDrivers(t *testing.T) {
	var ran []string
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ran = append(ran, st.Driver())
		if n, err := st.CountKeys(t.Context()); err != nil || n != 0 {
			t.Errorf("fresh store has %d keys, %v", n, err)
		}
		if _, _, err := st.CreateKey(t.Context(), store.NewKey{Name: "x"}); err != nil {
			t.Error(err)
		}
	})
	if len(ran) == 0 || ran[0] != store.DriverSQLite {
		t.Errorf("ran on %v", ran)
	}
}

// TestSchemaDropped: a Postgres test's schema is gone after the test.
func TestSchemaDropped(t *testing.T) {
	admin := storetest.PostgresAdmin(t)
	var schema string
	t.Run("inner", func(t *testing.T) {
		o := storetest.Options(t, store.DriverPostgres)
		schema = storetest.Schema(o)
		if !strings.HasPrefix(schema, "xjp_test_") {
			t.Fatalf("schema %q", schema)
		}
	})
	var n int
	if err := admin.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM pg_namespace WHERE nspname = $1", schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("schema %s still exists", schema)
	}
}

// TestPostgresDown: with no Postgres, Postgres tests skip, or fail when CI
// is set. The test binary runs itself against a closed port.
func TestPostgresDown(t *testing.T) {
	if os.Getenv("STORETEST_CHILD") == "1" {
		storetest.Open(t, store.DriverPostgres)
		t.Log("opened") // unreachable
		return
	}
	for _, tt := range []struct {
		ci       string
		wantFail bool
		want     string
	}{
		{"", false, "skipping"},
		{"false", false, "skipping"},
		{"true", true, "CI is set, so this fails"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPostgresDown$", "-test.v")
		cmd.Env = append(os.Environ(), "STORETEST_CHILD=1", "CI="+tt.ci,
			"XJP_TEST_POSTGRES_DSN=postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
		out, err := cmd.CombinedOutput()
		if failed := err != nil; failed != tt.wantFail || !strings.Contains(string(out), tt.want) {
			t.Errorf("CI=%q: err=%v, output:\n%s", tt.ci, err, out)
		}
	}
}
