-- `audit verify` looks up each message's and mail's own events.
CREATE INDEX IF NOT EXISTS audit_subject ON audit (office, subject);
CREATE INDEX IF NOT EXISTS outbox_kind_created ON outbox (office, kind, created_at);
