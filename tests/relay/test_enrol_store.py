"""TokenStore on both backends (enrol.db, or the relay's PostgreSQL database): the same
rules, and one-time codes that stay one-time when two enrolments race."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Iterator

import pytest

from relay.enrol import SHORT_ID_SPACE, TokenStore
from sync.enrolment import EnrolError, code_hash


@pytest.fixture(params=["sqlite", "postgresql"])
def tokens(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TokenStore]:
    where = (tmp_path / "enrol.db" if request.param == "sqlite"
             else request.getfixturevalue("pg_dsn"))
    t = TokenStore(where)
    yield t
    t.close()


def test_issue_consume_once(tokens: TokenStore) -> None:
    code, _ = tokens.issue("A", "director")
    assert tokens.village_of(code) == "A"
    assert tokens.digests_for(code[:4]) == [code_hash(code)]
    token = tokens.consume(code, "node-1")
    assert (token.village, token.role, token.node_id) == ("A", "director", "node-1")
    with pytest.raises(EnrolError) as err:
        tokens.consume(code, "node-2")
    assert err.value.code == "token_used"
    [listed] = tokens.list()
    assert listed.node_id == "node-1" and listed.used_at


def test_unknown_and_expired_codes_are_refused(tokens: TokenStore) -> None:
    code, _ = tokens.issue("A", "judge", ttl=dt.timedelta(seconds=-60))
    with pytest.raises(EnrolError) as err:
        tokens.consume(code, "n")
    assert err.value.code == "token_expired"
    with pytest.raises(EnrolError) as err:
        tokens.consume("7KQ2MX9PRT4WZH3N", "n")
    assert err.value.code == "unknown_token"
    assert tokens.list()[0].used_at is None


def test_short_ids_are_unique_in_a_village(tokens: TokenStore) -> None:
    taken = set(sorted(SHORT_ID_SPACE)[:-3])
    got = {tokens.allocate_short_id("A", f"n{i}", taken) for i in range(3)}
    assert got == set(sorted(SHORT_ID_SPACE)[-3:])
    with pytest.raises(EnrolError) as err:
        tokens.allocate_short_id("A", "n9", taken)
    assert err.value.code == "no_short_id"
    assert tokens.allocate_short_id("B", "n10", taken) in got  # another village


def test_two_enrolments_with_one_code_at_once_exactly_one_wins(pg_dsn: str) -> None:
    stores = [TokenStore(pg_dsn) for _ in range(2)]  # two relay processes' worth
    try:
        for n in range(5):
            code, _ = stores[0].issue("A", "director")
            start = threading.Barrier(8)
            wins: list[str] = []
            refusals: list[str] = []

            def go(i: int, code: str = code, start: threading.Barrier = start,
                   wins: list[str] = wins, refusals: list[str] = refusals) -> None:
                start.wait(timeout=10)
                try:
                    wins.append(stores[i % 2].consume(code, f"node-{i}").node_id or "")
                except EnrolError as exc:
                    refusals.append(exc.code)

            threads = [threading.Thread(target=go, args=(i,)) for i in range(8)]
            for th in threads:
                th.start()
            for th in threads:
                th.join(timeout=30)
            assert len(wins) == 1 and refusals == ["token_used"] * 7, (wins, refusals)
            assert sum(t.used_at is not None for t in stores[1].list()) == n + 1
    finally:
        for s in stores:
            s.close()


def test_the_relay_config_chooses_the_backend(tmp_path: Path, pg_dsn: str) -> None:
    from relay.config import RelayHome

    embedded = RelayHome(tmp_path / "a")
    embedded.init("XC")
    assert embedded.tokens_location() == embedded.tokens_file
    on_pg = RelayHome(tmp_path / "b")
    on_pg.init("XC", store=pg_dsn)
    assert on_pg.tokens_location() == pg_dsn
    t = TokenStore(on_pg.tokens_location())
    try:
        t.issue("A", "director")
        assert len(t.list()) == 1 and not on_pg.tokens_file.exists()
    finally:
        t.close()
