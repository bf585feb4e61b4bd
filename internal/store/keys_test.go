package store_test

import (
	"bytes"
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/internal/store"
	"github.com/rickyjim626/xjp/internal/store/storetest"
)

var (
	secretRE = regexp.MustCompile(`^xjp_[0-9a-zA-Z]{43}$`)
	keyIDRE  = regexp.MustCompile(`^key_[0-9a-zA-Z]{12}$`)
)

func TestGenerateSecret(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 200 {
		s, err := store.GenerateSecret()
		if err != nil {
			t.Fatal(err)
		}
		if !secretRE.MatchString(s) {
			t.Fatalf("secret %q does not match %s", s, secretRE)
		}
		if seen[s] {
			t.Fatalf("duplicate secret %q", s)
		}
		seen[s] = true
		if h := store.HashSecret(s); len(h) != 64 || strings.Contains(h, s) {
			t.Fatalf("hash %q", h)
		}
	}
}

func TestKeyAllowsAndExpired(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		allowed []string
		model   string
		want    bool
	}{
		{"empty allows all", nil, "gpt-4o", true},
		{"exact", []string{"demo", "gpt-4o"}, "gpt-4o", true},
		{"not listed", []string{"demo"}, "gpt-4o", false},
		{"prefix wildcard", []string{"openrouter/*"}, "openrouter/openai/gpt-4o", true},
		{"prefix wildcard miss", []string{"openrouter/*"}, "clewdr/claude", false},
		{"case sensitive", []string{"Demo"}, "demo", false},
		{"star allows all", []string{"*"}, "anything", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := store.Key{AllowedModels: tt.allowed}
			if got := k.Allows(tt.model); got != tt.want {
				t.Errorf("Allows(%q) with %v = %v, want %v", tt.model, tt.allowed, got, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		name    string
		expires *time.Time
		want    bool
	}{
		{"no expiry", nil, false},
		{"future", ptr(now.Add(time.Second)), false},
		{"exactly now", ptr(now), true},
		{"past", ptr(now.Add(-time.Hour)), true},
	} {
		if got := (store.Key{ExpiresAt: tt.expires}).Expired(now); got != tt.want {
			t.Errorf("Expired %s = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCreateKey(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		if _, _, err := st.CreateKey(ctx, store.NewKey{Name: "taken"}); err != nil {
			t.Fatal(err)
		}
		exp := time.Now().Add(24 * time.Hour).Truncate(time.Millisecond).UTC()
		tests := []struct {
			name    string
			nk      store.NewKey
			wantErr error
			check   func(t *testing.T, k store.Key)
		}{
			{name: "minimal", nk: store.NewKey{Name: "laptop"}, check: func(t *testing.T, k store.Key) {
				if !k.Enabled || k.RPM != nil || k.Burst != nil || k.DailyTokens != nil || k.ExpiresAt != nil ||
					k.Tenant != "" || len(k.AllowedModels) != 0 || k.LastUsedAt != nil || k.RevokedAt != nil {
					t.Errorf("defaults: %+v", k)
				}
			}},
			{name: "full", nk: store.NewKey{Name: " team-a ", Tenant: "acme", AllowedModels: []string{"demo", " ", "gpt-4o"},
				RPM: ptr(0), Burst: ptr(5), DailyTokens: ptr(int64(1_000_000)), ExpiresAt: &exp, Disabled: true},
				check: func(t *testing.T, k store.Key) {
					if k.Name != "team-a" || k.Tenant != "acme" || !slices.Equal(k.AllowedModels, []string{"demo", "gpt-4o"}) ||
						*k.RPM != 0 || *k.Burst != 5 || *k.DailyTokens != 1_000_000 || !k.ExpiresAt.Equal(exp) || k.Enabled {
						t.Errorf("stored: %+v", k)
					}
				}},
			{name: "empty name", nk: store.NewKey{Name: "  "}, wantErr: store.ErrInvalid},
			{name: "name with NUL", nk: store.NewKey{Name: "a\x00b"}, wantErr: store.ErrInvalid},
			{name: "negative rpm", nk: store.NewKey{Name: "x1", RPM: ptr(-1)}, wantErr: store.ErrInvalid},
			{name: "zero burst", nk: store.NewKey{Name: "x2", Burst: ptr(0)}, wantErr: store.ErrInvalid},
			{name: "negative daily", nk: store.NewKey{Name: "x3", DailyTokens: ptr(int64(-5))}, wantErr: store.ErrInvalid},
			{name: "name taken", nk: store.NewKey{Name: "taken"}, wantErr: store.ErrKeyNameTaken},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				k, secret, err := st.CreateKey(ctx, tt.nk)
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("err = %v, want %v", err, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if !secretRE.MatchString(secret) || !keyIDRE.MatchString(k.ID) {
					t.Errorf("secret %q id %q", secret, k.ID)
				}
				if k.Prefix != secret[:10] {
					t.Errorf("prefix %q, secret starts %q", k.Prefix, secret[:10])
				}
				if time.Since(k.CreatedAt) > time.Minute {
					t.Errorf("created_at %v", k.CreatedAt)
				}
				got, err := st.VerifyKey(ctx, secret)
				if err != nil || got.ID != k.ID {
					t.Fatalf("verify: %v %+v", err, got)
				}
				tt.check(t, got)
			})
		}
	})
}

func TestVerifyKey(t *testing.T) {
	t.Parallel()
	clk := newClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	eachOpts(t, func(o *store.Options) { o.Now = clk.Now }, func(t *testing.T, st *store.Store, _ store.Options) {
		ctx := t.Context()
		mk := func(nk store.NewKey) (store.Key, string) {
			t.Helper()
			k, s, err := st.CreateKey(ctx, nk)
			if err != nil {
				t.Fatal(err)
			}
			return k, s
		}
		_, okSecret := mk(store.NewKey{Name: "ok", AllowedModels: []string{"demo"}})
		revoked, revokedSecret := mk(store.NewKey{Name: "revoked"})
		if err := st.RevokeKey(ctx, revoked.ID); err != nil {
			t.Fatal(err)
		}
		disabled, disabledSecret := mk(store.NewKey{Name: "disabled"})
		if _, err := st.UpdateKey(ctx, disabled.ID, store.KeyUpdate{Enabled: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		_, expiredSecret := mk(store.NewKey{Name: "expired", ExpiresAt: ptr(clk.Now().Add(-time.Minute))})
		unknown, _ := store.GenerateSecret()

		tests := []struct {
			name        string
			secret      string
			wantErr     error
			wantEnabled bool
			wantExpired bool
			model       string
			wantAllowed bool
		}{
			{name: "valid", secret: okSecret, wantEnabled: true, model: "demo", wantAllowed: true},
			{name: "valid, model out of scope", secret: okSecret, wantEnabled: true, model: "gpt-4o", wantAllowed: false},
			{name: "unknown", secret: unknown, wantErr: store.ErrKeyNotFound},
			{name: "empty", secret: "", wantErr: store.ErrKeyNotFound},
			{name: "prefix only", secret: okSecret[:10], wantErr: store.ErrKeyNotFound},
			{name: "revoked", secret: revokedSecret, wantErr: store.ErrKeyNotFound},
			{name: "disabled is returned", secret: disabledSecret, wantEnabled: false, model: "x", wantAllowed: true},
			{name: "expired is returned", secret: expiredSecret, wantEnabled: true, wantExpired: true, model: "x", wantAllowed: true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				k, err := st.VerifyKey(ctx, tt.secret)
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("err = %v, want %v", err, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if k.Enabled != tt.wantEnabled || k.Expired(clk.Now()) != tt.wantExpired || k.Allows(tt.model) != tt.wantAllowed {
					t.Errorf("enabled=%v expired=%v allows(%s)=%v", k.Enabled, k.Expired(clk.Now()), tt.model, k.Allows(tt.model))
				}
			})
		}
	})
}

func TestSecretNeverStored(t *testing.T) {
	t.Parallel()
	eachOpts(t, nil, func(t *testing.T, st *store.Store, o store.Options) {
		ctx := t.Context()
		var secrets []string
		for _, n := range []string{"a", "b", "c"} {
			_, s, err := st.CreateKey(ctx, store.NewKey{Name: n})
			if err != nil {
				t.Fatal(err)
			}
			secrets = append(secrets, s)
		}
		// Every column of every row, as text.
		db := rawDB(t, o)
		rows, err := db.QueryContext(ctx, "SELECT * FROM api_keys")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		var dump bytes.Buffer
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				switch v := v.(type) {
				case string:
					dump.WriteString(v + "\n")
				case []byte:
					dump.Write(append(v, '\n'))
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if dump.Len() == 0 {
			t.Fatal("read nothing")
		}
		var files [][]byte
		if o.Driver == store.DriverSQLite {
			for _, suffix := range []string{"", "-wal"} {
				b, err := os.ReadFile(o.DSN + suffix)
				if err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
				files = append(files, b)
			}
		}
		for _, s := range secrets {
			rnd := strings.TrimPrefix(s, "xjp_")
			if bytes.Contains(dump.Bytes(), []byte(rnd[6:])) {
				t.Errorf("a secret's random part is stored in api_keys")
			}
			if !bytes.Contains(dump.Bytes(), []byte(store.HashSecret(s))) {
				t.Errorf("the hash is not stored")
			}
			for _, f := range files {
				if bytes.Contains(f, []byte(rnd[6:])) {
					t.Errorf("a secret's random part is in the database file")
				}
			}
		}
	})
}

func TestUpdateKey(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		base, _, err := st.CreateKey(ctx, store.NewKey{Name: "base", RPM: ptr(60), Burst: ptr(10),
			DailyTokens: ptr(int64(1000)), ExpiresAt: ptr(time.Now().Add(time.Hour))})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.CreateKey(ctx, store.NewKey{Name: "other"}); err != nil {
			t.Fatal(err)
		}
		gone, _, _ := st.CreateKey(ctx, store.NewKey{Name: "gone"})
		if err := st.RevokeKey(ctx, gone.ID); err != nil {
			t.Fatal(err)
		}
		exp := time.Date(2027, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
		tests := []struct {
			name    string
			id      string
			u       store.KeyUpdate
			wantErr error
			check   func(t *testing.T, k store.Key)
		}{
			{name: "no change", id: base.ID, check: func(t *testing.T, k store.Key) {
				if k.Name != "base" || *k.RPM != 60 {
					t.Errorf("%+v", k)
				}
			}},
			{name: "limits", id: base.ID, u: store.KeyUpdate{RPM: ptr(120), Burst: ptr(20), DailyTokens: ptr(int64(0))},
				check: func(t *testing.T, k store.Key) {
					if *k.RPM != 120 || *k.Burst != 20 || *k.DailyTokens != 0 {
						t.Errorf("%+v", k)
					}
				}},
			{name: "clear to defaults", id: base.ID, u: store.KeyUpdate{ClearRPM: true, ClearBurst: true, ClearDailyTokens: true, ClearExpiresAt: true},
				check: func(t *testing.T, k store.Key) {
					if k.RPM != nil || k.Burst != nil || k.DailyTokens != nil || k.ExpiresAt != nil {
						t.Errorf("%+v", k)
					}
				}},
			{name: "rename, tenant, models, expiry, disable", id: base.ID, u: store.KeyUpdate{Name: ptr("renamed"), Tenant: ptr("acme"),
				AllowedModels: ptr([]string{"demo"}), ExpiresAt: &exp, Enabled: ptr(false)},
				check: func(t *testing.T, k store.Key) {
					if k.Name != "renamed" || k.Tenant != "acme" || !slices.Equal(k.AllowedModels, []string{"demo"}) ||
						!k.ExpiresAt.Equal(exp) || k.Enabled {
						t.Errorf("%+v", k)
					}
				}},
			{name: "models back to all", id: base.ID, u: store.KeyUpdate{AllowedModels: ptr([]string{}), Enabled: ptr(true)},
				check: func(t *testing.T, k store.Key) {
					if len(k.AllowedModels) != 0 || !k.Enabled {
						t.Errorf("%+v", k)
					}
				}},
			{name: "rename to own name", id: base.ID, u: store.KeyUpdate{Name: ptr("renamed")}, check: func(t *testing.T, k store.Key) {}},
			{name: "rename to revoked key's name", id: base.ID, u: store.KeyUpdate{Name: ptr("gone")}, check: func(t *testing.T, k store.Key) {
				if k.Name != "gone" {
					t.Errorf("%+v", k)
				}
			}},
			{name: "name taken", id: base.ID, u: store.KeyUpdate{Name: ptr("other")}, wantErr: store.ErrKeyNameTaken},
			{name: "set and clear", id: base.ID, u: store.KeyUpdate{RPM: ptr(1), ClearRPM: true}, wantErr: store.ErrInvalid},
			{name: "bad burst", id: base.ID, u: store.KeyUpdate{Burst: ptr(0)}, wantErr: store.ErrInvalid},
			{name: "empty name", id: base.ID, u: store.KeyUpdate{Name: ptr("")}, wantErr: store.ErrInvalid},
			{name: "unknown", id: "key_nope", u: store.KeyUpdate{RPM: ptr(1)}, wantErr: store.ErrKeyNotFound},
			{name: "revoked", id: gone.ID, u: store.KeyUpdate{RPM: ptr(1)}, wantErr: store.ErrKeyRevoked},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				k, err := st.UpdateKey(ctx, tt.id, tt.u)
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("err = %v, want %v", err, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, k)
			})
		}
	})
}

func TestListRevokeCountKeys(t *testing.T) {
	t.Parallel()
	clk := newClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	eachOpts(t, func(o *store.Options) { o.Now = clk.Now }, func(t *testing.T, st *store.Store, _ store.Options) {
		ctx := t.Context()
		ids := map[string]string{}
		for _, k := range []store.NewKey{
			{Name: "a", Tenant: "acme"}, {Name: "b", Tenant: "acme"}, {Name: "c"}, {Name: "d", Disabled: true},
		} {
			clk.Add(time.Second)
			key, _, err := st.CreateKey(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			ids[k.Name] = key.ID
		}
		if err := st.RevokeKey(ctx, ids["b"]); err != nil {
			t.Fatal(err)
		}
		if err := st.RevokeKey(ctx, ids["b"]); !errors.Is(err, store.ErrKeyRevoked) {
			t.Errorf("second revoke: %v", err)
		}
		if err := st.RevokeKey(ctx, "key_unknown"); !errors.Is(err, store.ErrKeyNotFound) {
			t.Errorf("revoke unknown: %v", err)
		}
		if k, err := st.GetKey(ctx, ids["b"]); err != nil || k.RevokedAt == nil || !k.RevokedAt.Equal(clk.Now()) || !k.Revoked() {
			t.Errorf("get revoked: %v %+v", err, k)
		}
		if _, err := st.GetKey(ctx, "key_unknown"); !errors.Is(err, store.ErrKeyNotFound) {
			t.Errorf("get unknown: %v", err)
		}
		// The name of a revoked key is free again.
		clk.Add(time.Second)
		if _, _, err := st.CreateKey(ctx, store.NewKey{Name: "b"}); err != nil {
			t.Errorf("reuse revoked name: %v", err)
		}

		names := func(ks []store.Key) string {
			var out []string
			for _, k := range ks {
				out = append(out, k.Name)
			}
			return strings.Join(out, ",")
		}
		for _, tt := range []struct {
			name string
			f    store.KeyFilter
			want string
		}{
			{"live", store.KeyFilter{}, "a,c,d,b"},
			{"with revoked", store.KeyFilter{IncludeRevoked: true}, "a,b,c,d,b"},
			{"tenant", store.KeyFilter{Tenant: "acme"}, "a"},
			{"tenant with revoked", store.KeyFilter{Tenant: "acme", IncludeRevoked: true}, "a,b"},
			{"name", store.KeyFilter{Name: "c"}, "c"},
			{"enabled", store.KeyFilter{Enabled: ptr(true)}, "a,c,b"},
			{"disabled", store.KeyFilter{Enabled: ptr(false)}, "d"},
			{"none", store.KeyFilter{Tenant: "nobody"}, ""},
		} {
			ks, err := st.ListKeys(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(ks); got != tt.want {
				t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
			}
		}
		if n, err := st.CountKeys(ctx); err != nil || n != 4 {
			t.Errorf("CountKeys = %d, %v; want 4", n, err)
		}
	})
}

func TestTouchKeys(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		a, _, _ := st.CreateKey(ctx, store.NewKey{Name: "a"})
		b, _, _ := st.CreateKey(ctx, store.NewKey{Name: "b"})
		t1 := time.Date(2026, 11, 23, 10, 0, 0, 123_000_000, time.UTC)
		t2 := t1.Add(time.Minute)
		if err := st.TouchKeys(ctx, map[string]time.Time{a.ID: t2, b.ID: t1, "key_unknown": t1}); err != nil {
			t.Fatal(err)
		}
		// An older time never moves last_used_at back.
		if err := st.TouchKeys(ctx, map[string]time.Time{a.ID: t1}); err != nil {
			t.Fatal(err)
		}
		if err := st.TouchKeys(ctx, nil); err != nil {
			t.Fatal(err)
		}
		for id, want := range map[string]time.Time{a.ID: t2, b.ID: t1} {
			k, err := st.GetKey(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if k.LastUsedAt == nil || !k.LastUsedAt.Equal(want) {
				t.Errorf("%s last used %v, want %v", k.Name, k.LastUsedAt, want)
			}
		}
		// Many keys in one call.
		many := map[string]time.Time{}
		for i := range 300 {
			k, _, err := st.CreateKey(ctx, store.NewKey{Name: "k" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + time.Duration(i).String()})
			if err != nil {
				t.Fatal(err)
			}
			many[k.ID] = t2
		}
		if err := st.TouchKeys(ctx, many); err != nil {
			t.Fatal(err)
		}
		ks, _ := st.ListKeys(ctx, store.KeyFilter{})
		for _, k := range ks {
			if k.LastUsedAt == nil {
				t.Fatalf("%s not touched", k.Name)
			}
		}
	})
}
