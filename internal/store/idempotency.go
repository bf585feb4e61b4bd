package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Idempotency errors.
var (
	// ErrIdemInFlight: a request with this idempotency key is still running.
	ErrIdemInFlight = errors.New("store: idempotent request still in flight")
	// ErrIdemMismatch: the idempotency key was used for a different request.
	ErrIdemMismatch = errors.New("store: idempotency key reused for a different request")
	// ErrIdemNotFound: no in-flight record to complete or release.
	ErrIdemNotFound = errors.New("store: idempotency record not found")
)

// IdemState is the state of an idempotency record.
type IdemState string

const (
	IdemInFlight IdemState = "in_flight"
	IdemDone     IdemState = "done"
)

// IdemRecord is a stored idempotent request: its scope (the key id), the
// client's idempotency key, the hash of the request, and, once done, the
// response to replay.
type IdemRecord struct {
	Scope       string
	Key         string
	RequestHash string
	State       IdemState
	Status      int
	Response    []byte
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// BeginIdem claims (scope, key) for a request whose canonical body hashes
// to hash, for ttl. It returns:
//
//   - nil, nil: the claim is the caller's (no record, or an expired one);
//     run the request, then CompleteIdem (or ReleaseIdem on failure).
//   - rec, nil: the request is done; replay rec.Status and rec.Response.
//   - rec, ErrIdemMismatch: the key was used with another hash (422).
//   - rec, ErrIdemInFlight: the same request is still running (409).
//
// Concurrent callers, in one process or on N replicas, get exactly one claim.
func (s *Store) BeginIdem(ctx context.Context, scope, key, hash string, ttl time.Duration) (*IdemRecord, error) {
	if key == "" || ttl <= 0 {
		return nil, fmt.Errorf("store: begin idempotent request: key and a positive ttl are required: %w", ErrInvalid)
	}
	for range 3 {
		now := s.now()
		nowMs, expMs := toMillis(now), toMillis(now.Add(ttl))
		res, err := s.db.ExecContext(ctx, s.Rebind(`INSERT INTO idempotency
			(scope, idem_key, request_hash, state, status, created_at, expires_at)
			VALUES (?, ?, ?, ?, 0, ?, ?) ON CONFLICT (scope, idem_key) DO NOTHING`),
			scope, key, hash, string(IdemInFlight), nowMs, expMs)
		if err != nil {
			return nil, fmt.Errorf("store: begin idempotent request: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil, nil
		}
		// Take over an expired record; only one taker can match.
		res, err = s.db.ExecContext(ctx, s.Rebind(`UPDATE idempotency
			SET request_hash = ?, state = ?, status = 0, response = NULL, created_at = ?, expires_at = ?
			WHERE scope = ? AND idem_key = ? AND expires_at <= ?`),
			hash, string(IdemInFlight), nowMs, expMs, scope, key, nowMs)
		if err != nil {
			return nil, fmt.Errorf("store: begin idempotent request: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil, nil
		}
		rec, err := s.getIdem(ctx, scope, key)
		if errors.Is(err, sql.ErrNoRows) {
			continue // purged or released meanwhile: try again
		}
		if err != nil {
			return nil, fmt.Errorf("store: begin idempotent request: %w", err)
		}
		switch {
		case rec.RequestHash != hash:
			return rec, ErrIdemMismatch
		case rec.State == IdemInFlight:
			return rec, ErrIdemInFlight
		default:
			return rec, nil
		}
	}
	return nil, fmt.Errorf("store: begin idempotent request: record kept changing: %w", ErrIdemInFlight)
}

func (s *Store) getIdem(ctx context.Context, scope, key string) (*IdemRecord, error) {
	var (
		r                IdemRecord
		state            string
		created, expires int64
	)
	// The write pool: a record just written must be visible.
	err := s.db.QueryRowContext(ctx, s.Rebind(`SELECT scope, idem_key, request_hash, state, status, response,
		created_at, expires_at FROM idempotency WHERE scope = ? AND idem_key = ?`), scope, key).
		Scan(&r.Scope, &r.Key, &r.RequestHash, &state, &r.Status, &r.Response, &created, &expires)
	if err != nil {
		return nil, err
	}
	r.State = IdemState(state)
	r.CreatedAt, r.ExpiresAt = fromMillis(created), fromMillis(expires)
	return &r, nil
}

// CompleteIdem stores the response of a claimed request, to be replayed
// until the record expires. It fails with ErrIdemNotFound when there is no
// in-flight record (released, expired and purged, or already done).
func (s *Store) CompleteIdem(ctx context.Context, scope, key string, status int, response []byte) error {
	if response == nil {
		response = []byte{}
	}
	res, err := s.db.ExecContext(ctx, s.Rebind(`UPDATE idempotency SET state = ?, status = ?, response = ?
		WHERE scope = ? AND idem_key = ? AND state = ?`),
		string(IdemDone), status, response, scope, key, string(IdemInFlight))
	if err != nil {
		return fmt.Errorf("store: complete idempotent request: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("store: complete idempotent request %q: %w", key, ErrIdemNotFound)
	}
	return nil
}

// ReleaseIdem deletes an in-flight claim, so that the client may retry the
// request (after a failure that should not be replayed).
func (s *Store) ReleaseIdem(ctx context.Context, scope, key string) error {
	res, err := s.db.ExecContext(ctx, s.Rebind(`DELETE FROM idempotency WHERE scope = ? AND idem_key = ? AND state = ?`),
		scope, key, string(IdemInFlight))
	if err != nil {
		return fmt.Errorf("store: release idempotent request: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("store: release idempotent request %q: %w", key, ErrIdemNotFound)
	}
	return nil
}

// PurgeIdem deletes the expired records and returns how many.
func (s *Store) PurgeIdem(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.Rebind(`DELETE FROM idempotency WHERE expires_at <= ?`), toMillis(s.now()))
	if err != nil {
		return 0, fmt.Errorf("store: purge idempotency records: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: purge idempotency records: %w", err)
	}
	return n, nil
}
