"""What the HIS connectors take for a registration's phone and e-mail, and what they skip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore.facts.contacts import is_mainland_mobile, written_email, written_phone


@pytest.mark.parametrize(
    "written", ["13800138000", "+86 138-0013-8000", "(206)3345232", "0571-88886666 转 8012"]
)
def test_a_number_is_kept_as_written_trimmed(written: str) -> None:
    assert written_phone(f" {written}\t") == written


@pytest.mark.parametrize("placeholder", [None, "", "  ", "N/A", "无", "不详", "-", "0", "000-0000"])
def test_a_placeholder_is_no_number(placeholder: str | None) -> None:
    assert written_phone(placeholder) is None


def test_an_email_address_in_a_numbers_field_is_no_number() -> None:
    assert written_phone("wang163@163.com") is None


@pytest.mark.parametrize(
    ("written", "taken"),
    [
        (" Wang.XY@163.com ", "Wang.XY@163.com"),
        ("li@example.cn", "li@example.cn"),
        ("N/A", None),
        ("wang163.com", None),
        ("wang@163", None),
        ("wang @163.com", None),
        ("", None),
        (None, None),
    ],
)
def test_an_email_address_is_kept_as_written_and_what_is_none_is_left_out(
    written: str | None, taken: str | None
) -> None:
    assert written_email(written) == taken


@pytest.mark.parametrize(
    ("number", "mobile"),
    [
        ("13800138000", True),
        ("138-0013-8000", True),
        ("+86 138 0013 8000", True),
        ("0086-13800138000", True),
        ("8613800138000", True),
        ("0571-88886666", False),
        ("1380013800", False),  # a digit short
        ("+1 2065551234", False),
        ("12121212", False),
    ],
)
def test_a_mainland_mobile_is_told_however_written(number: str, mobile: bool) -> None:
    assert is_mainland_mobile(number) is mobile


@given(st.text())
def test_what_is_taken_is_the_text_trimmed_and_holds_a_digit(text: str) -> None:
    taken = written_phone(text)
    if taken is not None:
        assert taken == text.strip()
        assert any(char.isdigit() and char != "0" for char in taken)
    email = written_email(text)
    assert email is None or (email == text.strip() and "@" in email)
