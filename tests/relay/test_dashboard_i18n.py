"""The dashboard's words: both languages have the same keys and placeholders, and every
key a template or a handler asks for exists."""

from __future__ import annotations

import re
import string
from pathlib import Path

import relay
from relay.dashboard import i18n

ROOT = Path(relay.__file__).parent


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_languages_have_the_same_keys_and_placeholders() -> None:
    zh, en = i18n.MESSAGES["zh"], i18n.MESSAGES["en"]
    assert set(zh) == set(en)
    for key in zh:
        assert placeholders(zh[key]) == placeholders(en[key]), key


def test_every_key_used_exists() -> None:
    used: set[str] = set()
    for path in [*ROOT.glob("templates/*.html"), *ROOT.glob("dashboard/*.py")]:
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"\bt\('([a-z0-9_]+)'", text))
        used |= set(re.findall(r'\bt\((?:lang, )?"([a-z0-9_]+)"', text))
        used |= set(re.findall(r'flash\(request, "([a-z0-9_]+)"', text))
    prefixes = {k for k in used if k.endswith("_")}  # t('rule_' + w.rule): checked below
    missing = sorted(k for k in used - prefixes if k not in i18n.MESSAGES["zh"])
    assert not missing
    # Keys built from a prefix: roles, periods, rules, warning statuses, audit events.
    from relay.dashboard.pages import AUDIT_EVENTS
    from relay.warnings import RULES

    for key in [*(f"role_{r}" for r in ("operator", "judge")),
                *(f"period_{p}" for p in ("month", "quarter", "year", "12w", "all", "custom")),
                *(f"rule_{r}" for r in RULES), *(f"explain_{r}" for r in RULES),
                *(f"w_{s}" for s in ("open", "acknowledged", "closed")),
                *(f"ev_{e}" for e in AUDIT_EVENTS)]:
        assert key in i18n.MESSAGES["zh"], key


def test_domain_words_come_from_the_shared_tables() -> None:
    assert i18n.category("zh", "labour") == "劳动争议"
    assert i18n.category("en", "labour") == "Labour"
    assert i18n.status("en", "agreed") == "Agreement reached"
    assert i18n.age("zh", 5) == "5 小时" and i18n.age("en", 72) == "3 days"
