-- The document store on PostgreSQL: the same tables as store/schema (SQLite), in one
-- migration. Text that is compared or sorted as an id (doc_id, scope, peer_id, number,
-- village) is COLLATE "C": byte order, as in SQLite, so pages of the feed and range scans
-- over scope subtrees ("village:KC/" <= scope < "village:KC0") agree on both backends.

CREATE TABLE meta (
    key   text COLLATE "C" PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE docs (
    doc_id      text COLLATE "C" PRIMARY KEY,
    kind        text COLLATE "C" NOT NULL,
    scope       text COLLATE "C" NOT NULL,
    snapshot    bytea NOT NULL,
    heads       bytea NOT NULL,       -- sorted change hashes, 32 bytes each
    seq         bigint NOT NULL UNIQUE,
    updated_at  text NOT NULL,
    last_from   text COLLATE "C",     -- peer store id whose heads these are, if unchanged since
    tail_count  integer NOT NULL DEFAULT 0,
    tail_bytes  integer NOT NULL DEFAULT 0
);
-- The feed: one village's changes since a seq (scope, seq), and the upward feed of every
-- scope since a seq (seq: the UNIQUE constraint's index).
CREATE INDEX docs_scope ON docs(scope, seq);

CREATE TABLE doc_tail (
    doc_id text COLLATE "C" NOT NULL REFERENCES docs(doc_id) ON DELETE CASCADE,
    n      integer NOT NULL,
    chunk  bytea NOT NULL,
    PRIMARY KEY (doc_id, n)
);

CREATE TABLE records (
    doc_id      text COLLATE "C" PRIMARY KEY REFERENCES docs(doc_id) ON DELETE CASCADE,
    kind        text COLLATE "C" NOT NULL,
    scope       text COLLATE "C" NOT NULL,
    parent      text COLLATE "C",
    number      text COLLATE "C",
    title       text,
    category    text COLLATE "C",
    status      text COLLATE "C",
    village     text COLLATE "C",
    created_at  text COLLATE "C",
    updated_at  text COLLATE "C",
    closed_at   text COLLATE "C",
    outcome     text COLLATE "C",
    search      text NOT NULL DEFAULT '',
    tokens      text NOT NULL DEFAULT ''
);
CREATE INDEX records_kind_status ON records(kind, status, updated_at);
CREATE INDEX records_kind_category ON records(kind, category);
CREATE INDEX records_kind_updated ON records(kind, updated_at);
CREATE INDEX records_number ON records(number);
CREATE INDEX records_parent ON records(parent);
CREATE INDEX records_case_stats
    ON records(kind, village, category, created_at, status, outcome, closed_at);
CREATE INDEX records_kind_created ON records(kind, created_at, category, village);

CREATE TABLE followups (
    doc_id       text COLLATE "C" NOT NULL REFERENCES docs(doc_id) ON DELETE CASCADE,
    month        integer NOT NULL,
    due_date     text COLLATE "C" NOT NULL,
    done_date    text COLLATE "C",
    satisfaction integer,
    PRIMARY KEY (doc_id, month)
);
CREATE INDEX followups_due ON followups(done_date, due_date);
CREATE INDEX followups_done ON followups(done_date, month, satisfaction);

CREATE TABLE peers (
    peer_id      text COLLATE "C" PRIMARY KEY,
    received_seq bigint NOT NULL DEFAULT 0,
    sent_seq     bigint NOT NULL DEFAULT 0,
    scope_fp     text NOT NULL DEFAULT '',
    last_seen    text COLLATE "C",
    label        text COLLATE "C"
);

CREATE TABLE counters (
    name  text COLLATE "C" PRIMARY KEY,
    value bigint NOT NULL
);

CREATE TABLE sync_log (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at     text NOT NULL,
    finished_at    text NOT NULL,
    peer_id        text,
    peer_label     text NOT NULL,
    ok             integer NOT NULL,
    docs_sent      integer NOT NULL DEFAULT 0,
    docs_received  integer NOT NULL DEFAULT 0,
    bytes_sent     bigint NOT NULL DEFAULT 0,
    bytes_received bigint NOT NULL DEFAULT 0,
    error_code     text,
    error          text
);
CREATE INDEX sync_log_started ON sync_log(started_at);
