-- Requests set by the office's own letters (SPEC §15). A request is read from a letter, waits for
-- a clerk (state pending), and once confirmed its deadlines for the units are obligations like any
-- report's; cancelled ones are kept for the trail. `reading` is the letter as read (SPEC §15's
-- JSON) with what the clerk confirmed; `report` is the report id its obligations carry.
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    office TEXT NOT NULL,
    report TEXT NOT NULL,
    number TEXT,
    letter_date TEXT,
    subject TEXT,
    state TEXT NOT NULL,
    reading TEXT NOT NULL,
    source TEXT NOT NULL,
    message_id TEXT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    decided_at BIGINT,
    decided_by TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS requests_report ON requests (office, report);
