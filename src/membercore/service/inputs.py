"""What comes in: an input read within the limits, or a dead letter saying why not.

Ingestion takes facts and commands as objects, tagged dicts or JSON text, each alone or
paired with the instant to decide it at. Each is read strictly (:func:`as_typed`, the
:class:`~membercore.service.limits.InputLimits`); one that cannot be read becomes a
:class:`~membercore.ports.DeadLetter` (:func:`dead`) with its reason and ingestion goes
on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, TypeVar

import attrs

from membercore.dates import require_aware
from membercore.errors import InvalidFactError, MembercoreError, UnreadableError
from membercore.facts import Fact, ReferralQualified
from membercore.ports import DeadLetter, Positioned, Reached, Unreadable
from membercore.serialization import message_from_dict, message_to_dict
from membercore.serialization.problems import VALUE_FAULTS
from membercore.service.formed import in_form
from membercore.service.limits import InputLimits, check, parse, printable, small, truncated
from membercore.service.recording import dead_letter, member_key
from membercore.service.use_cases import AnyCommand, route
from membercore.text import brief, span

__all__ = [
    "INPUT_FAULTS",
    "Input",
    "Message",
    "Read",
    "a_pair",
    "as_typed",
    "chunks",
    "concerns",
    "dead",
    "describe",
    "from_the_future",
    "own_instant",
    "placed_at",
    "read",
    "reason",
    "routing_key",
    "written_instant",
]

T = TypeVar("T")

#: What ingestion takes: a fact or command, a tagged dict or JSON text; or one of those
#: with the instant to decide it at.
Message = Fact | AnyCommand | Mapping[str, Any] | str | Unreadable | Positioned
Input = Message | tuple[datetime, Message]

#: What reading or deciding a malformed input can raise besides membercore's own errors:
#: the input's fault, kept as a dead letter with its reason, never a reason to stop.
INPUT_FAULTS = VALUE_FAULTS


@attrs.frozen
class Read:
    """One input read: the message, what was received, the instant to decide it at.

    ``paired``: the instant was given with the input, not the batch's; ``place``: its
    place among the batch's inputs.
    """

    message: object
    raw: object
    at: datetime
    paired: bool = False
    place: int = 0


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last one shorter)."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def read(
    raws: Sequence[object], now: datetime, *, clock_skew: timedelta, limits: InputLimits
) -> tuple[list[Read], list[tuple[int, DeadLetter]]]:
    """Read a batch of inputs: those that can be taken, and dead letters for the others.

    Each dead letter comes with its input's place in ``raws``.
    """
    taken: list[Read] = []
    refused = []
    for place, item in enumerate(raws):
        if reached(item):
            continue  # a position alone: nothing to decide
        data: object = None
        raw: object = item
        try:
            at, raw, paired = _timed(item, now)
            data = _data(raw, limits)
            if a_pair(data):  # a JSON line ["2025-01-01T09:00:00+08:00", {...}]
                at, data, paired = written_instant(data[0]), data[1], True  # type: ignore[index]
                data = _data(data, limits)
            require_aware("the instant paired with an input", at)
            if at > now + clock_skew:
                raise InvalidFactError(
                    "message",
                    "instant",
                    at.isoformat(),
                    f"an input is decided at an instant after the decision instant "
                    f"{now.isoformat()} (more than the clock skew): history is replayed, "
                    "never the future",
                )
            message = message_from_dict(data) if isinstance(data, Mapping) else data
            routing_key(message)
        except (MembercoreError, *INPUT_FAULTS) as error:
            refused.append((place, dead(data, raw, reason(error), now, limits)))
            continue
        taken.append(Read(message, raw, at, paired, place))
    return taken, refused


def reached(item: object) -> bool:
    """Whether ``item`` is a position a source reached, with nothing to decide."""
    return isinstance(item, Positioned) and isinstance(item.raw, Reached)


def a_pair(data: object) -> bool:
    """Whether JSON data is an instant and a message: ``[instant, {...}]``."""
    return (
        isinstance(data, list)
        and len(data) == 2
        and isinstance(data[0], str)
        and isinstance(data[1], Mapping)
    )


def written_instant(text: str) -> datetime:
    """An instant written in ISO 8601 (its UTC offset is checked where it is used).

    Raises:
        InvalidFactError: the text is no ISO 8601 instant.
    """
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        problem = "the instant of a pair is an ISO 8601 instant with its UTC offset"
        raise InvalidFactError("message", "instant", text, problem) from None


def _timed(item: object, now: datetime) -> tuple[datetime, object, bool]:
    """The instant to decide an input at (its own, when given as a pair), the input, paired."""
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], datetime):
        return item[0], item[1], True
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
        problem = "an instant paired with an input is a timezone-aware datetime, not text"
        raise InvalidFactError("message", "instant", item[0], problem)
    return now, item, False


def dead(message: object, raw: object, why: str, now: datetime, limits: InputLimits) -> DeadLetter:
    """A dead letter, its reason and the input it keeps cut to the limits.

    ``message`` is what could be read of the input (a message, or the tagged dict a
    text held), to name the dead letter by its fact id and type.
    """
    if isinstance(raw, Positioned):
        why, raw = f"{raw.named}: {why}", raw.raw
    if not isinstance(raw, str) and not small(raw, limits.max_payload):
        # Too large to write out whole (it would cost more than refusing it did).
        message = raw if message is None and isinstance(raw, Mapping) else message
        raw = f"{brief(raw)} [too large to keep whole]"
    letter = dead_letter(message, raw, why, now)
    return attrs.evolve(
        letter,
        fact_id=printable(truncated(letter.fact_id, limits.max_id)),
        fact_type=printable(truncated(letter.fact_type, limits.max_id)),
        payload=truncated(letter.payload, limits.max_payload),
        reason=printable(truncated(letter.reason, limits.max_reason)),
    )


def _data(raw: object, limits: InputLimits) -> object:
    """What an input holds, read and checked within the limits: a tagged dict or a message."""
    if isinstance(raw, Positioned):
        return _data(raw.raw, limits)
    if isinstance(raw, Unreadable):
        raise UnreadableError(raw.reason)
    if isinstance(raw, str):
        data = parse(raw, limits)
        if a_pair(data):
            return data  # an instant and a message, each checked as it is read
        if not isinstance(data, dict):
            problem = "a message is a JSON object (or [instant, object])"
            raise InvalidFactError("message", "json", raw, problem)
        return data
    if isinstance(raw, Mapping):
        tag = raw.get("type")
        check(raw, limits, kind=tag if isinstance(tag, str) else "message")
        return raw
    return as_typed(raw, limits)


def as_typed(message: object, limits: InputLimits | None = None) -> object:
    """A fact or command built in code, checked as strictly as one read from JSON.

    attrs does not check types: a fact built with ``amount_fen=12.5`` or ``lines="x"``
    would be decided and stored, and its record could not be read again. Written out,
    checked within ``limits`` (when given) and read back through the strict converter,
    it is refused instead, naming the field. A message whose values all have the form
    the converter reads (:func:`~membercore.service.formed.in_form`) is not built again.

    Raises:
        InvalidFactError: a field holds a value its type does not take, or one past
            the limits.
    """
    tag = getattr(message, "TYPE", None)
    if not isinstance(tag, str):
        if limits is not None:
            check(message, limits)
        return message
    try:
        data = message_to_dict(message)
    except TypeError as error:
        if "is not a membercore message type" in str(error):
            return message  # not a message: the routing refuses it, saying so
        raise InvalidFactError(tag, "message", message, f"cannot be written: {error}") from None
    except (ValueError, AttributeError, RecursionError) as error:
        raise InvalidFactError(tag, "message", message, f"cannot be written: {error}") from None
    if limits is not None:
        check(data, limits, kind=tag)
    if in_form(message):
        return message  # read back, it would be equal to itself
    return message_from_dict(data)


def reason(error: BaseException) -> str:
    """Why an input was refused: membercore's own words, else what went wrong where."""
    if isinstance(error, MembercoreError):
        return str(error)
    return f"could not be read or decided ({type(error).__name__}: {brief(str(error))[1:-1]})"


def describe(command: object) -> str:
    """A command named for an error: its type and the ids it carries."""
    named = [
        f"{name} {value!r}"
        for name in ("member_id", "household_id", "key")
        if isinstance(value := getattr(command, name, None), str)
    ]
    return f"{getattr(command, 'TYPE', type(command).__name__)} ({', '.join(named)})"


def from_the_future(fact: Fact, at: datetime, clock_skew: timedelta) -> str:
    """Why a fact dated after its decision instant (past the clock skew) is refused."""
    return (
        f"occurred_at {fact.occurred_at.isoformat()} is {span(fact.occurred_at - at)} after "
        f"the decision instant {at.isoformat()}, beyond the allowed clock skew of "
        f"{span(clock_skew)}"
    )


def placed_at(
    keys: Sequence[str], own: datetime | None, latest: dict[str, datetime], fallback: datetime
) -> datetime:
    """Where an input goes among others, in time, and ``latest`` learns it.

    Its own instant; else (a command on its own) right after everything before it about
    the records it concerns (``latest``: the latest instant per record so far), else
    ``fallback``.
    """
    if own is None:
        own = max((latest[key] for key in keys if key in latest), default=fallback)
    for key in keys:
        latest[key] = max(own, latest.get(key, own))
    return own


def own_instant(message: object) -> datetime | None:
    """The instant a command carries of its own: when a payment was made."""
    paid = getattr(message, "paid_at", None)
    return paid if isinstance(paid, datetime) else None


def concerns(message: object) -> list[str]:
    """The records a message is about: its member's (or household head's), those it needs."""
    keys = routing_key(message)
    people = [getattr(message, name, None) for name in ("member_id", "head_id")]
    own = [member_key(person) for person in people if isinstance(person, str) and person]
    return [*own, *(key for key in keys if key not in own)]


def routing_key(message: object) -> list[str]:
    """The records a message needs, or an error saying why it cannot be taken."""
    if isinstance(message, ReferralQualified):  # the referred patient's record too
        return [member_key(message.patient_id), member_key(message.referred_patient_id)]
    if isinstance(message, Fact):
        return [member_key(message.patient_id)]
    return route(message)
