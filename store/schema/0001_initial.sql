-- villagecourt store, schema version 1.
-- One Automerge document per record; searchable fields live in an indexed projection
-- written in the same transaction as the document.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- A document: a snapshot (Automerge save()) plus a tail of change chunks appended since.
-- Loading concatenates snapshot and tail; compaction folds the tail into a new snapshot.
CREATE TABLE docs (
    doc_id      TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    scope       TEXT NOT NULL,
    snapshot    BLOB NOT NULL,
    heads       BLOB NOT NULL,       -- sorted change hashes, 32 bytes each
    seq         INTEGER NOT NULL UNIQUE,
    updated_at  TEXT NOT NULL,
    last_from   TEXT,                -- peer store id whose heads these are, if unchanged since
    tail_count  INTEGER NOT NULL DEFAULT 0,
    tail_bytes  INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX docs_scope ON docs(scope, seq);

CREATE TABLE doc_tail (
    doc_id TEXT NOT NULL REFERENCES docs(doc_id) ON DELETE CASCADE,
    n      INTEGER NOT NULL,
    chunk  BLOB NOT NULL,
    PRIMARY KEY (doc_id, n)
) STRICT;

-- Projection: one row per record, only fields needed to list, filter and count.
-- Never personal data beyond party names (phones and ID numbers stay in the document).
CREATE TABLE records (
    doc_id      TEXT PRIMARY KEY REFERENCES docs(doc_id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    scope       TEXT NOT NULL,
    parent      TEXT,                -- e.g. the case a consultation belongs to
    number      TEXT,
    title       TEXT,
    category    TEXT,
    status      TEXT,
    village     TEXT,
    created_at  TEXT,
    updated_at  TEXT,
    closed_at   TEXT,
    outcome     TEXT,                -- agreed | failed for closed cases
    search      TEXT NOT NULL DEFAULT ''   -- lower-cased text searched by substring
) STRICT;
CREATE INDEX records_kind_status ON records(kind, status, updated_at);
CREATE INDEX records_kind_category ON records(kind, category);
CREATE INDEX records_kind_updated ON records(kind, updated_at);
CREATE INDEX records_number ON records(number);
CREATE INDEX records_parent ON records(parent);

-- Follow-up visits of closed cases (1, 3 and 6 months), projected from the case document.
CREATE TABLE followups (
    doc_id       TEXT NOT NULL REFERENCES docs(doc_id) ON DELETE CASCADE,
    month        INTEGER NOT NULL,
    due_date     TEXT NOT NULL,
    done_date    TEXT,
    satisfaction INTEGER,
    PRIMARY KEY (doc_id, month)
) STRICT;
CREATE INDEX followups_due ON followups(done_date, due_date);

-- Per-peer checkpoints. received_seq: how far into the peer's feed we hold everything
-- (written in the same transaction as the merged documents). sent_seq: how far into our
-- feed the peer has acknowledged.
CREATE TABLE peers (
    peer_id      TEXT PRIMARY KEY,
    received_seq INTEGER NOT NULL DEFAULT 0,
    sent_seq     INTEGER NOT NULL DEFAULT 0,
    scope_fp     TEXT NOT NULL DEFAULT '',
    last_seen    TEXT,
    label        TEXT
) STRICT;

-- Named monotonic counters (the store seq, case-number counters).
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;

-- What each sync session did, for the sync screen and 'villagecourt status'.
CREATE TABLE sync_log (
    id             INTEGER PRIMARY KEY,
    started_at     TEXT NOT NULL,
    finished_at    TEXT NOT NULL,
    peer_id        TEXT,
    peer_label     TEXT NOT NULL,   -- "relay", a LAN peer's name, "bundle:<path>"
    ok             INTEGER NOT NULL,
    docs_sent      INTEGER NOT NULL DEFAULT 0,
    docs_received  INTEGER NOT NULL DEFAULT 0,
    bytes_sent     INTEGER NOT NULL DEFAULT 0,
    bytes_received INTEGER NOT NULL DEFAULT 0,
    error_code     TEXT,
    error          TEXT
) STRICT;
CREATE INDEX sync_log_started ON sync_log(started_at);
