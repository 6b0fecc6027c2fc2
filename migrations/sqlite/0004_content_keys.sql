-- A message's content keys (its raw SHA-256; its Message-ID with the SHA-256 of its body), unique
-- per office: two processes recording one message and its relay re-delivery at once cannot both
-- record it as new; the second finds the key taken and records a duplicate.
CREATE TABLE IF NOT EXISTS content_keys (
    office TEXT NOT NULL,
    key TEXT NOT NULL,
    message BIGINT NOT NULL,
    PRIMARY KEY (office, key)
);
INSERT INTO content_keys (office, key, message)
    SELECT office, 'sha:' || sha256, MIN(id) FROM messages WHERE decision <> 'duplicate' GROUP BY office, sha256
    ON CONFLICT DO NOTHING;
INSERT INTO content_keys (office, key, message)
    SELECT office, 'mid:' || message_id || ':' || body_sha256, MIN(id) FROM messages
    WHERE decision <> 'duplicate' AND message_id IS NOT NULL GROUP BY office, message_id, body_sha256
    ON CONFLICT DO NOTHING;
