"""Issue #12, item 2: the search index holds no personal data, and search still finds.

Names, phones and ID numbers -- in the party fields or typed into a description, a session
summary or an agreement -- are in the projection only as keyed tokens; the rest of the text
is searched by substring as before. Real SQLite files under tmp_path; the bytes of every
file of the store are read back.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from automerge.core import Document
from hypothesis import given, settings
from hypothesis import strategies as st

from node import Node
from store import Store, casedoc, new_key
from store.migrate import SCHEMA_VERSION
from store.projection import ID_MARK, PHONE_MARK, Tokenizer, project, redact
from store.records import CASE, Party
from store.sealed import search_key

SCOPE = "village:KC/BY"
MOBILE = "13812345678"
PARTY_PHONE = "13987654321"
LANDLINE = "0571-88776655"
BEIJING = "010 12345678"
ID_NUMBER = "11010519491231002X"  # the GB 11643 example: valid, X check digit
APPLICANT, RESPONDENT = "张三丰", "李四光"
DESCRIPTION = (f"{APPLICANT}（手机{MOBILE}）称{RESPONDENT}在宅基地上违章建房，{RESPONDENT}的"
               f"座机{LANDLINE}，身份证号{ID_NUMBER}，赔偿20000元")
SUMMARY = f"电话{BEIJING}联系了{RESPONDENT}的家属，双方同意再谈"
AGREEMENT = f"{RESPONDENT}于2026-03-01前拆除围墙，{APPLICANT}不再追究"
TITLE = f"{APPLICANT}与{RESPONDENT}宅基地纠纷"
# Every form in which the personal data could sit in a file.
NEEDLES = {
    "mobile": MOBILE, "party phone": PARTY_PHONE, "landline": LANDLINE,
    "landline digits": LANDLINE.replace("-", ""), "landline local": "88776655",
    "beijing": "12345678", "id": ID_NUMBER, "id lower": ID_NUMBER.lower(),
    "applicant": APPLICANT, "respondent": RESPONDENT,
}

TOK = Tokenizer(search_key(new_key()))


def _found(root: Path, needles: dict[str, str]) -> dict[str, list[str]]:
    hits: dict[str, list[str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for label, text in needles.items():
            if text.encode("utf-8") in data:
                hits.setdefault(label, []).append(path.name)
    return hits


# --- detection ------------------------------------------------------------------------------
@pytest.mark.parametrize("typed", [
    "13812345678", "138 1234 5678", "138-1234-5678", "+86 13812345678", "+8613812345678",
    "１３８１２３４５６７８",  # full-width digits from a Chinese input method
])
def test_mobile_numbers_in_text_become_one_token(typed: str) -> None:
    r = redact(f"请拨打{typed}联系", [], TOK)
    assert r.text == f"请拨打{PHONE_MARK}联系"
    assert set(TOK.phone(MOBILE)) <= r.tokens


@pytest.mark.parametrize("typed,digits", [
    ("0571-88776655", "057188776655"), ("057188776655", "057188776655"),
    ("010 12345678", "01012345678"), ("(0571)88776655", "057188776655"),
    ("0755-1234567", "07551234567"),
])
def test_landlines_in_text(typed: str, digits: str) -> None:
    r = redact(f"座机{typed}。", [], TOK)
    assert r.text == f"座机{PHONE_MARK}。"
    assert set(TOK.phone(digits)) <= r.tokens


@pytest.mark.parametrize("typed", [ID_NUMBER, ID_NUMBER.lower(), "110101198506120016"])
def test_id_numbers_in_text(typed: str) -> None:
    r = redact(f"身份证{typed}", [], TOK)
    assert r.text == f"身份证{ID_MARK}"
    assert TOK.id_number(typed) in r.tokens


@pytest.mark.parametrize("text", [
    "赔偿20000元", "2026-03-01", "借款50000元分12期", "编号BY-T01-0001",
    "12345678901234567890",  # 20 digits: not an ID number, not a phone inside it
    "订单号 213812345678",  # a mobile inside a longer number is not cut out of it
])
def test_other_numbers_stay(text: str) -> None:
    assert redact(text, [], TOK).text == text


def test_party_names_in_text_keep_only_the_surname() -> None:
    r = redact(f"{APPLICANT}与{RESPONDENT}、{APPLICANT}之子", [APPLICANT, RESPONDENT], TOK)
    assert r.text == "张某与李某、张某之子"
    assert TOK.name(APPLICANT) in r.tokens and TOK.name(RESPONDENT) in r.tokens


def test_longer_name_is_replaced_first() -> None:
    assert redact("张建国和张建", ["张建", "张建国"], TOK).text == "张某和张某"


def _case_data() -> dict:
    doc = Document()
    casedoc.new_case(doc, number="BY-T01-0001", category="neighbour", title=TITLE,
                     description=DESCRIPTION, village="BY", county="KC", mediator="王调解",
                     parties=[Party("applicant", APPLICANT, PARTY_PHONE, ID_NUMBER),
                              Party("respondent", RESPONDENT)])
    casedoc.log_session(doc, date="2026-02-01", participants="双方", summary=SUMMARY)
    casedoc.close_case(doc, agreement=AGREEMENT, on=dt.date(2026, 2, 2))
    from store import amdoc
    return amdoc.read(doc)


def test_projection_of_a_case_holds_no_personal_data() -> None:
    row = project(CASE, _case_data(), "2026-02-02", TOK).row
    text = "\n".join(str(v) for v in row.values() if v is not None)
    leaks = {k for k, v in NEEDLES.items() if v in text}
    assert leaks == set(), row
    assert row["title"] == "张某与李某宅基地纠纷"
    assert "宅基地上违章建房" in row["search"] and "20000元" in row["search"]
    assert "王调解" in row["search"]  # the mediator is not a party
    for t in (TOK.name(APPLICANT), TOK.name(RESPONDENT), TOK.id_number(ID_NUMBER),
              *TOK.phone(MOBILE), *TOK.phone(PARTY_PHONE), *TOK.phone(LANDLINE),
              *TOK.phone(BEIJING)):
        assert f" {t} " in row["tokens"]


def test_tokens_depend_on_the_store_key() -> None:
    other = Tokenizer(search_key(new_key()))
    assert TOK.phone(MOBILE) != other.phone(MOBILE)
    assert TOK.name(APPLICANT) != other.name(APPLICANT)
    key = new_key()
    assert Tokenizer(search_key(key)).name("张三") == Tokenizer(search_key(key)).name("张三")


# --- search through the node ----------------------------------------------------------------
async def _register(node: Node) -> str:
    case = await node.cases.register(
        category="neighbour", title=TITLE, description=DESCRIPTION,
        parties=[Party("applicant", APPLICANT, PARTY_PHONE, ID_NUMBER),
                 Party("respondent", RESPONDENT)])
    await node.cases.change_status(case.doc_id, "mediating")
    await node.cases.log_session(case.doc_id, date="2026-02-01", participants="双方",
                                 summary=SUMMARY)
    await node.cases.register(category="loan", title="借款纠纷", description="借款五万元",
                              parties=[Party("applicant", "赵六"), Party("respondent", "钱七")])
    return case.doc_id


@pytest.mark.parametrize("query", [
    APPLICANT, RESPONDENT, "张三", "三丰",  # full names and parts of a name
    "张",  # a surname still finds (张某 is in the text)
    MOBILE, "138 1234 5678", "5678",  # a phone typed in the description, its last 4
    PARTY_PHONE, "4321",  # the party's own phone (today's search finds nothing)
    LANDLINE, "057188776655", "6655", BEIJING, "01012345678",
    ID_NUMBER, ID_NUMBER.lower(),
    "宅基地", "违章建房", "赔偿 20000元", "张某", "再谈",  # the other words, as before
    f"{RESPONDENT} {MOBILE} 宅基地",  # every term must match
])
async def test_search_finds_the_case(node: Node, query: str) -> None:
    doc_id = await _register(node)
    rows = await node.cases.search(query)
    assert [r.doc_id for r in rows] == [doc_id], query
    assert await node.cases.count(query) == 1


@pytest.mark.parametrize("query", [
    "13800000000", "0571-11111111", "110101198506120016", "1234", "王五",
    f"{APPLICANT} 借款",  # both terms, not in one case
])
async def test_search_finds_nothing_else(node: Node, query: str) -> None:
    await _register(node)
    assert await node.cases.search(query) == []


async def test_list_shows_the_redacted_title(node: Node) -> None:
    doc_id = await _register(node)
    row = next(r for r in await node.cases.search() if r.doc_id == doc_id)
    assert row.title == "张某与李某宅基地纠纷"
    assert (await node.cases.get(doc_id)).title == TITLE  # the document keeps it whole


async def test_no_personal_data_in_the_store_files(node: Node, tmp_path: Path) -> None:
    await _register(node)
    found_open = _found(node.home.path, NEEDLES)
    await node.close()
    found_closed = _found(node.home.path, NEEDLES)
    assert _found(node.home.path, {"word": "宅基地"}), "the scan does not read the store"
    assert found_open == {} and found_closed == {}


# --- migration of a store made by the old code (schema 3) ------------------------------------
OLD_NEEDLES = {**NEEDLES, "marker": "old-plain-index"}


def _make_old(path: Path) -> None:
    """Turn a schema-4 store back into what the old code wrote: schema 3, no tokens column,
    the whole text (names, phones, ID number) lower-cased in records.search, the title as
    typed. Written with autocheckpoint off and left in the WAL."""
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("ALTER TABLE records DROP COLUMN tokens")
    c.execute("DELETE FROM meta WHERE key LIKE 'reproject%'")
    c.execute("PRAGMA user_version = 3")
    c.close()  # the schema change checkpointed; the plain text below stays in the WAL


def _write_old_index(path: Path) -> sqlite3.Connection:
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA wal_autocheckpoint = 0")
    old = "\n".join(["BY-T01-0001", TITLE, DESCRIPTION, AGREEMENT, APPLICANT, RESPONDENT,
                     PARTY_PHONE, SUMMARY, "old-plain-index"]).lower()
    c.execute("UPDATE records SET search = ?, title = ? WHERE kind = 'case'", (old, TITLE))
    return c


async def _old_store(path: Path, key: bytes, cases: int) -> list[str]:
    store = await Store.open(path, key=key)
    ids = []
    for i in range(cases):
        def write(doc: Document, i: int = i) -> None:
            casedoc.new_case(doc, number=f"BY-T01-{i:04d}", category="neighbour",
                             title=TITLE, description=DESCRIPTION, village="BY", county="KC",
                             parties=[Party("applicant", APPLICANT, PARTY_PHONE, ID_NUMBER),
                                      Party("respondent", RESPONDENT)])
        ids.append((await store.create(CASE, SCOPE, write)).doc_id)
    await store.close()
    _make_old(path)
    return ids


async def test_old_store_migrates_on_open(tmp_path: Path) -> None:
    key = new_key()
    path = tmp_path / "home" / "store.db"
    ids = await _old_store(path, key, 3)
    raw = _write_old_index(path)  # stays open: its frames are in store.db-wal
    assert (path.parent / "store.db-wal").stat().st_size > 0
    assert set(_found(path.parent, OLD_NEEDLES)) >= {"marker", "applicant", "mobile"}

    seen: list[tuple[int, int]] = []
    store = await Store.open(path, key=key, progress=lambda d, t: seen.append((d, t)))
    try:
        assert seen == [(3, 3)]
        rows = await store.query("PRAGMA user_version")
        assert rows == [(SCHEMA_VERSION,)]
        assert await store.query("SELECT key FROM meta WHERE key LIKE 'reproject%'") == []
        # While open: the WAL was checkpointed and truncated after the rebuild.
        assert _found(path.parent, OLD_NEEDLES) == {}
        for q in (APPLICANT, MOBILE, "6655", ID_NUMBER, "宅基地"):
            where, args = store.search_where(q)
            got = await store.query(
                f"SELECT doc_id FROM records WHERE kind = 'case' AND {' AND '.join(where)}",
                args)
            assert sorted(r[0] for r in got) == sorted(ids), q
        titles = await store.query("SELECT DISTINCT title FROM records WHERE kind = 'case'")
        assert titles == [("张某与李某宅基地纠纷",)]
    finally:
        await store.close()
        raw.close()
    assert _found(path.parent, OLD_NEEDLES) == {}
    assert _found(path.parent, {"word": "宅基地"})  # the scan reads the store


@pytest.mark.parametrize("cases", [1, 40])
async def test_old_index_checkpointed_into_the_file_is_wiped(tmp_path: Path, cases: int) -> None:
    """The old text in store.db itself (the old program closed cleanly): the rebuilt rows
    are written over it, and with secure_delete the bytes freed in each page are zeroed."""
    key = new_key()
    path = tmp_path / "store.db"
    await _old_store(path, key, cases)
    _write_old_index(path).close()  # the last connection: checkpointed into store.db
    assert not (tmp_path / "store.db-wal").exists()
    assert set(_found(tmp_path, OLD_NEEDLES)) >= {"marker", "applicant", "mobile"}
    store = await Store.open(path, key=key)
    await store.close()
    assert _found(tmp_path, OLD_NEEDLES) == {}


async def test_interrupted_rebuild_goes_on_at_next_open(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from store import docs

    key = new_key()
    path = tmp_path / "store.db"
    await _old_store(path, key, 7)
    _write_old_index(path).close()
    monkeypatch.setattr(docs, "REPROJECT_BATCH", 3)
    calls: list[tuple[int, int]] = []

    def stop_after_first(done: int, total: int) -> None:
        calls.append((done, total))
        raise KeyboardInterrupt  # the program killed mid-rebuild

    with pytest.raises(KeyboardInterrupt):
        await Store.open(path, key=key, progress=stop_after_first)
    assert calls == [(3, 7)]
    c = sqlite3.connect(path)
    left = c.execute("SELECT count(*) FROM records WHERE tokens = ''").fetchone()[0]
    mark = c.execute("SELECT value FROM meta WHERE key = 'reproject'").fetchone()
    c.close()
    assert left == 4 and mark is not None
    seen: list[tuple[int, int]] = []
    store = await Store.open(path, key=key, progress=lambda d, t: seen.append((d, t)))
    try:
        assert seen == [(3, 7), (4, 7)]  # the 4 left, in two batches
        assert await store.query("SELECT count(*) FROM records WHERE tokens = ''") == [(0,)]
    finally:
        await store.close()
    assert _found(path.parent, OLD_NEEDLES) == {}


async def test_new_store_has_nothing_to_rebuild(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    store = await Store.open(tmp_path / "store.db", key=new_key(),
                             progress=lambda d, t: seen.append((d, t)))
    await store.close()
    assert seen == []


async def test_a_consultation_is_redacted_of_its_case_party_names(node: Node) -> None:
    doc_id = await _register(node)
    asked = await node.consultations.ask(
        doc_id, f"{APPLICANT}要求{RESPONDENT}赔偿，{RESPONDENT}电话{MOBILE}，如何处理？")
    rows = await node.store.query("SELECT title, search, tokens FROM records WHERE doc_id = ?",
                                  (asked.doc_id,))
    text = "\n".join(rows[0][:2])
    assert {k for k, v in NEEDLES.items() if v in text} == set(), text
    assert "张某要求李某赔偿" in rows[0][0]
    assert (await node.consultations.get(asked.doc_id)).question.startswith(APPLICANT)


# --- any text around the numbers ------------------------------------------------------------
_around = st.text(alphabet=st.sampled_from("纠纷宅基地电话联系称，。：（）张李 abc"), max_size=12)
_mobile = st.builds(lambda p, n: f"1{p}{n:09d}", st.sampled_from("3456789"),
                    st.integers(0, 10**9 - 1))
_landline = st.builds(lambda a, sep, n: f"0{a}{sep}{n:08d}", st.sampled_from(["10", "571", "755"]),
                      st.sampled_from(["", "-", " "]), st.integers(2 * 10**7, 10**8 - 1))
_id = st.builds(lambda y, n, c: f"110105{y}{n:07d}{c}", st.integers(1900, 2025),
                st.integers(0, 10**7 - 1), st.sampled_from("0123456789Xx"))


@settings(max_examples=300, deadline=None)
@given(before=_around, after=_around, number=st.one_of(_mobile, _landline, _id),
       names=st.lists(st.sampled_from(["张三", "李四光", "欧阳明月"]), max_size=3))
def test_no_number_or_name_survives_in_any_text(before: str, after: str, number: str,
                                                names: list[str]) -> None:
    text = before + number + "".join(names) + after
    r = redact(text, ["张三", "李四光", "欧阳明月"], TOK)
    digits = "".join(c for c in number if c.isdigit())
    assert digits[-8:] not in r.text  # no run of the number's last 8 digits is left
    assert not any(n in r.text for n in names), r.text
    assert r.tokens  # the number's token at least
