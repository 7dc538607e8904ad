"""Record kinds, scopes and the domain rules that node and relay share.

A record is one Automerge document. Outside the CRDT, immutable, every document has a
``doc_id`` (random), a ``kind`` (KINDS) and a ``scope`` (the partition that decides who
may read it). Scopes are hierarchical strings:

    county:<county>                 county-wide content, warnings, revocation list
    county:<county>/judge           material only the county's judges read
    village:<county>/<village>      a village's cases, consultations, screenings

so "everything of a county" is a prefix and needs no list of villages (see
docs/decisions.md). Validation lives here so the node, the relay and bundle import
refuse exactly the same things.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from .errors import ValidationError

# --- kinds -----------------------------------------------------------------------------
VILLAGE = "village"
CASE = "case"
CONSULTATION = "consultation"
CONTENT = "content"
SCREENING = "screening"
WARNING = "warning"
REVOCATION = "revocation"  # the county's signed revocation list (one document per county)
KINDS = (VILLAGE, CASE, CONSULTATION, CONTENT, SCREENING, WARNING, REVOCATION)

# --- scopes ----------------------------------------------------------------------------
_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")


def check_code(code: str, what: str = "code") -> str:
    """Village and county codes: 1-32 letters, digits, '-' or '_'."""
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise ValidationError(
            "bad_code", f"{what} {code!r} must be 1-32 letters, digits, '-' or '_'", value=code
        )
    return code


# Case numbers are <village>-<short id>-<n>: each node of a village has its own short id,
# 3 characters of Crockford's base32 (no I, L, O, U), so numbers made offline never collide.
SHORT_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SHORT_ID_LEN = 3


def is_short_id(text: object) -> bool:
    return (isinstance(text, str) and len(text) == SHORT_ID_LEN
            and all(c in SHORT_ID_ALPHABET for c in text))


def village_scope(county: str, village: str) -> str:
    return f"village:{check_code(county, 'county')}/{check_code(village, 'village')}"


def county_scope(county: str) -> str:
    return f"county:{check_code(county, 'county')}"


def judge_scope(county: str) -> str:
    return f"county:{check_code(county, 'county')}/judge"


# village:<county>/<village>, county:<county>, county:<county>/<part> (e.g. judge)
_SCOPE = re.compile(r"village:[A-Za-z0-9_-]{1,32}/[A-Za-z0-9_-]{1,32}"
                    r"|county:[A-Za-z0-9_-]{1,32}(/[a-z]{1,16})?")


def check_scope(scope: str) -> str:
    if not isinstance(scope, str) or not _SCOPE.fullmatch(scope):
        raise ValidationError("bad_scope", f"invalid scope {scope!r}", value=scope)
    return scope


# --- categories and statuses -------------------------------------------------------------
# code -> (zh, en). Order is the order shown to directors.
CATEGORIES: dict[str, tuple[str, str]] = {
    "neighbour": ("邻里纠纷", "Neighbour"),
    "family": ("婚姻家庭", "Marriage & family"),
    "land": ("土地承包", "Land & contracts"),
    "property": ("物业纠纷", "Property management"),
    "labour": ("劳动争议", "Labour"),
    "loan": ("民间借贷", "Debt & loans"),
    "consumer": ("消费纠纷", "Consumer"),
    "environment": ("生态环境", "Environment"),
    "traffic": ("交通事故", "Traffic"),
    "other": ("其他", "Other"),
}

REGISTERED, MEDIATING, AGREED, FAILED, ESCALATED, CLOSED = (
    "registered", "mediating", "agreed", "failed", "escalated", "closed",
)
STATUSES: dict[str, tuple[str, str]] = {
    REGISTERED: ("已登记", "Registered"),
    MEDIATING: ("调解中", "Mediating"),
    AGREED: ("调解成功", "Agreement reached"),
    FAILED: ("调解失败", "Mediation failed"),
    ESCALATED: ("已转递", "Escalated"),
    CLOSED: ("已结案", "Closed"),
}
# The life cycle: registered -> mediating -> agreed | failed -> escalated -> closed.
# A failed or escalated case may go back to mediation (e.g. after the judge's guidance).
TRANSITIONS: dict[str, frozenset[str]] = {
    REGISTERED: frozenset({MEDIATING, ESCALATED}),
    MEDIATING: frozenset({AGREED, FAILED}),
    AGREED: frozenset({CLOSED}),
    FAILED: frozenset({MEDIATING, ESCALATED, CLOSED}),
    ESCALATED: frozenset({MEDIATING, CLOSED}),
    CLOSED: frozenset(),
}
OPEN_STATUSES = frozenset(s for s in STATUSES if s != CLOSED)

PARTY_ROLES: dict[str, tuple[str, str]] = {
    "applicant": ("申请人", "Applicant"),
    "respondent": ("被申请人", "Respondent"),
    "third": ("第三人", "Third party"),
}

FOLLOWUP_MONTHS = (1, 3, 6)
CONSULT_OPEN, CONSULT_ANSWERED = "open", "answered"
CONTENT_KINDS = ("article", "typical-case", "video")


def check_category(category: str) -> str:
    if category not in CATEGORIES:
        raise ValidationError(
            "bad_category",
            f"unknown category {category!r}; one of: {', '.join(CATEGORIES)}",
            value=category,
            allowed=list(CATEGORIES),
        )
    return category


def check_status(status: str) -> str:
    if status not in STATUSES:
        raise ValidationError(
            "bad_status",
            f"unknown status {status!r}; one of: {', '.join(STATUSES)}",
            value=status,
            allowed=list(STATUSES),
        )
    return status


def check_transition(old: str, new: str) -> None:
    check_status(new)
    if new not in TRANSITIONS.get(old, frozenset()):
        allowed = [s for s in STATUSES if s in TRANSITIONS.get(old, frozenset())]
        raise ValidationError(
            "bad_transition",
            f"a case that is {old} cannot become {new}"
            + (f"; it can become: {', '.join(allowed)}" if allowed else "; it is final"),
            old=old,
            new=new,
            allowed=allowed,
        )


def check_role(role: str) -> str:
    if role not in PARTY_ROLES:
        raise ValidationError(
            "bad_role", f"unknown party role {role!r}; one of: {', '.join(PARTY_ROLES)}",
            value=role,
        )
    return role


# --- personal data formats ---------------------------------------------------------------
# Whole-string matches on ASCII digits: a pattern ending in $ also takes a trailing
# newline, and \d takes any script's digits. Full-width digits typed through an IME are
# folded to ASCII (NFKC) first.
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_LANDLINE = re.compile(r"0[0-9]{2,3}-?[0-9]{7,8}")
_ID_FORM = re.compile(r"[0-9]{17}[0-9X]")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def normalize_phone(phone: str) -> str:
    """A mainland mobile (11 digits) or a landline with area code; '' means none."""
    p = re.sub(r"[\s()]", "", unicodedata.normalize("NFKC", phone or ""))
    if p.startswith("+86"):
        p = p[3:]
    if p and not (_MOBILE.fullmatch(p) or _LANDLINE.fullmatch(p)):
        raise ValidationError(
            "bad_phone", "phone must be an 11-digit mobile or a landline with area code",
        )
    return p


def normalize_id_number(id_number: str) -> str:
    """An 18-character resident ID (GB 11643) with a valid check digit; '' means none.

    The value itself never appears in the error (it is personal data)."""
    s = unicodedata.normalize("NFKC", id_number or "").strip().upper()
    if not s:
        return ""
    if not _ID_FORM.fullmatch(s):
        raise ValidationError("bad_id_number", "ID number must be 17 digits and a check digit")
    total = sum(int(c) * w for c, w in zip(s[:17], _ID_WEIGHTS))
    if _ID_CHECK[total % 11] != s[17]:
        raise ValidationError("bad_id_number", "ID number check digit does not match")
    try:
        dt.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        raise ValidationError("bad_id_number", "ID number holds an impossible birth date") from None
    return s


def id_check_digit(first17: str) -> str:
    """The check digit for 17 digits (used by the demo data and tests)."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS)) % 11]


def check_satisfaction(value: int | None) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or not 1 <= value <= 5:
        raise ValidationError("bad_satisfaction", "satisfaction must be 1 to 5", value=value)
    return value


def check_date(value: str, what: str = "date") -> str:
    try:
        return dt.date.fromisoformat(value).isoformat()
    except (TypeError, ValueError):
        raise ValidationError("bad_date", f"{what} must be YYYY-MM-DD", value=value) from None


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day ``months`` later, clamped to the month's end (Jan 31 + 1 = Feb 28/29)."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, d))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def today() -> dt.date:
    return dt.date.today()


@dataclass(frozen=True)
class Party:
    """A party to a case (personal data: stored sealed only)."""
    role: str
    name: str
    phone: str = ""
    id_number: str = ""

    def validated(self) -> "Party":
        name = (self.name or "").strip()
        if not name:
            raise ValidationError("bad_party", "every party needs a name")
        if len(name) > 64:
            raise ValidationError("bad_party", "a party's name is at most 64 characters")
        return Party(
            role=check_role(self.role),
            name=name,
            phone=normalize_phone(self.phone),
            id_number=normalize_id_number(self.id_number),
        )
