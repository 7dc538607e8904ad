"""The indexed projection of a document: the few fields needed to list, filter, search and
count records without loading documents. Written in the same transaction as the document,
so the projection never disagrees with what is stored.

No personal data is projected (issue #12; docs/decisions.md, "Personal data in the search
index"). Names, phones and ID numbers live only in the sealed document; the projection
holds

* ``search``: the lower-cased searchable text with every personal span taken out -- a
  phone becomes ``〔电话〕``, an ID number ``〔身份证号〕``, a party's name its surname and
  某 (张三 -> 张某, the rule of the courts' published judgments) -- searched by substring;
* ``tokens``: keyed hashes (HMAC-SHA256 with the store's search key, 64 bits, hex) of each
  party's name and of its parts of 2 characters or more, of each phone and its last 4
  digits and of each ID number, whether they were typed in the party fields or inside
  free text;
* ``title``: the title with the same spans taken out (it is listed as is).

``search_terms`` turns what a person typed into the same shapes: a phone, an ID number or
4 digits looks up their tokens; any other word matches the text by substring or is a
party's name or part of one (its token).

Limits: a name that is not a party of the record (a witness, a neighbour typed in a
description) stays as typed; it cannot be told from other words without a list of names.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable

from .records import (
    CASE,
    CONSULTATION,
    CONTENT,
    FOLLOWUP_MONTHS,
    REVOCATION,
    SCREENING,
    VILLAGE,
    WARNING,
)

TOKEN_HEX = 16  # 64 bits: no collision among the few hundred thousand values of a store
PHONE_MARK = "〔电话〕"
ID_MARK = "〔身份证号〕"
NAME_MASK = "某"
NAME_PARTS_OF = 16  # parts of a name are tokenized from its first 16 characters

# Personal numbers inside free text. Digits are ASCII after NFKC (full-width ０-９ typed
# with a Chinese input method become 0-9). A number must stand alone: no digit right before
# or after it, so a longer run of digits (an order or account number) is not cut.
_PERSONAL = re.compile(
    r"(?<![0-9])(?P<id>[0-9]{6}(?:18|19|20)[0-9]{9}[0-9Xx])(?![0-9])"
    r"|(?<![0-9])(?:\+?86[ -]?)?(?P<mobile>1[3-9][0-9][ -]?[0-9]{4}[ -]?[0-9]{4})(?![0-9])"
    r"|(?<![0-9])(?P<landline>\(?0[1-9][0-9]{1,2}\)?[ -]?[0-9]{7,8})(?![0-9])"
)
_LAST4 = re.compile(r"^[0-9]{4}$")


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isascii() and c.isdigit())


def name_key(name: str) -> str:
    """A name as compared: NFKC, lower case, no spaces (张 三 and 张三 are one name)."""
    return "".join(_nfkc(name).lower().split())


def mask_name(name: str) -> str:
    """张三 -> 张某; a one-character name -> 某."""
    name = name.strip()
    return name[0] + NAME_MASK if len(name) > 1 else NAME_MASK


class Tokenizer:
    """Keyed hashes of personal values. Without the key a token says nothing: a phone's
    last 4 digits have only 10,000 values, but each costs an HMAC with a key that never
    leaves the store's key file (store/sealed.py, ``search_key``)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the search key must be at least 32 bytes")
        self._key = key

    def token(self, kind: str, value: str) -> str:
        # hmac.digest: the same HMAC-SHA256 as hmac.new(...).hexdigest(), in one C call.
        mac = hmac.digest(self._key, f"{kind}\x00{value}".encode("utf-8"), hashlib.sha256)
        return mac.hex()[:TOKEN_HEX]

    def name(self, name: str) -> str:
        return self.token("name", name_key(name))

    def name_parts(self, name: str) -> list[str]:
        """Tokens of the name and of every part of it of 2 characters or more (张建国:
        张建国, 张建, 建国), so that a search by part of a name finds it as the substring
        search did. Parts are taken from the first NAME_PARTS_OF characters only."""
        key = name_key(name)
        head = key[:NAME_PARTS_OF]
        parts = {key} | {head[i:j] for i in range(len(head))
                         for j in range(i + 2, len(head) + 1)}
        return [self.token("name", p) for p in parts]

    def phone(self, phone: str) -> list[str]:
        """The phone's token and its last 4 digits' token (both from the digits only,
        without +86: 0571-88776655, (0571)88776655 and 057188776655 are one phone)."""
        d = _digits(phone)
        if d.startswith("86") and len(d) == 13:
            d = d[2:]
        if not d:
            return []
        return [self.token("phone", d), self.token("phone4", d[-4:])]

    def last4(self, digits: str) -> str:
        return self.token("phone4", digits)

    def id_number(self, id_number: str) -> str:
        return self.token("id", _nfkc(id_number).strip().upper())


@dataclass
class Redacted:
    """Free text with personal data redacted, and its keyed tokens."""
    text: str
    tokens: set[str] = field(default_factory=set)


# One name to take out of free text: the name, its pattern, its mask, its tokens.
_NameRule = tuple[str, "re.Pattern[str]", str, list[str]]


def name_rules(names: Iterable[str], tok: Tokenizer) -> list[_NameRule]:
    """What ``redact`` needs of ``names``, made once for all the fields of one record:
    longest first, compared after NFKC and case-folding."""
    return [(name, re.compile(re.escape(name), re.IGNORECASE), mask_name(name),
             tok.name_parts(name))
            for name in sorted({_nfkc(n).strip() for n in names if n and n.strip()},
                               key=len, reverse=True)]


def redact(text: str, names: Iterable[str], tok: Tokenizer) -> Redacted:
    """``text`` with phones, ID numbers and the given names taken out, and their tokens.

    Names are replaced longest first, compared after NFKC and case-folding (the text keeps
    its case otherwise: titles are shown)."""
    return redact_with(text, name_rules(names, tok), tok)


def redact_with(text: str, rules: list[_NameRule], tok: Tokenizer) -> Redacted:
    """``redact`` with the names' rules made beforehand (``name_rules``)."""
    text = _nfkc(text)
    tokens: set[str] = set()

    def number(m: re.Match[str]) -> str:
        if m.group("id"):
            tokens.add(tok.id_number(m.group("id")))
            return ID_MARK
        tokens.update(tok.phone(m.group("mobile") or m.group("landline")))
        return PHONE_MARK

    text = _PERSONAL.sub(number, text)
    for _name, pattern, mask, parts in rules:
        text, n = pattern.subn(mask, text)
        if n:
            tokens.update(parts)
    return Redacted(text, tokens)


def pack_tokens(tokens: Iterable[str]) -> str:
    """Stored as ' t1 t2 … ' so that one token is matched whole with instr(' t ')."""
    items = sorted(set(tokens))
    return f" {' '.join(items)} " if items else ""


def search_terms(query: str, tok: Tokenizer) -> list[tuple[list[str], str | None]]:
    """What a typed query must match, one entry per term: (tokens any of which matches,
    substring of the redacted text or None). A record matches when every term does.

    Phones and ID numbers are found in the whole query first (010 12345678 has a space);
    they match by token only. 4 digits are a phone's last 4 or a substring; any other word
    is a substring or a party's full name."""
    terms: list[tuple[list[str], str | None]] = []
    query = _nfkc(query)

    def number(m: re.Match[str]) -> str:
        if m.group("id"):
            terms.append(([tok.id_number(m.group("id"))], None))
        else:
            terms.append((tok.phone(m.group("mobile") or m.group("landline"))[:1], None))
        return " "

    rest = _PERSONAL.sub(number, query)
    for word in rest.lower().split():
        if _LAST4.match(word):
            terms.append(([tok.last4(word)], word))
        else:
            terms.append(([tok.name(word)], word))
    return terms


@dataclass
class Projection:
    """A document's rows in the index (records, followups)."""
    row: dict[str, Any]
    followups: list[tuple[int, str, str | None, int | None]] = field(default_factory=list)


def _items(value: Any) -> list[Any]:
    """A list field as a list; anything else a peer put there (a number, a map) as empty."""
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


class _Builder:
    """Collects the redacted searchable text and the tokens of one record."""

    def __init__(self, tok: Tokenizer, names: list[str]) -> None:
        self.tok = tok
        self.names = names
        self.parts: list[str] = []
        self.rules = name_rules(names, tok)
        self.tokens: set[str] = {t for rule in self.rules for t in rule[3]}

    def redact(self, value: Any) -> str:
        r = redact_with(_text(value), self.rules, self.tok)
        self.tokens |= r.tokens
        return r.text

    def add(self, *values: Any) -> None:
        for v in values:
            if v:
                self.parts.append(self.redact(v))

    @property
    def search(self) -> str:
        return "\n".join(p for p in self.parts if p).lower()


def party_names(case: dict[str, Any]) -> list[str]:
    """The names of a case's parties (what its free text is redacted of)."""
    return [n for n in (_text(p.get("name")) for p in _items(case.get("parties"))
                        if isinstance(p, dict)) if n.strip()]


# The root keys ``project`` reads, by kind: the write path reads only these out of a
# document (store/amdoc.py's ``read(doc, keys)``), not its history or anything else. A key
# read by ``project`` must be listed here (tests/store/test_projection_keys.py checks that
# projecting from these keys alone gives what projecting from the whole document gives).
PROJECTED_KEYS: dict[str, tuple[str, ...]] = {
    CASE: ("parties", "sessions", "title", "number", "description", "mediator", "agreement",
           "category", "status", "village", "created_at", "closed_at", "outcome",
           "followups"),
    CONSULTATION: ("case_id", "case_number", "question", "answer", "asked_at",
                   "answered_at"),
    CONTENT: ("title", "topic", "summary", "body", "withdrawn", "content_kind",
              "published_at"),
    SCREENING: ("place", "notes", "items", "date", "attendance"),
    WARNING: ("message", "category", "status", "village", "raised_at"),
    VILLAGE: ("name", "code"),
    REVOCATION: (),  # projected by kind alone
}
PARTY_KEYS = ("parties",)  # what ``party_names`` reads of a case


def project(kind: str, data: dict[str, Any], updated_at: str, tok: Tokenizer,
            names: Iterable[str] = ()) -> Projection:
    """Projection of one document's current state (see the module docstring). ``names``:
    for a consultation, the party names of its case (a case's own are in its data)."""
    row: dict[str, Any] = {
        "parent": None, "number": None, "title": None, "category": None, "status": None,
        "village": None, "created_at": None, "updated_at": updated_at, "closed_at": None,
        "outcome": None, "search": "", "tokens": "",
    }
    followups: list[tuple[int, str, str | None, int | None]] = []
    b = _Builder(tok, [])
    if kind == CASE:
        parties = [p for p in _items(data.get("parties")) if isinstance(p, dict)]
        sessions = [s for s in _items(data.get("sessions")) if isinstance(s, dict)]
        b = _Builder(tok, party_names(data))
        for p in parties:
            if _text(p.get("phone")):
                b.tokens.update(tok.phone(_text(p.get("phone"))))
            if _text(p.get("id_number")):
                b.tokens.add(tok.id_number(_text(p.get("id_number"))))
        title = b.redact(data.get("title")) if data.get("title") is not None else None
        b.add(data.get("number"), title, data.get("description"), data.get("mediator"),
              data.get("agreement"), *(s.get("summary") for s in sessions))
        b.parts += [mask_name(n) for n in b.names]  # the surname stays searchable
        row.update(
            number=data.get("number"), title=title,
            category=data.get("category"), status=data.get("status"),
            village=data.get("village"), created_at=data.get("created_at"),
            closed_at=data.get("closed_at") or None, outcome=data.get("outcome") or None,
        )
        fu = data.get("followups")
        fu = fu if isinstance(fu, dict) else {}
        for m in FOLLOWUP_MONTHS:
            due = fu.get(f"m{m}_due")
            if due:
                sat = fu.get(f"m{m}_satisfaction")
                done = fu.get(f"m{m}_done")
                followups.append((m, str(due), str(done) if done else None,
                                  sat if isinstance(sat, int) and -2**63 <= sat < 2**63
                                  else None))
    elif kind == CONSULTATION:
        b = _Builder(tok, [n for n in names if n.strip()])
        answered = bool(data.get("answer"))
        b.add(data.get("case_number"), data.get("question"), data.get("answer"))
        row.update(
            parent=data.get("case_id"), number=data.get("case_number"),
            title=b.redact(str(data.get("question", ""))[:80]),
            status="answered" if answered else "open",
            created_at=data.get("asked_at"), closed_at=data.get("answered_at") or None,
        )
    elif kind == CONTENT:
        b.add(data.get("title"), data.get("topic"), data.get("summary"), data.get("body"))
        row.update(
            title=b.redact(data.get("title")) if data.get("title") is not None else None,
            category=data.get("topic"),
            status="withdrawn" if data.get("withdrawn") else "published",
            outcome=data.get("content_kind"), created_at=data.get("published_at"),
        )
    elif kind == SCREENING:
        b.add(data.get("place"), data.get("notes"), *_items(data.get("items")))
        row.update(
            title=b.redact(data.get("place")) if data.get("place") is not None else None,
            created_at=data.get("date"), number=str(data.get("attendance", 0)),
        )
    elif kind == WARNING:
        b.add(data.get("message"))
        row.update(
            title=b.redact(data.get("message")) if data.get("message") is not None else None,
            category=data.get("category"), status=data.get("status"),
            village=data.get("village"), created_at=data.get("raised_at"),
        )
    elif kind == VILLAGE:
        b.add(data.get("name"), data.get("code"))
        row.update(title=data.get("name"), village=data.get("code"))
    row["search"] = b.search
    row["tokens"] = pack_tokens(b.tokens)
    # Anything else (and any non-string a hostile peer slipped in) projects as text.
    for k in ("parent", "number", "title", "category", "status", "village", "created_at",
              "closed_at", "outcome"):
        if row[k] is not None and not isinstance(row[k], str):
            row[k] = str(row[k])
    return Projection(row=row, followups=followups)


def search_sql(query: str, tok: Tokenizer, *, search: str = "search",
               tokens: str = "tokens", find: str = "instr") -> tuple[list[str], list[Any]]:
    """WHERE clauses (to AND together) and their parameters for a typed query; ``find`` is
    the dialect's position-of-substring function (SQLite's instr, PostgreSQL's strpos)."""
    where: list[str] = []
    args: list[Any] = []
    for toks, sub in search_terms(query, tok):
        alts = [f"{find}({tokens}, ?) > 0" for _ in toks]
        args += [f" {t} " for t in toks]
        if sub is not None:
            alts.append(f"{find}({search}, ?) > 0")
            args.append(sub)
        where.append("(" + " OR ".join(alts) + ")" if alts else "1 = 0")
    return where, args
