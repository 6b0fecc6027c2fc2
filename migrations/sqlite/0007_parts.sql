-- Several reports in one message (SPEC §6): the further reports are rows of their own, each with
-- its obligation, timeliness and version, pointing at the message's own row.
ALTER TABLE messages ADD COLUMN part_of BIGINT;
CREATE INDEX IF NOT EXISTS messages_part_of ON messages (office, part_of);
