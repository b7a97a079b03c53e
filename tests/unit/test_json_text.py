"""Records and events are the same JSON text with orjson and without it."""

from __future__ import annotations

import dataclasses
import enum
import json
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore import converters
from membercore.converters import JsonText

STANDARD = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
SORTED = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


@dataclasses.dataclass
class _Point:
    x: int
    y: int


class _Tier(enum.StrEnum):
    GOLD = "L3"


#: What membercore stores: text (any character, control and non-BMP ones included),
#: integers (money in fen, points; some past 64 bits), booleans, nulls, lists, objects.
plain: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.text(st.characters(codec="utf-8")),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(st.characters(codec="utf-8"), max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def test_orjson_is_used_when_installed() -> None:
    assert JsonText()._fast is orjson


@given(plain)
def test_the_text_is_the_standard_librarys(data: Any) -> None:
    text = converters.JSON.encode(data)
    assert text == STANDARD.encode(data)
    assert converters.JSON.decode(text) == data


@given(plain)
def test_the_canonical_text_is_the_standard_librarys_with_sorted_keys(data: Any) -> None:
    assert JsonText(sort_keys=True).encode(data) == SORTED.encode(data)


@pytest.mark.parametrize("sort_keys", [False, True])
def test_what_the_standard_library_cannot_write_orjson_does_not_write_either(
    sort_keys: bool,
) -> None:
    text = JsonText(sort_keys=sort_keys)
    for value in ({"at": datetime(2026, 1, 1, tzinfo=UTC)}, [_Point(1, 2)]):
        with pytest.raises(TypeError):
            text.encode(value)
    # A subclass of text (an enumeration's value) is written as the standard library does.
    assert text.encode({"tier": _Tier.GOLD}) == '{"tier":"L3"}'


def test_without_orjson_the_standard_library_writes_and_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(converters, "_orjson", lambda: None)
    slow = JsonText()
    data = {"name": "李\u2028雷", "fen": 2**70, "ok": True, "none": None, "list": [1, "二"]}
    assert slow._fast is None
    assert slow.encode(data) == STANDARD.encode(data)
    assert slow.decode(slow.encode(data)) == data


def test_what_orjson_declines_is_written_by_the_standard_library() -> None:
    lone = {"text": "\ud800", 1: "a key that is a number"}
    assert converters.JSON.encode(lone) == STANDARD.encode(lone)
    assert converters.JSON.decode('{"n":NaN}')["n"] != 0
