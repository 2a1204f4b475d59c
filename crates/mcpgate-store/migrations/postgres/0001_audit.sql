-- The hash-chained audit log and its signed checkpoints.
CREATE TABLE audit_log (
    seq         BIGINT PRIMARY KEY,
    time        TEXT    NOT NULL,
    request_id  TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    auth_method TEXT    NOT NULL,
    tool        TEXT,
    decision    TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject, seq);
CREATE INDEX audit_log_tool ON audit_log (tool, seq);
CREATE INDEX audit_log_time ON audit_log (time);

CREATE TABLE audit_checkpoints (
    seq       BIGINT PRIMARY KEY,
    hash      TEXT NOT NULL,
    key_id    TEXT NOT NULL,
    signature TEXT NOT NULL,
    time      TEXT NOT NULL
);
