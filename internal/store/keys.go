package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Key errors.
var (
	// ErrKeyNotFound: no key has this id, or (VerifyKey) no live key has
	// this secret; a revoked key is "not found" to VerifyKey.
	ErrKeyNotFound = errors.New("store: key not found")
	// ErrKeyNameTaken: a live key already has this name.
	ErrKeyNameTaken = errors.New("store: key name already taken")
	// ErrKeyRevoked: the key is revoked and can no longer change.
	ErrKeyRevoked = errors.New("store: key revoked")
)

// SecretPrefix starts every secret xjp generates.
const SecretPrefix = "xjp_"

const (
	secretRandLen = 43 // base62 digits of 32 random bytes: 62^43 > 2^256
	keyIDRandLen  = 12
	prefixLen     = 6
	maxNameLen    = 200
	base62        = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

// Key is an API key as stored: everything but the secret, which is never
// stored (only its SHA-256).
//
// Limits: RPM, Burst and DailyTokens are nil when the key uses the server
// defaults ([limits] default_rpm, default_burst, default_daily_tokens). A
// value of 0 for RPM or DailyTokens means unlimited, like
// default_daily_tokens = 0; Burst, when set, is at least 1.
type Key struct {
	ID     string
	Name   string
	Prefix string // "xjp_" + the first 6 characters of the random part
	Tenant string // "" when the key belongs to no tenant
	// AllowedModels are the models the key may call; empty allows every
	// model. An entry ending in "*" matches by prefix ("openrouter/*").
	AllowedModels []string
	RPM           *int
	Burst         *int
	DailyTokens   *int64
	// Enabled is false for a key switched off with UpdateKey; VerifyKey
	// still returns it so the caller can answer 403 "key disabled".
	Enabled    bool
	ExpiresAt  *time.Time
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// Expired reports whether the key has an expiry at or before now.
func (k Key) Expired(now time.Time) bool {
	return k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)
}

// Revoked reports whether the key was revoked.
func (k Key) Revoked() bool { return k.RevokedAt != nil }

// Allows reports whether the key may call model.
func (k Key) Allows(model string) bool {
	if len(k.AllowedModels) == 0 {
		return true
	}
	for _, m := range k.AllowedModels {
		if m == model {
			return true
		}
		if p, ok := strings.CutSuffix(m, "*"); ok && strings.HasPrefix(model, p) {
			return true
		}
	}
	return false
}

// NewKey describes a key to create. Name is required. The limit fields
// follow Key's semantics: nil = server default.
type NewKey struct {
	Name          string
	Tenant        string
	AllowedModels []string
	RPM           *int
	Burst         *int
	DailyTokens   *int64
	ExpiresAt     *time.Time
	// Disabled creates the key switched off.
	Disabled bool
}

// KeyUpdate changes some fields of a key: a nil field is left as it is.
// The Clear flags reset a limit to the server default (NULL) or remove the
// expiry; setting a field and its Clear flag together is an error.
type KeyUpdate struct {
	Name          *string
	Tenant        *string
	AllowedModels *[]string // pointer to an empty slice allows every model
	RPM           *int
	Burst         *int
	DailyTokens   *int64
	ExpiresAt     *time.Time
	Enabled       *bool

	ClearRPM, ClearBurst, ClearDailyTokens, ClearExpiresAt bool
}

// KeyFilter selects keys for ListKeys. Zero values do not filter.
type KeyFilter struct {
	Tenant string
	// Name matches the key name exactly.
	Name string
	// IncludeRevoked also lists revoked keys.
	IncludeRevoked bool
	// Enabled keeps only enabled (true) or disabled (false) keys.
	Enabled *bool
}

// GenerateSecret returns a new secret: "xjp_" and the base62 form of 32
// bytes from crypto/rand.
func GenerateSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("store: generate secret: %w", err)
	}
	s := new(big.Int).SetBytes(b[:]).Text(62)
	return SecretPrefix + strings.Repeat("0", secretRandLen-len(s)) + s, nil
}

// HashSecret is the SHA-256 hex digest stored for a secret.
func HashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// secretDisplayPrefix is the part of a secret shown in lists.
func secretDisplayPrefix(secret string) string {
	rest := strings.TrimPrefix(secret, SecretPrefix)
	if len(rest) > prefixLen {
		rest = rest[:prefixLen]
	}
	return SecretPrefix + rest
}

func newKeyID() (string, error) {
	b := make([]byte, 0, keyIDRandLen)
	var buf [32]byte
	for len(b) < keyIDRandLen {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", fmt.Errorf("store: generate key id: %w", err)
		}
		for _, c := range buf {
			if c < 248 && len(b) < keyIDRandLen { // 248 = 4*62: no modulo bias
				b = append(b, base62[c%62])
			}
		}
	}
	return "key_" + string(b), nil
}

func validateLimits(rpm, burst *int, daily *int64) error {
	if rpm != nil && *rpm < 0 {
		return fmt.Errorf("store: rpm must be >= 0 (0 = unlimited): %w", ErrInvalid)
	}
	if burst != nil && *burst < 1 {
		return fmt.Errorf("store: burst must be >= 1: %w", ErrInvalid)
	}
	if daily != nil && *daily < 0 {
		return fmt.Errorf("store: daily tokens must be >= 0 (0 = unlimited): %w", ErrInvalid)
	}
	return nil
}

func validateName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", fmt.Errorf("store: key name is required: %w", ErrInvalid)
	}
	if len(name) > maxNameLen || cleanText(name, maxNameLen) != name {
		return "", fmt.Errorf("store: key name must be valid text of at most %d bytes: %w", maxNameLen, ErrInvalid)
	}
	return name, nil
}

func encodeModels(models []string) (string, error) {
	out := make([]string, 0, len(models))
	for _, m := range models {
		m = strings.TrimSpace(m)
		if m == "" {
			continue
		}
		out = append(out, m)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("store: allowed models: %w", err)
	}
	return string(b), nil
}

func nullInt(p *int) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(*p), Valid: true}
}

func nullInt64(p *int64) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: *p, Valid: true}
}

// CreateKey creates a key and returns it with its secret. The secret is
// returned only here: the store keeps its hash.
func (s *Store) CreateKey(ctx context.Context, nk NewKey) (Key, string, error) {
	name, err := validateName(nk.Name)
	if err != nil {
		return Key{}, "", err
	}
	if err := validateLimits(nk.RPM, nk.Burst, nk.DailyTokens); err != nil {
		return Key{}, "", err
	}
	models, err := encodeModels(nk.AllowedModels)
	if err != nil {
		return Key{}, "", err
	}
	secret, err := GenerateSecret()
	if err != nil {
		return Key{}, "", err
	}
	id, err := newKeyID()
	if err != nil {
		return Key{}, "", err
	}
	now := s.now()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, s.Rebind(
			`SELECT 1 FROM api_keys WHERE name = ? AND revoked_at IS NULL`), name).Scan(&one)
		if err == nil {
			return ErrKeyNameTaken
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		_, err = tx.ExecContext(ctx, s.Rebind(`INSERT INTO api_keys
			(id, name, key_hash, key_prefix, tenant, allowed_models, rpm, burst, daily_tokens, enabled, expires_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			id, name, HashSecret(secret), secretDisplayPrefix(secret), cleanText(strings.TrimSpace(nk.Tenant), maxNameLen), models,
			nullInt(nk.RPM), nullInt(nk.Burst), nullInt64(nk.DailyTokens), !nk.Disabled,
			nullMillis(nk.ExpiresAt), toMillis(now))
		if isUniqueViolation(err) {
			return ErrKeyNameTaken // a concurrent create won the name
		}
		return err
	})
	if errors.Is(err, ErrKeyNameTaken) {
		return Key{}, "", fmt.Errorf("store: create key %q: %w", name, ErrKeyNameTaken)
	}
	if err != nil {
		return Key{}, "", fmt.Errorf("store: create key: %w", err)
	}
	k, err := s.GetKey(ctx, id)
	if err != nil {
		return Key{}, "", err
	}
	return k, secret, nil
}

const keyColumns = `id, name, key_prefix, tenant, allowed_models, rpm, burst, daily_tokens,
	enabled, expires_at, created_at, last_used_at, revoked_at`

type rowScanner interface{ Scan(dest ...any) error }

func scanKey(r rowScanner) (Key, error) {
	var (
		k                              Key
		models                         string
		rpm, burst, daily              sql.NullInt64
		expires, created, used, revoke sql.NullInt64
	)
	if err := r.Scan(&k.ID, &k.Name, &k.Prefix, &k.Tenant, &models, &rpm, &burst, &daily,
		&k.Enabled, &expires, &created, &used, &revoke); err != nil {
		return Key{}, err
	}
	if models != "" && models != "[]" {
		if err := json.Unmarshal([]byte(models), &k.AllowedModels); err != nil {
			return Key{}, fmt.Errorf("key %s: allowed_models: %w", k.ID, err)
		}
	}
	if rpm.Valid {
		v := int(rpm.Int64)
		k.RPM = &v
	}
	if burst.Valid {
		v := int(burst.Int64)
		k.Burst = &v
	}
	if daily.Valid {
		v := daily.Int64
		k.DailyTokens = &v
	}
	k.ExpiresAt = timePtr(expires)
	k.CreatedAt = fromMillis(created.Int64)
	k.LastUsedAt = timePtr(used)
	k.RevokedAt = timePtr(revoke)
	return k, nil
}

// GetKey returns the key with this id, revoked or not.
func (s *Store) GetKey(ctx context.Context, id string) (Key, error) {
	k, err := scanKey(s.rdb.QueryRowContext(ctx, s.Rebind(
		`SELECT `+keyColumns+` FROM api_keys WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Key{}, fmt.Errorf("store: key %q: %w", id, ErrKeyNotFound)
	}
	if err != nil {
		return Key{}, fmt.Errorf("store: get key: %w", err)
	}
	return k, nil
}

// VerifyKey returns the live key whose secret this is, or ErrKeyNotFound
// for an unknown or revoked secret. A disabled or expired key is returned
// with its flags: the caller answers 403 and says which (see Key.Enabled,
// Key.Expired).
func (s *Store) VerifyKey(ctx context.Context, secret string) (Key, error) {
	if secret == "" {
		return Key{}, ErrKeyNotFound
	}
	k, err := scanKey(s.rdb.QueryRowContext(ctx, s.Rebind(
		`SELECT `+keyColumns+` FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL`), HashSecret(secret)))
	if errors.Is(err, sql.ErrNoRows) {
		return Key{}, ErrKeyNotFound
	}
	if err != nil {
		return Key{}, fmt.Errorf("store: verify key: %w", err)
	}
	return k, nil
}

// ListKeys returns the keys that match f, oldest first. Revoked keys are
// left out unless f.IncludeRevoked.
func (s *Store) ListKeys(ctx context.Context, f KeyFilter) ([]Key, error) {
	q := `SELECT ` + keyColumns + ` FROM api_keys WHERE 1 = 1`
	var args []any
	if !f.IncludeRevoked {
		q += ` AND revoked_at IS NULL`
	}
	if f.Tenant != "" {
		q += ` AND tenant = ?`
		args = append(args, f.Tenant)
	}
	if f.Name != "" {
		q += ` AND name = ?`
		args = append(args, f.Name)
	}
	if f.Enabled != nil {
		q += ` AND enabled = ?`
		args = append(args, *f.Enabled)
	}
	q += ` ORDER BY created_at, id`
	rows, err := s.rdb.QueryContext(ctx, s.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("store: list keys: %w", err)
	}
	defer rows.Close()
	var keys []Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list keys: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list keys: %w", err)
	}
	return keys, nil
}

// CountKeys returns the number of live (not revoked) keys.
func (s *Store) CountKeys(ctx context.Context) (int, error) {
	var n int
	if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count keys: %w", err)
	}
	return n, nil
}

// UpdateKey applies u to the key and returns the result. It fails with
// ErrKeyNotFound, ErrKeyRevoked, ErrKeyNameTaken or ErrInvalid.
func (s *Store) UpdateKey(ctx context.Context, id string, u KeyUpdate) (Key, error) {
	type set struct {
		col string
		val any
	}
	var sets []set
	var name string
	if u.Name != nil {
		var err error
		if name, err = validateName(*u.Name); err != nil {
			return Key{}, err
		}
		sets = append(sets, set{"name", name})
	}
	if u.Tenant != nil {
		sets = append(sets, set{"tenant", cleanText(strings.TrimSpace(*u.Tenant), maxNameLen)})
	}
	if u.AllowedModels != nil {
		m, err := encodeModels(*u.AllowedModels)
		if err != nil {
			return Key{}, err
		}
		sets = append(sets, set{"allowed_models", m})
	}
	if err := validateLimits(u.RPM, u.Burst, u.DailyTokens); err != nil {
		return Key{}, err
	}
	for _, c := range []struct {
		col   string
		value any
		isSet bool
		clear bool
	}{
		{"rpm", nullInt(u.RPM), u.RPM != nil, u.ClearRPM},
		{"burst", nullInt(u.Burst), u.Burst != nil, u.ClearBurst},
		{"daily_tokens", nullInt64(u.DailyTokens), u.DailyTokens != nil, u.ClearDailyTokens},
		{"expires_at", nullMillis(u.ExpiresAt), u.ExpiresAt != nil, u.ClearExpiresAt},
	} {
		switch {
		case c.isSet && c.clear:
			return Key{}, fmt.Errorf("store: update key: %s both set and cleared: %w", c.col, ErrInvalid)
		case c.isSet:
			sets = append(sets, set{c.col, c.value})
		case c.clear:
			sets = append(sets, set{c.col, nil})
		}
	}
	if u.Enabled != nil {
		sets = append(sets, set{"enabled", *u.Enabled})
	}

	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var revoked sql.NullInt64
		err := tx.QueryRowContext(ctx, s.Rebind(`SELECT revoked_at FROM api_keys WHERE id = ?`), id).Scan(&revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrKeyNotFound
		}
		if err != nil {
			return err
		}
		if revoked.Valid {
			return ErrKeyRevoked
		}
		if len(sets) == 0 {
			return nil
		}
		if u.Name != nil {
			var one int
			err := tx.QueryRowContext(ctx, s.Rebind(
				`SELECT 1 FROM api_keys WHERE name = ? AND revoked_at IS NULL AND id <> ?`), name, id).Scan(&one)
			if err == nil {
				return ErrKeyNameTaken
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		// Column names come from the fixed list above, never from input.
		q := `UPDATE api_keys SET `
		args := make([]any, 0, len(sets)+1)
		for i, st := range sets {
			if i > 0 {
				q += `, `
			}
			q += st.col + ` = ?`
			args = append(args, st.val)
		}
		q += ` WHERE id = ?`
		args = append(args, id)
		_, err = tx.ExecContext(ctx, s.Rebind(q), args...)
		if isUniqueViolation(err) {
			return ErrKeyNameTaken
		}
		return err
	})
	switch {
	case errors.Is(err, ErrKeyNotFound), errors.Is(err, ErrKeyRevoked), errors.Is(err, ErrKeyNameTaken):
		return Key{}, fmt.Errorf("store: update key %q: %w", id, err)
	case err != nil:
		return Key{}, fmt.Errorf("store: update key: %w", err)
	}
	return s.GetKey(ctx, id)
}

// RevokeKey revokes a key for good: it never verifies again, leaves
// ListKeys (unless asked) and frees its name. Revoking a revoked key fails
// with ErrKeyRevoked.
func (s *Store) RevokeKey(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, s.Rebind(
		`UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`), toMillis(s.now()), id)
	if err != nil {
		return fmt.Errorf("store: revoke key: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: revoke key: %w", err)
	} else if n == 1 {
		return nil
	}
	if _, err := s.GetKey(ctx, id); err != nil {
		return err
	}
	return fmt.Errorf("store: revoke key %q: %w", id, ErrKeyRevoked)
}

// TouchKeys records when keys were last used, in one transaction. A time
// older than the stored one is ignored, so batches may arrive out of order.
func (s *Store) TouchKeys(ctx context.Context, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, s.Rebind(
			`UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`))
		if err != nil {
			return err
		}
		defer stmt.Close()
		for id, t := range used {
			ms := toMillis(t)
			if _, err := stmt.ExecContext(ctx, ms, id, ms); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: touch keys: %w", err)
	}
	return nil
}
