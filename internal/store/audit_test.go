package store_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/internal/store"
	"github.com/rickyjim626/xjp/internal/store/storetest"
)

func TestAudit(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
		entries := []store.AuditEntry{
			{Time: t0, Actor: "cli", Action: "key.create", Target: "key_1", Detail: json.RawMessage(`{"name":"laptop"}`)},
			{Time: t0.Add(time.Minute), Actor: "admin-api", Action: "key.update", Target: "key_1", Detail: json.RawMessage(`{"rpm":120}`)},
			{Time: t0.Add(2 * time.Minute), Actor: "cli", Action: "key.revoke", Target: "key_2"},
			{Actor: "cli", Action: "usage.export"}, // now
		}
		for _, e := range entries {
			if err := st.AddAudit(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		for _, bad := range []store.AuditEntry{
			{Actor: "cli"}, // no action
			{Action: "x", Detail: json.RawMessage(`{not json`)},
		} {
			if err := st.AddAudit(ctx, bad); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("AddAudit(%+v) = %v, want ErrInvalid", bad, err)
			}
		}
		actions := func(es []store.AuditEntry) string {
			var out []string
			for _, e := range es {
				out = append(out, e.Action)
			}
			return strings.Join(out, ",")
		}
		for _, tt := range []struct {
			name string
			f    store.AuditFilter
			want string
		}{
			{"all, newest first", store.AuditFilter{}, "usage.export,key.revoke,key.update,key.create"},
			{"actor", store.AuditFilter{Actor: "cli"}, "usage.export,key.revoke,key.create"},
			{"target", store.AuditFilter{Target: "key_1"}, "key.update,key.create"},
			{"action", store.AuditFilter{Action: "key.update"}, "key.update"},
			{"window", store.AuditFilter{Since: t0.Add(time.Minute), Until: t0.Add(2 * time.Minute)}, "key.update"},
			{"limit", store.AuditFilter{Limit: 2}, "usage.export,key.revoke"},
		} {
			got, err := st.ListAudit(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if a := actions(got); a != tt.want {
				t.Errorf("%s: got %s, want %s", tt.name, a, tt.want)
			}
		}
		got, _ := st.ListAudit(ctx, store.AuditFilter{Action: "key.create"})
		if len(got) != 1 || string(got[0].Detail) != `{"name":"laptop"}` || !got[0].Time.Equal(t0) || got[0].ID == 0 || got[0].Actor != "cli" {
			t.Errorf("entry: %+v", got)
		}
		got, _ = st.ListAudit(ctx, store.AuditFilter{Action: "key.revoke"})
		if len(got) != 1 || string(got[0].Detail) != `{}` {
			t.Errorf("empty detail: %+v", got)
		}
	})
}
