-- API keys (stored only as HMAC-SHA256 with the server's pepper) and the
-- feed of changes to them that every instance follows.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    environment  TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    roles        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    revoked_at   TEXT,
    replaced_by  TEXT,
    last_used_at TEXT
);

CREATE TABLE key_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id     TEXT NOT NULL,
    change     TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
