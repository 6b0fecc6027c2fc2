-- The figures read from the units' forms (SPEC §16): one row per accepted report whose kind has
-- a form, written in the transaction that records or re-decides it, so a page or `figures`
-- never reads a document again. Its unit, report and period follow the message's decision;
-- which version counts is the message's (`messages.version`).
CREATE TABLE IF NOT EXISTS figures (
    office TEXT NOT NULL,
    message BIGINT NOT NULL,
    unit TEXT NOT NULL,
    report TEXT NOT NULL,
    period TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    -- 1 when read by OCR: counted in no total until a clerk confirms them.
    ocr INTEGER NOT NULL DEFAULT 0,
    confirmed_by TEXT,
    confirmed_at BIGINT,
    -- The reading (domain::form::Reading) as JSON: columns, rows of values, findings.
    reading TEXT NOT NULL,
    PRIMARY KEY (office, message)
);
CREATE INDEX IF NOT EXISTS figures_period ON figures (office, report, period);
CREATE INDEX IF NOT EXISTS figures_unit ON figures (office, report, unit, period);
-- Who has done what about one report and period (the units missing, waiting, exempt beside
-- the figures): looked up by report and period, not by unit.
CREATE INDEX IF NOT EXISTS messages_report_period ON messages (office, report, period, decision);
