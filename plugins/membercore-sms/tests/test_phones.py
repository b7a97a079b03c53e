from __future__ import annotations

import pytest

from membercore_sms.phones import AddressBook, canonical, for_aliyun, masked


@pytest.mark.parametrize(
    ("written", "number"),
    [
        ("13800138000", "+8613800138000"),
        ("8613800138000", "+8613800138000"),
        ("+8613800138000", "+8613800138000"),
        ("0086 138 0013 8000", "+8613800138000"),
        ("+86 (138) 0013-8000", "+8613800138000"),
        ("+85291234567", "+85291234567"),
        ("0085291234567", "+85291234567"),
        ("1380013800", None),
        ("23800138000", None),
        ("+86123", None),
        ("010-12345678", None),
        ("手机号", None),
        ("", None),
    ],
)
def test_a_number_is_read_in_any_of_the_ways_records_write_it(
    written: str, number: str | None
) -> None:
    assert canonical(written) == number


def test_aliyun_takes_a_mainland_number_bare_and_another_without_its_plus() -> None:
    assert for_aliyun("+8613800138000") == "13800138000"
    assert for_aliyun("+85291234567") == "85291234567"


def test_a_number_shown_in_an_error_is_masked() -> None:
    assert masked("+8613800138000") == "+86138****8000"


def test_the_book_gives_a_number_as_the_last_message_to_it_wrote_it() -> None:
    book = AddressBook()
    assert book.address("13800138000") == "+8613800138000"
    book.learn(["13800138000", "not a number"])
    assert book.address("+8613800138000") == "13800138000"
    book.learn(["+86 138 0013 8000"])
    assert book.address("8613800138000") == "+86 138 0013 8000"
    assert book.address("not a number") == "not a number"
