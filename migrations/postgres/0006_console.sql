-- The console's accounts, sessions and login throttling (SPEC §14), and full-text search over
-- the submissions (folded text: no diacritics, đ as d, so either spelling finds it).
CREATE TABLE IF NOT EXISTS accounts (
    office TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    hash TEXT NOT NULL,
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (office, name)
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    office TEXT NOT NULL,
    name TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_name ON sessions (office, name);
CREATE TABLE IF NOT EXISTS login_failures (
    office TEXT NOT NULL,
    who TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_who ON login_failures (office, who, at);
CREATE TABLE IF NOT EXISTS search (
    rowid BIGINT PRIMARY KEY,
    office TEXT NOT NULL,
    body TEXT NOT NULL,
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED
);
CREATE INDEX IF NOT EXISTS search_tsv ON search USING GIN (tsv);
-- The console lists submissions newest first, by decision and by obligation. The obligation index
-- carries the arrival too: with only (office, received_at) beside (office, unit, report, period),
-- SQLite would renumber an obligation by walking every message in arrival order.
CREATE INDEX IF NOT EXISTS messages_received ON messages (office, received_at);
CREATE INDEX IF NOT EXISTS messages_obligation_time ON messages (office, unit, report, period, received_at);
CREATE INDEX IF NOT EXISTS messages_unit_time ON messages (office, unit, received_at);
-- Covering for status: every accepted submission's obligation is read from the index alone.
CREATE INDEX IF NOT EXISTS messages_decision ON messages (office, decision, received_at, id, unit, report, period, version);
