"""Moving a whole store to another backend, row for row (issue #13: ``relay migrate-store``).

A store's rows are copied as they are at rest: the sealed snapshots and tail chunks
(sealed with the store key, which the destination must be opened with too), the heads, and
every document's ``seq``. Keeping the seqs is what lets peers sync on afterwards: a village's
checkpoint of the relay is a seq of the relay's feed, and the relay's checkpoints of the
villages (``received_seq``, ``sent_seq``, the scope fingerprints) are copied with them, so
after the move neither side resends anything and nothing is missed. The counters (the
feed's ``seq``, case numbers) and ``meta`` (the ``store_id``, which peers know the store
by and which marks who a document's heads came from, ``last_from``) are copied too.

``TABLES`` lists the tables in the order they are copied (parents before children) with
the key a table is paged by; each backend offers ``export_rows`` / ``import_rows`` /
``clear_for_import`` over them (store/protocol.py). ``copy_store`` copies, ``compare`` says
what differs (empty: the two hold the same).

The media blobs' index is not part of this: it describes files on one machine's disk and
stays in the SQLite file beside them (relay/config.py, ``blob_index_file``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]  # a unique key, what the rows are paged and compared by


TABLES: tuple[Table, ...] = (
    Table("meta", ("key", "value"), ("key",)),
    Table("docs", ("doc_id", "kind", "scope", "snapshot", "heads", "seq", "updated_at",
                   "last_from", "tail_count", "tail_bytes"), ("doc_id",)),
    Table("doc_tail", ("doc_id", "n", "chunk"), ("doc_id", "n")),
    Table("records", ("doc_id", "kind", "scope", "parent", "number", "title", "category",
                      "status", "village", "created_at", "updated_at", "closed_at", "outcome",
                      "search", "tokens"), ("doc_id",)),
    Table("followups", ("doc_id", "month", "due_date", "done_date", "satisfaction"),
          ("doc_id", "month")),
    Table("peers", ("peer_id", "received_seq", "sent_seq", "scope_fp", "last_seen", "label"),
          ("peer_id",)),
    Table("counters", ("name", "value"), ("name",)),
    Table("sync_log", ("id", "started_at", "finished_at", "peer_id", "peer_label", "ok",
                       "docs_sent", "docs_received", "bytes_sent", "bytes_received",
                       "error_code", "error"), ("id",)),
)
BY_NAME = {t.name: t for t in TABLES}
PAGE = 500  # rows per export page and per import transaction
# What a store that holds nothing yet may have: the meta rows every store writes on open.
BLANK_META = frozenset({"store_id", "created_at", "reproject", "reproject_after"})

Row = tuple[Any, ...]


def table(name: str) -> Table:
    """The table called ``name``; ``ValueError`` for any other (never SQL from a caller)."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"not a table of the store: {name!r}") from None


def key_sql(t: Table) -> str:
    """``(a, b) > (?, ?)``: rows after a key, in both SQLite's and PostgreSQL's SQL."""
    cols = ", ".join(t.key)
    marks = ", ".join("?" for _ in t.key)
    return f"({cols}) > ({marks})"


def export_query(name: str, after: Row | None, limit: int) -> tuple[str, list[Any]]:
    """The SQL (``?`` marks, both dialects) and parameters of one page of ``export_rows``:
    the table's rows at rest, in key order, after the key ``after``."""
    t = table(name)
    sql = f"SELECT {', '.join(t.columns)} FROM {t.name}"
    params: list[Any] = []
    if after is not None:
        sql += f" WHERE {key_sql(t)}"
        params += list(after)
    sql += f" ORDER BY {', '.join(t.key)} LIMIT ?"
    return sql, [*params, int(limit)]


class RowStore(Protocol):
    """The part of ``DocumentStore`` a copy uses."""

    store_id: str

    async def export_rows(self, table: str, *, after: Row | None = None,
                          limit: int = PAGE) -> list[Row]: ...
    async def import_rows(self, table: str, rows: list[Row]) -> None: ...
    async def clear_for_import(self) -> None: ...


async def all_rows(store: RowStore, name: str) -> list[Row]:
    t = table(name)
    out: list[Row] = []
    after: Row | None = None
    while True:
        page = await store.export_rows(name, after=after, limit=PAGE)
        out += page
        if len(page) < PAGE:
            return out
        after = tuple(page[-1][t.columns.index(k)] for k in t.key)


async def count_rows(store: RowStore, name: str) -> int:
    n = 0
    t = table(name)
    after: Row | None = None
    while True:
        page = await store.export_rows(name, after=after, limit=PAGE)
        n += len(page)
        if len(page) < PAGE:
            return n
        after = tuple(page[-1][t.columns.index(k)] for k in t.key)


async def is_blank(store: RowStore) -> bool:
    """True when the store holds nothing but what opening it wrote (its meta rows)."""
    for t in TABLES:
        rows = await store.export_rows(t.name, limit=len(BLANK_META) + 1)
        if t.name == "meta":
            if any(r[0] not in BLANK_META for r in rows):
                return False
        elif rows:
            return False
    return True


async def meta_value(store: RowStore, key: str) -> str | None:
    rows = await store.export_rows("meta", after=None, limit=PAGE)
    return next((str(r[1]) for r in rows if r[0] == key), None)


async def copy_store(src: RowStore, dst: RowStore, *,
                     progress: Callable[[str, int, int], None] | None = None) -> dict[str, int]:
    """Copy every row of ``src`` into ``dst`` (emptied first): rows copied per table.

    ``progress(table, done, total)`` after each page. ``dst`` must be reopened afterwards
    to take on the copied ``store_id``. The SQLite file's transient ``reproject`` marks
    are not copied (a store opened by this program has none left)."""
    totals = {t.name: await count_rows(src, t.name) for t in TABLES}
    await dst.clear_for_import()
    copied: dict[str, int] = {}
    for t in TABLES:
        done = 0
        after: Row | None = None
        while True:
            page = await src.export_rows(t.name, after=after, limit=PAGE)
            if t.name == "meta":
                page = [r for r in page if r[0] not in ("reproject", "reproject_after")]
            if page:
                await dst.import_rows(t.name, page)
                done += len(page)
                after = tuple(page[-1][t.columns.index(k)] for k in t.key)
            if progress is not None:
                progress(t.name, done, totals[t.name])
            if len(page) < PAGE:
                break
        copied[t.name] = done
    return copied


@dataclass
class Comparison:
    """What ``compare`` found: counts on both sides and the differences in words."""

    counts: dict[str, tuple[int, int]]
    heads_equal: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


async def compare(src: RowStore, dst: RowStore, *,
                  progress: Callable[[str, int, int], None] | None = None) -> Comparison:
    """Compare two stores table by table, row by row (every byte of every sealed document,
    the heads and seq of each, every checkpoint, counter and sync log entry)."""
    problems: list[str] = []
    counts: dict[str, tuple[int, int]] = {}
    heads_equal = 0
    for t in TABLES:
        a = await all_rows(src, t.name)
        b = await all_rows(dst, t.name)
        if t.name == "meta":
            a = [r for r in a if r[0] not in ("reproject", "reproject_after")]
            b = [r for r in b if r[0] not in ("reproject", "reproject_after")]
        counts[t.name] = (len(a), len(b))
        # Every table's key is the first of its columns (TABLES).
        left = {r[:len(t.key)]: _norm(r) for r in a}
        right = {r[:len(t.key)]: _norm(r) for r in b}
        for k in sorted(set(left) | set(right), key=repr):
            if k not in right:
                problems.append(f"{t.name} {k!r}: missing from the destination")
            elif k not in left:
                problems.append(f"{t.name} {k!r}: only in the destination")
            elif left[k] != right[k]:
                problems.append(f"{t.name} {k!r}: differs")
            elif t.name == "docs":
                heads_equal += 1
        if progress is not None:
            progress(t.name, len(b), len(a))
    return Comparison(counts, heads_equal, problems)


def _norm(row: Row) -> Row:
    """A row as comparable across backends (memoryview / bytearray as bytes)."""
    return tuple(bytes(v) if isinstance(v, (memoryview, bytearray)) else v for v in row)
