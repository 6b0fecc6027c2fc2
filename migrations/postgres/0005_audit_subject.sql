-- `audit verify` looks up each message's and mail's own events.
CREATE INDEX IF NOT EXISTS audit_subject ON audit (office, subject);
