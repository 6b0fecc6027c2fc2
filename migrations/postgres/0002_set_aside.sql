-- Messages that could not be recorded at all, not even as rejected: kept aside so a source that
-- hands them over again does not retry them for ever. The raw bytes are in blobs when they fit.
CREATE TABLE IF NOT EXISTS set_aside (
    office TEXT NOT NULL,
    source_key TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    at BIGINT NOT NULL,
    error TEXT NOT NULL,
    PRIMARY KEY (office, source_key)
);
