"""The input limits' walk: its quick look at plain leaves refuses exactly what a close look does."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore.errors import InvalidFactError
from membercore.facts import ChargeLine, ChargePaid
from membercore.service import limits as limits_module
from membercore.service.limits import InputLimits, check

# Text that looks clean and text that is not: padding, controls, bidirectional marks,
# invisible characters, lone surrogates, and long runs.
_NASTY = st.sampled_from([" ", "\t", "\n", "\x00", "\u202e", "\u200b", "\ud800", "x" * 12])
_TEXT = st.one_of(
    st.text(max_size=6),
    st.builds(lambda a, b, c: a + b + c, st.text(max_size=3), _NASTY, st.text(max_size=3)),
)
_KEYS = st.one_of(
    st.sampled_from(["fact_id", "patient_id", "key", "id", "name", "reason", "member_ids"]),
    _TEXT,
)
_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**25), max_value=10**25),
    # Numbers at the edges of their digits and of their bits.
    st.integers(1, 84).flatmap(lambda bits: st.sampled_from([2**bits - 1, 2**bits, -(2**bits)])),
    st.integers(1, 26).flatmap(lambda power: st.sampled_from([10**power - 1, 10**power])),
    st.floats(allow_nan=False),
    _TEXT,
    st.sampled_from([" P1", "P1 ", "P1", "P\u200b1"]),
    st.just(datetime(2025, 1, 1, tzinfo=UTC)),
    st.just(date(2025, 1, 1)),
)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.lists(inner, max_size=5).map(tuple),
        st.dictionaries(_KEYS, inner, max_size=5),
    ),
    max_leaves=30,
)
_LIMITS = st.builds(
    InputLimits,
    max_depth=st.integers(1, 4),
    max_items=st.integers(1, 6),
    max_text=st.integers(1, 10),
    max_id=st.integers(1, 12),
    max_digits=st.integers(1, 25),
)


def _closely(value: object, limits: InputLimits, kind: str) -> None:
    """The walk with every leaf and key looked at closely: the model the quick look must match."""
    leaf = limits_module._leaf_problem
    problem = leaf("", value, limits)
    if problem is not None:
        raise limits_module._refuse(kind, "", value, problem)
    stack: list[tuple[str, object, int]] = [("", value, 0)]
    while stack:
        path, item, depth = stack.pop()
        parts = limits_module._children(item)
        if parts is None:
            continue
        if depth >= limits.max_depth:
            raise limits_module._refuse(kind, path, "…", f"nested deeper than {limits.max_depth}")
        size = limits_module._size(item)
        if size > limits.max_items:
            raise limits_module._refuse(
                kind, path, "…", f"holds {size} items, more than {limits.max_items}"
            )
        nested = []
        for key, child in parts:
            where = limits_module._join(path, key)
            if isinstance(item, Mapping) and isinstance(key, str):
                problem = limits_module._text_problem(key, limits, is_id=True)
                if problem is not None:
                    raise limits_module._refuse(kind, where, key, problem)
            problem = leaf(key, child, limits)
            if problem is not None:
                raise limits_module._refuse(kind, where, child, problem)
            if not isinstance(child, str | int | float | datetime | date) and child is not None:
                nested.append((where, child, depth + 1))
        stack.extend(reversed(nested))


def _refusal(walk: object, value: object, limits: InputLimits) -> tuple[str, str] | None:
    try:
        walk(value, limits, kind="message")  # type: ignore[operator]
    except InvalidFactError as error:
        return error.field, error.problem
    return None


@given(value=_VALUES, limits=_LIMITS)
def test_the_quick_look_refuses_what_a_close_look_refuses(
    value: object, limits: InputLimits
) -> None:
    expected = _refusal(_closely, value, limits)
    assert _refusal(check, value, limits) == expected


_IDENTIFIED = st.dictionaries(
    st.sampled_from(["key", "id", "fact_id", "member_ids", "name"]),
    st.one_of(_TEXT, st.sampled_from([" P1", "P1 ", "P1", "P\u200b1", "P\u202e1"])),
    min_size=1,
    max_size=3,
)


@given(value=_IDENTIFIED, limits=_LIMITS)
def test_identifiers_are_looked_at_as_closely_as_ever(value: object, limits: InputLimits) -> None:
    assert _refusal(check, value, limits) == _refusal(_closely, value, limits)


@given(value=_VALUES, first=_LIMITS, second=_LIMITS)
def test_keys_found_clean_under_some_limits_are_looked_at_again_under_others(
    value: object, first: InputLimits, second: InputLimits
) -> None:
    _refusal(check, value, first)  # keys found clean are kept between inputs
    assert _refusal(check, value, second) == _refusal(_closely, value, second)


def test_a_long_key_is_refused_though_it_was_found_clean_before() -> None:
    check({"patient_identifier": "P1"}, InputLimits())
    with pytest.raises(InvalidFactError) as refused:
        check({"patient_identifier": "P1"}, InputLimits(max_id=8))
    assert refused.value.field == "patient_identifier"
    assert "more than 8" in refused.value.problem


@pytest.mark.parametrize(
    ("digits", "number", "refused"),
    [
        (10, 10**9, False),
        (10, 10**10 - 1, False),
        (10, -(10**10) + 1, False),
        (10, 10**10, True),
        (20, 99_999_999_999_999_999_999, False),
        (20, 10**20, True),
        (1, 9, False),
        (1, 10, True),
    ],
)
def test_a_number_is_refused_past_its_digits_and_not_before(
    digits: int, number: int, refused: bool
) -> None:
    limits = InputLimits(max_digits=digits)
    assert (_refusal(check, {"n": number}, limits) is not None) is refused
    assert _refusal(check, {"n": number}, limits) == _refusal(_closely, {"n": number}, limits)


def test_every_edge_of_the_digits_is_where_a_close_look_puts_it() -> None:
    for digits in range(1, 26):
        limits = InputLimits(max_digits=digits)
        edges = [2**bits for bits in range(90)] + [10**power for power in range(30)]
        for edge in edges:
            for number in (edge - 1, edge, -edge, 1 - edge):
                quick = _refusal(check, [number], limits)
                assert quick == _refusal(_closely, [number], limits), (digits, number)


def test_a_fact_built_in_code_is_walked_by_its_fields() -> None:
    line = ChargeLine(department="outpatient", category="exam", amount_fen=10**30)
    fact = ChargePaid(
        fact_id="c-1",
        patient_id="P1",
        occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
        charge_id="ch-1",
        lines=(line,),
    )
    with pytest.raises(InvalidFactError) as refused:
        check(fact, InputLimits())
    assert refused.value.field == "lines[0].amount_fen"
    padded = attrs.evolve(fact, lines=(attrs.evolve(line, amount_fen=1),), patient_id=" P1")
    assert _refusal(check, padded, InputLimits()) == ("patient_id", _refusal_of_padding())


def _refusal_of_padding() -> str:
    return "an identifier with spaces before or after it"
