-- The office's directory (SPEC §17): units and groups as the office keeps them, edited on the
-- console and read again by a running daemon. The TOML file's entries seed it; `seed` is the
-- fingerprint of the file's entry last applied, so a changed file entry is applied on the next
-- start while entries the console changed (and the file did not) are left as the office set them.
-- Rows are never deleted: a unit that ends is given an end date (and a successor).
CREATE TABLE IF NOT EXISTS directory (
    office TEXT NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    seed TEXT,
    -- Grows with every change of the office's directory: the running daemon's stamp.
    rev BIGINT NOT NULL,
    PRIMARY KEY (office, kind, id)
);
