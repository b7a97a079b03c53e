"""A message built in code is taken where it stands only when reading it back would give it.

:func:`membercore.service.inputs.as_typed` reads a fact or command built in code back
through the strict converter, unless :func:`in_form` vouches that the round trip would
give an equal message. The property holds :func:`in_form` to that over messages of every
type, with values drawn for each field's type (and of other types
besides); the cases below show what it must not vouch for, and why.
"""

from __future__ import annotations

import copy
import typing
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from membercore.errors import InvalidFactError
from membercore.facts import ChargeLine, ChargePaid, CheckedIn, Fact, PatientRegistered
from membercore.outreach import RequestMessage
from membercore.serialization import message_classes, message_from_dict, message_to_dict
from membercore.service.formed import in_form
from membercore.service.inputs import as_typed
from membercore.testing.fact_strategies import facts

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
LINE = ChargeLine(department="internal", category="exam", amount_fen=12_000)
CHARGE = ChargePaid(fact_id="c-1", patient_id="P1", occurred_at=T0, charge_id="c", lines=(LINE,))
REQUEST = RequestMessage(
    key="k-1", member_id="P1", template_key="welcome", purpose="care", reason="a welcome"
)

#: Every fact, command and event (an input is a fact or a command; events read alike).
MESSAGE_TYPES = sorted(message_classes().values(), key=lambda kind: kind.__name__)


def _read_back(message: object) -> object:
    return message_from_dict(message_to_dict(message))


def _loose(hint: Any) -> st.SearchStrategy[Any]:
    """Values for a field of type ``hint``: mostly of it, sometimes of another type."""
    odd = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-3, 3),
        st.floats(allow_nan=False, width=16),
        st.text(max_size=3),
        st.lists(st.text(max_size=2), max_size=2),
        st.just(datetime(2026, 3, 2, 10, tzinfo=ZoneInfo("Asia/Shanghai"))),
    )
    try:
        proper = st.from_type(hint)
    except (TypeError, NotImplementedError, ValueError):
        return odd
    return st.one_of(proper, proper, odd)


@st.composite
def _messages(draw: st.DrawFn) -> object:
    kind = draw(st.sampled_from(MESSAGE_TYPES))
    hints = typing.get_type_hints(kind)
    try:  # a value its checks refuse (of the message or of a class within): nothing to read
        values = {
            field.alias: draw(_loose(hints[field.name]))
            for field in attrs.fields(kind)
            if field.init and (field.default is attrs.NOTHING or draw(st.booleans()))
        }
        return kind(**values)
    except Exception:
        assume(False)
        raise


@settings(suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(message=_messages())
def test_a_message_vouched_for_reads_back_as_itself(message: object) -> None:
    if in_form(message):
        assert _read_back(message) == message


@given(fact=facts())
def test_the_facts_a_source_builds_are_vouched_for(fact: Fact) -> None:
    """Built with values of their own types, as a source builds them: none needs reading back."""
    assert in_form(fact)
    assert as_typed(fact) is fact
    assert _read_back(fact) == fact


_Unform = Callable[[], object]


def _with(message: Any, **values: object) -> Any:
    """``message`` holding ``values`` that its constructor might have refused or changed."""
    changed = copy.copy(message)
    for name, value in values.items():
        object.__setattr__(changed, name, value)
    return changed


class _Text(str):
    __slots__ = ()


UNFORMED: dict[str, _Unform] = {
    "a decimal for a whole number": lambda: _with(CHARGE, lines=(_with(LINE, amount_fen=12.5),)),
    "true for a whole number": lambda: _with(CHARGE, lines=(_with(LINE, amount_fen=True),)),
    "a list for a tuple": lambda: _with(CHARGE, lines=[LINE]),
    "a line that is not a line": lambda: _with(CHARGE, lines=({"amount_fen": 1},)),
    "an instant in a named zone": lambda: _with(
        CHARGE, occurred_at=datetime(2026, 3, 2, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
    ),
    "a naive instant": lambda: _with(CHARGE, occurred_at=datetime(2026, 3, 2, 10)),  # noqa: DTZ001
    "text of a subclass": lambda: _with(CHARGE, charge_id=_Text("c")),
    "a name off the closed list": lambda: _with(
        PatientRegistered(fact_id="r", patient_id="P1", occurred_at=T0), sex="other"
    ),
    "a read-only table for a table": lambda: _with(REQUEST, variables=MappingProxyType({"a": "b"})),
    "a number in a table of text": lambda: _with(REQUEST, variables={"a": 1}),
}


@pytest.mark.parametrize("case", sorted(UNFORMED))
def test_a_value_not_in_its_reading_form_is_read_back(case: str) -> None:
    """Each is read back: refused naming its field, or taken in the form it reads as."""
    message = UNFORMED[case]()
    assert not in_form(message)
    try:
        typed = as_typed(message)
    except InvalidFactError:
        return
    assert typed is not message


def test_an_instant_with_a_fixed_offset_reads_back_as_itself() -> None:
    east = timezone(timedelta(hours=8))
    fact = CheckedIn(fact_id="in-1", patient_id="P1", occurred_at=T0.astimezone(east))
    assert in_form(fact)
    assert _read_back(fact) == fact
