"""Dates as people write them, and dates that cannot be true refused in plain words.

``parse_day`` reads the ways a village director writes a day::

    2026-11-25   2026/11/25   2026.11.25   2026-11-5   ２０２６－１１－２５ (full width)
    2026年11月25日   11月25日 (this year)   25日 / 25号 (this month)
    今天  昨天  前天   today  yesterday

and raises ``ValidationError`` with a code the UI says in words:

    bad_date             not a date in any of those forms
    no_such_day          the form is right but the day does not exist (2026-02-30);
                         details year, month, day, last (the month's last day)
    future_date          after today; details today
    before_registration  before the case was registered; details registered

``check_day`` is the one call the forms make: parse, then the two "cannot be true" checks
(not after ``today``, not before ``not_before``), and return the ISO date to store.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata

from store import ValidationError

_RELATIVE = {"今天": 0, "今日": 0, "昨天": 1, "昨日": 1, "前天": 2,
             "today": 0, "yesterday": 1}

_NUMERIC = re.compile(r"(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_CHINESE = re.compile(r"(?:(\d{4})\s*年\s*)?(?:(\d{1,2})\s*月\s*)?(\d{1,2})\s*[日号]?")


def _day(year: int, month: int, day: int, text: str) -> dt.date:
    if not 1 <= month <= 12:  # last=0: no such month
        raise ValidationError("no_such_day", f"no such day: {text}", year=year, month=month,
                              day=day, last=0)
    last = calendar.monthrange(year, month)[1] if 1 <= year <= 9999 else 31
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise ValidationError("no_such_day", f"no such day: {text}", year=year,
                              month=month, day=day, last=last) from None


def parse_day(text: str, *, today: dt.date) -> dt.date:
    """The day ``text`` names (see the module docstring); ``today`` anchors 昨天 and the
    forms without a year or month."""
    raw = unicodedata.normalize("NFKC", text or "").strip().lower()
    if raw in _RELATIVE:
        return today - dt.timedelta(days=_RELATIVE[raw])
    m = _NUMERIC.fullmatch(raw) or _COMPACT.fullmatch(raw)
    if m:
        return _day(int(m[1]), int(m[2]), int(m[3]), text)
    m = _CHINESE.fullmatch(raw)
    # A bare number ("25") is not a date: only with 日/号, 月 or 年 around it.
    if m and (m[1] or m[2] or raw.endswith(("日", "号"))) and not (m[1] and not m[2]):
        year = int(m[1]) if m[1] else today.year
        month = int(m[2]) if m[2] else today.month
        return _day(year, month, int(m[3]), text)
    raise ValidationError("bad_date", f"not a date: {text!r}", value=text)


def check_day(text: str, *, today: dt.date, not_before: dt.date | None = None) -> str:
    """The ISO date of ``text``, refused when it cannot be true: after ``today``, or
    before ``not_before`` (the day the case was registered)."""
    day = parse_day(text, today=today)
    if day > today:
        raise ValidationError("future_date", f"{day} is after today", day=day.isoformat(),
                              today=today.isoformat())
    if not_before is not None and day < not_before:
        raise ValidationError("before_registration", f"{day} is before {not_before}",
                              day=day.isoformat(), registered=not_before.isoformat())
    return day.isoformat()
