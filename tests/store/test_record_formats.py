"""Codes, scopes, phones and ID numbers are checked as whole strings of ASCII characters:
a trailing newline, another script's digits or a second line never pass; full-width digits
typed through an IME are folded to ASCII first. Property tests under the suite's profile."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store.errors import ValidationError
from store.records import (
    check_code,
    check_scope,
    normalize_id_number,
    normalize_phone,
    village_scope,
)

ID = "11010119900307651X"  # a valid check digit (GB 11643)


@pytest.mark.parametrize("code", ["KC\n", "KC\nXX", "K C", "", "甲", "x" * 33, "٣٤"])
def test_codes_that_are_not_whole_ascii_codes_are_refused(code: str) -> None:
    with pytest.raises(ValidationError) as e:
        check_code(code)
    assert e.value.code == "bad_code"


@pytest.mark.parametrize("scope", ["county:KC\n", "village:KC/A\n", "county:KC/judge\n",
                                   "village:KC/A\nvillage:KC/B", "county:KC/JUDGE"])
def test_scopes_with_a_trailing_newline_or_a_second_line_are_refused(scope: str) -> None:
    with pytest.raises(ValidationError) as e:
        check_scope(scope)
    assert e.value.code == "bad_scope"


@given(st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True),
       st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True))
def test_every_scope_built_from_good_codes_is_accepted(county: str, village: str) -> None:
    assert check_scope(village_scope(county, village)) == f"village:{county}/{village}"


@given(st.text(max_size=40))
def test_a_code_is_accepted_exactly_when_it_is_1_to_32_ascii_code_characters(s: str) -> None:
    good = 1 <= len(s) <= 32 and all(c.isascii() and (c.isalnum() or c in "_-") for c in s)
    try:
        check_code(s)
    except ValidationError:
        assert not good
    else:
        assert good


@pytest.mark.parametrize("phone", ["١٣٨١٢٣٤٥٦٧٨", "13812345678\n1", "138123456789"])
def test_phones_that_are_not_whole_ascii_numbers_are_refused(phone: str) -> None:
    with pytest.raises(ValidationError) as e:
        normalize_phone(phone)
    assert e.value.code == "bad_phone"


def test_full_width_digits_from_an_ime_are_folded_to_ascii() -> None:
    assert normalize_phone("１３８１２３４５６７８") == "13812345678"
    assert normalize_phone("０５７０－１２３４５６７") == "0570-1234567"
    assert normalize_phone(" 138 1234 5678\n") == "13812345678"  # spaces are dropped
    assert normalize_id_number("１１０１０１１９９００３０７６５１Ｘ") == ID


@pytest.mark.parametrize("id_number", ["١١٠١٠١١٩٩٠٠٣٠٧٦٥١X", ID[:17] + "\n"])
def test_id_numbers_in_other_scripts_or_with_a_second_line_are_refused(id_number: str) -> None:
    with pytest.raises(ValidationError) as e:
        normalize_id_number(id_number)
    assert e.value.code == "bad_id_number"
