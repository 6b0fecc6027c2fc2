-- Deadlines the office extended (SPEC §17 gia hạn): one new due date per obligation at most,
-- joined to the rules wherever they are read. Withdrawing one deletes its row (the audit trail
-- keeps both events).
CREATE TABLE IF NOT EXISTS extensions (
    office TEXT NOT NULL,
    unit TEXT NOT NULL,
    report TEXT NOT NULL,
    period TEXT NOT NULL,
    until_date TEXT NOT NULL,
    reason TEXT NOT NULL,
    by_whom TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (office, unit, report, period)
);
