"""One translation table: zh and en have the same keys and placeholders, every key the
code uses exists, and every error code a director can meet has plain words."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from textual.binding import Binding

from store import ValidationError
from store.records import CATEGORIES, CONTENT_KINDS, STATUSES
from tui import i18n
from tui.app import VillageCourtApp
from tui.screens.case_actions import _CaseForm
from tui.screens.case_detail import CaseDetailScreen
from tui.screens.education import ContentScreen
from tui.screens.form import FormScreen
from tui.screens.main import MainScreen

ROOT = Path(__file__).resolve().parents[2]
TUI = ROOT / "tui"
# Codes of records a director never writes from the TUI (sync, county content, internals).
INTERNAL = {"bad_kind", "bad_scope", "duplicate_doc", "empty_doc", "not_consultation",
            "bad_content_kind", "bad_field", "bad_status", "bad_code", "missing_",
            "missing_name", "missing_answer", "missing_title", "missing_topic",
            "missing_message"}


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_zh_and_en_have_the_same_keys_and_placeholders() -> None:
    zh, en = i18n.STRINGS["zh"], i18n.STRINGS["en"]
    assert sorted(set(zh) ^ set(en)) == []
    for key in zh:
        assert fields(zh[key]) == fields(en[key]), key
        assert zh[key].strip() and en[key].strip(), key


def literal_keys() -> set[str]:
    prefixes = {k.split(".")[0] for k in i18n.STRINGS["en"]}
    found: set[str] = set()
    for path in TUI.rglob("*.py"):
        if path.name == "i18n.py":
            continue
        for key in re.findall(r'"([a-z_]+\.[a-z0-9_.-]+)"', path.read_text(encoding="utf-8")):
            if key.startswith("app.") and key not in i18n.STRINGS["en"]:
                continue  # an action of the app ("app.focus_next"), not a string
            if key.split(".")[0] in prefixes and not key.endswith((".py", ".tcss")):
                found.add(key)
    return found


def test_every_key_in_the_code_exists() -> None:
    keys = literal_keys()
    assert len(keys) > 150
    assert sorted(k for k in keys if k not in i18n.STRINGS["en"]) == []


def test_dynamic_key_families_are_complete() -> None:
    en = i18n.STRINGS["en"]
    for status in STATUSES:
        assert f"detail.hint_{status}" in en
        if status != "closed":
            assert f"next.{status}" in en
    for kind in CONTENT_KINDS:
        assert f"kind.{kind}" in en
    for n in range(1, 6):
        assert f"sat.{n}" in en


@pytest.mark.parametrize("cls", [VillageCourtApp, MainScreen, CaseDetailScreen, ContentScreen,
                                 FormScreen, _CaseForm])
def test_binding_descriptions_are_keys(cls: type) -> None:
    for binding in cls.BINDINGS:
        assert isinstance(binding, Binding)
        assert binding.description in i18n.STRINGS["en"], binding


def store_codes() -> set[str]:
    """Codes of the domain rules (records, case documents, other kinds)."""
    codes: set[str] = set()
    for path in (ROOT / "store" / name for name in ("records.py", "casedoc.py", "kinds.py")):
        codes |= set(re.findall(r'ValidationError\(\s*"([a-z_]+)"',
                                path.read_text(encoding="utf-8")))
    for what in ("question", "place"):
        codes.add(f"missing_{what}")
    return codes


def test_every_error_a_director_can_meet_has_plain_words() -> None:
    must = {"bad_category", "bad_transition", "bad_phone", "bad_id_number", "bad_title",
            "no_parties", "bad_party", "bad_date", "bad_satisfaction", "bad_summary",
            "bad_agreement", "case_closed", "no_followup", "no_sync", "doc_not_found"}
    codes = (store_codes() | must) - INTERNAL
    for lang in i18n.LANGUAGES:
        i18n.set_language(lang)
        for code in sorted(codes):
            text = i18n.error_text(code)
            assert code not in text and "({" not in text, (lang, code, text)
    i18n.set_language("zh")


def test_error_text_says_the_allowed_moves() -> None:
    i18n.set_language("zh")
    exc = ValidationError("bad_transition", "x", old="registered", new="closed",
                          allowed=["mediating", "escalated"])
    assert i18n.error_text(exc) == ("这个案件现在是“已登记”，不能改为“已结案”。"
                                    "可以改为：调解中、已转递。")
    i18n.set_language("en")
    assert "It can become: Mediating, Escalated." in i18n.error_text(exc)
    i18n.set_language("zh")


def test_labels_come_from_the_records_table() -> None:
    i18n.set_language("en")
    assert [i18n.category_label(c) for c in CATEGORIES][:2] == ["Neighbour",
                                                                "Marriage & family"]
    assert i18n.short_label("property") == "Property"
    i18n.set_language("zh")
    assert i18n.status_label("agreed") == "调解成功"
