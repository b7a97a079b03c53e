"""The ports to the world outside the store: HIS sources, listeners and the clock.

What a source could not read comes as :class:`Unreadable` (kept as a dead letter, never
dropped); an input wrapped in :class:`Positioned` has its position named in any refusal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import attrs

from membercore.facts import Fact

__all__ = [
    "REACHED",
    "Clock",
    "HisSource",
    "Listening",
    "Positioned",
    "Reached",
    "Reporting",
    "SourceInput",
    "Unreadable",
]


@attrs.frozen(kw_only=True)
class Unreadable:
    r"""An input a source could not read as text: kept as a dead letter with the reason.

    Attributes:
        raw: what was received, the bytes that are not UTF-8 escaped as ``\xff``.
        reason: what was wrong and where (``line 12: not UTF-8 text...``).
    """

    raw: str
    reason: str


@attrs.frozen(kw_only=True)
class Positioned:
    """An input with where it was found in its source: what a refusal names first.

    Attributes:
        raw: the input (text, a tagged dict, a message, or :class:`Unreadable`).
        position: where it was found (``line 1204``, ``offset 88012``...): what the
            engine commits for the source, and a reader resumes after.
        place: where it was found, for a person (``view charges, row SF002``), when the
            position is not written for one (a views file's watermarks); a refusal names
            it instead of the position.
    """

    raw: object
    position: str
    place: str = ""

    @property
    def named(self) -> str:
        """Where the input was found, as a refusal names it: the place, else the position."""
        return self.place or self.position


@attrs.frozen
class Reached:
    """Nothing to decide: a source read this far (``Positioned(raw=REACHED, position=...)``).

    A source whose last entries tell the programme nothing (vital signs at the end of a
    page) says so, so that the engine commits the position it reached with the batch and
    the next read starts after them.
    """


#: The one :class:`Reached`.
REACHED = Reached()


#: What a source reads: a fact, a tagged dict, JSON text, what it could not read, any of
#: them positioned, or an input paired with the instant it happened at.
SourceInput = Fact | Mapping[str, Any] | str | Unreadable | Positioned | tuple[datetime, Positioned]


@runtime_checkable
class HisSource(Protocol):
    """Where facts come from: an HIS feed, a file of JSON lines, a message queue."""

    name: str

    def read(self) -> Iterable[SourceInput]:
        """Facts, tagged dicts or JSON text the engine reads (refused: dead letters).

        What the source cannot even turn into text (bytes that are not UTF-8) comes as
        :class:`Unreadable`, so that it is kept as a dead letter too, never dropped; an
        input wrapped in :class:`Positioned` has its position named in any refusal. A
        command, which names no instant of its own, may come paired with the instant it
        was given at (``(instant, Positioned(raw=command, ...))``). ``Positioned(raw=
        REACHED, position=...)`` says the source read this far with nothing to decide.
        """
        ...


@runtime_checkable
class Reporting(Protocol):
    """A source that can say what became of what it read (``membercore import`` prints it)."""

    def report(self) -> list[str]:
        """Lines for a person: per kind of input, how many became facts, were not used...

        Called after :meth:`HisSource.read` was read to the end.
        """
        ...


@runtime_checkable
class Listening(Protocol):
    """A feed the HIS sends to (an MLLP listener, a webhook), run by ``membercore worker``.

    It hands what it receives to the engine it was built with, on the event loop's
    thread, and answers the sender only once the facts are committed.
    """

    async def start(self) -> None:
        """Start listening (return once it listens)."""
        ...

    async def stop(self) -> None:
        """Stop listening.

        What is being committed finishes and is answered, then every connection
        closes; what was received but not committed is not answered (its sender sends
        it again).
        """
        ...


@runtime_checkable
class Clock(Protocol):
    """The time, from outside: the core never reads a clock itself."""

    def now(self) -> datetime:
        """The current instant (timezone-aware).

        A clock may also offer ``sleep(seconds)``: the engine then waits between the
        retries of a unit of work that met a version conflict.
        """
        ...
