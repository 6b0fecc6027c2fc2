-- The outbox as a whole waits while its server cannot be reached (connection, TLS, login):
-- not one mail's fault, so no mail is failed for it. One row per office while it lasts.
CREATE TABLE IF NOT EXISTS outbox_block (
    office TEXT PRIMARY KEY,
    since BIGINT NOT NULL,
    error TEXT NOT NULL,
    failures BIGINT NOT NULL,
    next_try BIGINT NOT NULL,
    notified BIGINT NOT NULL DEFAULT 0
);
