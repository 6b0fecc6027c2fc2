-- An obligation's accepted versions in arrival order, read from the index alone: numbering a
-- new version (and the batch's read-ahead of versions) looks up its obligation instead of
-- walking every accepted message, which SQLite's planner chose without statistics and which
-- made a long backfill quadratic.
CREATE INDEX IF NOT EXISTS messages_obligation_versions ON messages (office, unit, report, period, decision, received_at, id, version);

-- The mail sent in the last 24 hours, counted against a provider's daily limit.
CREATE INDEX IF NOT EXISTS outbox_sent ON outbox (office, state, sent_at);
