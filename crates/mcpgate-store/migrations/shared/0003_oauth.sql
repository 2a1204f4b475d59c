-- The same SQL on SQLite and PostgreSQL (text columns, no dialect features).
-- The embedded authorization server's state. Secrets (client secrets,
-- authorization codes, refresh tokens) are stored only as hashes; the
-- upstream identity provider's refresh token is sealed by the server.

-- Clients that registered themselves (RFC 7591) or whose metadata
-- documents were fetched; clients written in the config are not stored.
CREATE TABLE oauth_clients (
    client_id   TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    metadata    TEXT NOT NULL,
    secret_hash TEXT,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);

-- What a user (or a client for itself) consented to: every token issued
-- descends from one grant, and revoking the grant ends them all.
CREATE TABLE oauth_grants (
    id               TEXT PRIMARY KEY,
    client_id        TEXT NOT NULL,
    subject          TEXT NOT NULL,
    scopes           TEXT NOT NULL,
    resource         TEXT NOT NULL,
    identity         TEXT NOT NULL,
    upstream_refresh TEXT,
    created_at       TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    revoked_at       TEXT,
    revoked_reason   TEXT
);
CREATE INDEX oauth_grants_subject ON oauth_grants (subject);
CREATE INDEX oauth_grants_client ON oauth_grants (client_id);

-- Single-use secrets: authorization codes, refresh tokens and sign-ins in
-- progress, by hash. `used_at` is set once; a second use is a replay.
CREATE TABLE oauth_secrets (
    hash       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    grant_id   TEXT,
    data       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
);
CREATE INDEX oauth_secrets_grant ON oauth_secrets (grant_id);
