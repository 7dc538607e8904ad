-- villagecourt store, schema version 3: media blobs (issue #8, store/blobs.py).
-- A blob is a media file addressed by its SHA-256; it is cut into fixed blocks (128 KiB)
-- whose hashes a content item lists. The bytes live in files under <home>/blobs/; these
-- tables say which blocks of a blob are verified and when the whole blob is.

CREATE TABLE IF NOT EXISTS blobs (
    sha256     TEXT PRIMARY KEY,         -- hex, of the whole file
    length     INTEGER NOT NULL,
    block_size INTEGER NOT NULL,
    blocks     BLOB NOT NULL,            -- the block hashes, 32 bytes each, in order
    complete   INTEGER NOT NULL DEFAULT 0,
    have       INTEGER NOT NULL DEFAULT 0, -- verified blocks
    added_at   TEXT NOT NULL
);

-- Verified blocks of blobs still downloading (dropped when the blob completes).
CREATE TABLE IF NOT EXISTS blob_blocks (
    sha256 TEXT NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (sha256, n)
) WITHOUT ROWID;
