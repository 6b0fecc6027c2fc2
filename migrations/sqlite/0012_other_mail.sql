-- Mail that is not a report (SPEC §17 Thư khác): a unit's question, a request for more time, a
-- reply to a reminder. A row here once a clerk handled it (answered, or marked handled); until
-- then it is counted on the console and in the review notice.
CREATE TABLE IF NOT EXISTS mail_handled (
    office TEXT NOT NULL,
    message BIGINT NOT NULL,
    by_whom TEXT NOT NULL,
    at BIGINT NOT NULL,
    -- The outbox key of the answer, when the clerk answered.
    answer TEXT,
    PRIMARY KEY (office, message)
);
