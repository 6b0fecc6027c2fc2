-- baocao schema (PostgreSQL). Times are Unix seconds; JSON is stored as TEXT.
CREATE TABLE IF NOT EXISTS blobs (
    key TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    data BYTEA NOT NULL
);

CREATE TABLE IF NOT EXISTS messages (
    id BIGSERIAL PRIMARY KEY,
    office TEXT NOT NULL,
    source_key TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    message_id TEXT,
    received_at BIGINT NOT NULL,
    from_addr TEXT,
    subject TEXT,
    raw_key TEXT NOT NULL,
    size BIGINT NOT NULL,
    decision TEXT NOT NULL,
    reasons TEXT NOT NULL,
    unit TEXT,
    report TEXT,
    period TEXT,
    due TEXT,
    deadline BIGINT,
    timeliness TEXT,
    version BIGINT,
    findings TEXT NOT NULL,
    evidence TEXT NOT NULL,
    documents TEXT NOT NULL,
    facts TEXT NOT NULL,
    duplicate_of BIGINT,
    manual_by TEXT,
    processed_at BIGINT NOT NULL,
    UNIQUE (office, source_key)
);
CREATE INDEX IF NOT EXISTS messages_sha ON messages (office, sha256);
CREATE INDEX IF NOT EXISTS messages_mid ON messages (office, message_id);
CREATE INDEX IF NOT EXISTS messages_obligation ON messages (office, unit, report, period);

CREATE TABLE IF NOT EXISTS exemptions (
    office TEXT NOT NULL,
    unit TEXT NOT NULL,
    report TEXT NOT NULL,
    period TEXT NOT NULL,
    reason TEXT NOT NULL,
    by_whom TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (office, unit, report, period)
);

CREATE TABLE IF NOT EXISTS audit_head (
    office TEXT PRIMARY KEY,
    last_hash TEXT NOT NULL,
    n BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS audit (
    seq BIGSERIAL PRIMARY KEY,
    office TEXT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    subject TEXT NOT NULL,
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_office ON audit (office, seq);

CREATE TABLE IF NOT EXISTS outbox (
    id BIGSERIAL PRIMARY KEY,
    office TEXT NOT NULL,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    recipients TEXT NOT NULL,
    message BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT NOT NULL DEFAULT 0,
    sent_at BIGINT,
    last_error TEXT,
    UNIQUE (office, key)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt_at);

CREATE TABLE IF NOT EXISTS reminder_stages (
    office TEXT NOT NULL,
    key TEXT NOT NULL,
    unit TEXT NOT NULL,
    report TEXT NOT NULL,
    period TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (office, key)
);

CREATE TABLE IF NOT EXISTS mailbox_state (
    office TEXT NOT NULL,
    mailbox TEXT NOT NULL,
    uidvalidity BIGINT NOT NULL,
    last_uid BIGINT NOT NULL,
    last_poll BIGINT NOT NULL,
    PRIMARY KEY (office, mailbox)
);

CREATE TABLE IF NOT EXISTS schedule_runs (
    office TEXT NOT NULL,
    job TEXT NOT NULL,
    last_run BIGINT NOT NULL,
    PRIMARY KEY (office, job)
);
