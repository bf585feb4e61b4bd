package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// AuditEntry is one admin action: who (Actor: "cli", "admin-api", a key
// id), what (Action: "key.create", "key.revoke", ...), on what (Target: a
// key id), with Detail as a JSON object.
type AuditEntry struct {
	ID     int64
	Time   time.Time
	Actor  string
	Action string
	Target string
	Detail json.RawMessage
}

const maxAuditDetail = 1 << 20

// AuditFilter selects entries for ListAudit. Zero values do not filter.
type AuditFilter struct {
	Since, Until          time.Time // Since <= ts < Until
	Actor, Action, Target string
	// Limit caps the entries returned (newest first). Default 100.
	Limit int
}

// AddAudit appends an entry. A zero Time is now; an empty Detail is {}.
// Never put a secret in Detail.
func (s *Store) AddAudit(ctx context.Context, e AuditEntry) error {
	if strings.TrimSpace(e.Action) == "" {
		return fmt.Errorf("store: audit: action is required: %w", ErrInvalid)
	}
	detail := "{}"
	if len(e.Detail) > 0 {
		if !json.Valid(e.Detail) || len(e.Detail) > maxAuditDetail {
			return fmt.Errorf("store: audit: detail must be valid JSON of at most 1 MiB: %w", ErrInvalid)
		}
		detail = string(e.Detail)
	}
	t := e.Time
	if t.IsZero() {
		t = s.now()
	}
	_, err := s.db.ExecContext(ctx, s.Rebind(`INSERT INTO audit (ts, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)`),
		toMillis(t), cleanText(e.Actor, maxTextLen), cleanText(e.Action, maxTextLen), cleanText(e.Target, maxTextLen),
		cleanText(detail, maxAuditDetail))
	if err != nil {
		return fmt.Errorf("store: audit: %w", err)
	}
	return nil
}

// ListAudit returns the entries matching f, newest first.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	q := `SELECT id, ts, actor, action, target, detail FROM audit WHERE 1 = 1`
	var args []any
	if !f.Since.IsZero() {
		q += ` AND ts >= ?`
		args = append(args, toMillis(f.Since))
	}
	if !f.Until.IsZero() {
		q += ` AND ts < ?`
		args = append(args, toMillis(f.Until))
	}
	for _, c := range []struct{ col, val string }{{"actor", f.Actor}, {"action", f.Action}, {"target", f.Target}} {
		if c.val != "" {
			q += ` AND ` + c.col + ` = ?`
			args = append(args, c.val)
		}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q += ` ORDER BY ts DESC, id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.rdb.QueryContext(ctx, s.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("store: list audit: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var (
			e      AuditEntry
			ts     int64
			detail string
		)
		if err := rows.Scan(&e.ID, &ts, &e.Actor, &e.Action, &e.Target, &detail); err != nil {
			return nil, fmt.Errorf("store: list audit: %w", err)
		}
		e.Time = fromMillis(ts)
		e.Detail = json.RawMessage(detail)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list audit: %w", err)
	}
	return out, nil
}
