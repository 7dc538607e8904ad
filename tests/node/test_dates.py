"""node/dates.py: dates as people write them, and days that cannot be true refused with a
code the UI says in words (the TUI tests check the words)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.dates import check_day, parse_day
from store import ValidationError

TODAY = dt.date(2026, 11, 27)


@pytest.mark.parametrize(("text", "day"), [
    ("2026-11-25", "2026-11-25"),
    ("2026/11/25", "2026-11-25"),
    ("2026.11.25", "2026-11-25"),
    ("2026-11-5", "2026-11-05"),
    ("2026/1/5", "2026-01-05"),
    (" 2026 - 11 - 25 ", "2026-11-25"),
    ("２０２６－１１－２５", "2026-11-25"),  # full-width, as some input methods type
    ("20261125", "2026-11-25"),
    ("2026年11月25日", "2026-11-25"),
    ("2026年11月5号", "2026-11-05"),
    ("11月25日", "2026-11-25"),
    ("11月25号", "2026-11-25"),
    ("3日", "2026-11-03"),
    ("今天", "2026-11-27"),
    ("昨天", "2026-11-26"),
    ("前天", "2026-11-25"),
    ("Yesterday", "2026-11-26"),
    ("today", "2026-11-27"),
])
def test_the_ways_people_write_a_day(text: str, day: str) -> None:
    assert parse_day(text, today=TODAY).isoformat() == day


@pytest.mark.parametrize("text", ["", "25", "2026", "2026年", "2026年25日", "明天下午",
                                  "2026-11", "11/25", "2026-11-25-1", "abc"])
def test_what_is_not_a_date(text: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_day(text, today=TODAY)
    assert err.value.code == "bad_date"


@pytest.mark.parametrize(("text", "last"), [("2026-02-30", 28), ("2028-02-30", 29),
                                             ("2026年4月31日", 30), ("2026-13-01", 0),
                                             ("2026-00-10", 0), ("2026-11-00", 30)])
def test_a_day_that_does_not_exist_is_not_a_format_error(text: str, last: int) -> None:
    with pytest.raises(ValidationError) as err:
        parse_day(text, today=TODAY)
    assert err.value.code == "no_such_day"
    assert err.value.details["last"] == last


def test_days_that_cannot_be_true() -> None:
    with pytest.raises(ValidationError) as err:
        check_day("2026-11-28", today=TODAY)
    assert err.value.code == "future_date"
    assert err.value.details["today"] == "2026-11-27"
    with pytest.raises(ValidationError) as err:
        check_day("2020-01-01", today=TODAY, not_before=dt.date(2026, 3, 1))
    assert err.value.code == "before_registration"
    assert err.value.details["registered"] == "2026-03-01"
    assert check_day("2026-03-01", today=TODAY, not_before=dt.date(2026, 3, 1)) == "2026-03-01"
    assert check_day("今天", today=TODAY, not_before=TODAY) == TODAY.isoformat()


days = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31))


@given(day=days, sep=st.sampled_from(["-", "/", "."]), pad=st.booleans())
def test_any_numeric_spelling_reads_back_the_same_day(day: dt.date, sep: str,
                                                      pad: bool) -> None:
    m, d = (f"{day.month:02d}", f"{day.day:02d}") if pad else (str(day.month), str(day.day))
    assert parse_day(f"{day.year}{sep}{m}{sep}{d}", today=TODAY) == day
    assert parse_day(f"{day.year}年{day.month}月{day.day}日", today=TODAY) == day


@given(day=days, today=days)
def test_month_and_day_alone_are_this_year(day: dt.date, today: dt.date) -> None:
    try:
        expected = day.replace(year=today.year)
    except ValueError:  # 2月29日 in a year without it
        with pytest.raises(ValidationError) as err:
            parse_day(f"{day.month}月{day.day}日", today=today)
        assert err.value.code == "no_such_day"
        return
    assert parse_day(f"{day.month}月{day.day}日", today=today) == expected


@given(year=st.integers(2000, 2099), month=st.integers(1, 12), day=st.integers(1, 31))
def test_a_day_is_read_or_refused_as_not_existing(year: int, month: int, day: int) -> None:
    text = f"{year}-{month}-{day}"
    try:
        real = dt.date(year, month, day)
    except ValueError:
        with pytest.raises(ValidationError) as err:
            parse_day(text, today=TODAY)
        assert err.value.code == "no_such_day"
    else:
        assert parse_day(text, today=TODAY) == real


@given(day=days, today=days, first=days)
def test_check_day_never_lets_an_impossible_day_through(day: dt.date, today: dt.date,
                                                        first: dt.date) -> None:
    try:
        stored = check_day(day.isoformat(), today=today, not_before=first)
    except ValidationError as exc:
        assert exc.code == ("future_date" if day > today else "before_registration")
        assert day > today or day < first
    else:
        assert first <= dt.date.fromisoformat(stored) <= today
