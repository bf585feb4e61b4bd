-- xjp schema, Postgres dialect. Timestamps are unix milliseconds (BIGINT).
-- The SQLite twin is migrations/sqlite/00001_init.sql: keep them in step.

-- +goose Up
CREATE TABLE api_keys (
    id             TEXT    PRIMARY KEY,                 -- "key_" + 12 base62
    name           TEXT    NOT NULL,
    key_hash       TEXT    NOT NULL UNIQUE,             -- SHA-256 hex of the secret
    key_prefix     TEXT    NOT NULL,                    -- "xjp_" + 6 chars, for display
    tenant         TEXT    NOT NULL DEFAULT '',         -- '' = no tenant
    allowed_models TEXT    NOT NULL DEFAULT '[]',       -- JSON array; [] = every model
    rpm            INTEGER,                             -- NULL = server default; 0 = unlimited
    burst          INTEGER,                             -- NULL = server default
    daily_tokens   BIGINT,                              -- NULL = server default; 0 = unlimited
    enabled        BOOLEAN NOT NULL DEFAULT TRUE,
    expires_at     BIGINT,
    created_at     BIGINT  NOT NULL,
    last_used_at   BIGINT,
    revoked_at     BIGINT
);
-- Names are unique among live keys; a revoked key frees its name.
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked_at IS NULL;
CREATE INDEX api_keys_tenant ON api_keys (tenant);

CREATE TABLE usage (
    id                 BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ts                 BIGINT  NOT NULL,               -- request arrival
    request_id         TEXT    NOT NULL DEFAULT '',
    key_id             TEXT    NOT NULL DEFAULT '',
    tenant             TEXT    NOT NULL DEFAULT '',
    model              TEXT    NOT NULL DEFAULT '',
    provider           TEXT    NOT NULL DEFAULT '',
    upstream_model     TEXT    NOT NULL DEFAULT '',
    endpoint           TEXT    NOT NULL DEFAULT '',
    stream             BOOLEAN NOT NULL DEFAULT FALSE,
    input_tokens       BIGINT  NOT NULL DEFAULT 0,     -- uncached input only
    cache_read_tokens  BIGINT  NOT NULL DEFAULT 0,
    cache_write_tokens BIGINT  NOT NULL DEFAULT 0,
    output_tokens      BIGINT  NOT NULL DEFAULT 0,     -- includes reasoning
    reasoning_tokens   BIGINT  NOT NULL DEFAULT 0,
    estimated          BOOLEAN NOT NULL DEFAULT FALSE,
    cost_usd           DOUBLE PRECISION,               -- NULL = unknown price, never 0
    latency_ms         BIGINT  NOT NULL DEFAULT 0,
    ttft_ms            BIGINT,                         -- NULL = no token arrived
    status             INTEGER NOT NULL DEFAULT 0,
    error_type         TEXT    NOT NULL DEFAULT '',
    attempts           INTEGER NOT NULL DEFAULT 0
);
-- Only the time index: per-key and per-tenant totals (quota seeds, reports)
-- come from usage_daily, so each inserted row updates one index, not three.
CREATE INDEX usage_ts        ON usage (ts);

-- usage summed per UTC day and per value of every report dimension, kept
-- by InsertUsage in the transaction that writes usage. Reports read it for
-- the whole days of their range.
CREATE TABLE usage_daily (
    day                BIGINT  NOT NULL,               -- ts / 86400000
    key_id             TEXT    NOT NULL,
    tenant             TEXT    NOT NULL,
    model              TEXT    NOT NULL,
    provider           TEXT    NOT NULL,
    upstream_model     TEXT    NOT NULL,
    endpoint           TEXT    NOT NULL,
    status             INTEGER NOT NULL,
    requests           BIGINT  NOT NULL,
    input_tokens       BIGINT  NOT NULL,
    cache_read_tokens  BIGINT  NOT NULL,
    cache_write_tokens BIGINT  NOT NULL,
    output_tokens      BIGINT  NOT NULL,
    reasoning_tokens   BIGINT  NOT NULL,
    cost_usd           DOUBLE PRECISION NOT NULL, -- sum of the known costs
    unpriced           BIGINT  NOT NULL,               -- requests with tokens and no cost
    estimated          BIGINT  NOT NULL,
    PRIMARY KEY (day, key_id, tenant, model, provider, upstream_model, endpoint, status)
);

CREATE TABLE idempotency (
    scope        TEXT    NOT NULL,                     -- key id
    idem_key     TEXT    NOT NULL,                     -- the client's Idempotency-Key
    request_hash TEXT    NOT NULL,
    state        TEXT    NOT NULL,                     -- in_flight | done
    status       INTEGER NOT NULL DEFAULT 0,
    response     BYTEA,
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_expires ON idempotency (expires_at);

CREATE TABLE audit (
    id     BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ts     BIGINT  NOT NULL,
    actor  TEXT    NOT NULL DEFAULT '',
    action TEXT    NOT NULL,
    target TEXT    NOT NULL DEFAULT '',
    detail TEXT    NOT NULL DEFAULT '{}'               -- JSON object
);
CREATE INDEX audit_ts ON audit (ts);

-- +goose Down
DROP TABLE audit;
DROP TABLE idempotency;
DROP TABLE usage_daily;
DROP TABLE usage;
DROP TABLE api_keys;
