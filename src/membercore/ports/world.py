"""The ports to the world outside the store: HIS sources, listeners, webhooks, the clock.

What a source could not read comes as :class:`Unreadable` (kept as a dead letter, never
dropped); an input wrapped in :class:`Positioned` has its position named in any refusal.
A :class:`Webhook` is told of an HTTP request as a :class:`WebhookCall` and answers a
:class:`WebhookAnswer`, without knowing which server received it; it reaches the engine
only through the :class:`EngineCall` it is handed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol, TypeVar, runtime_checkable

import attrs

from membercore.facts import Fact

__all__ = [
    "REACHED",
    "Clock",
    "EngineCall",
    "HisSource",
    "Listening",
    "Positioned",
    "Reached",
    "Reporting",
    "SourceInput",
    "Unreadable",
    "Webhook",
    "WebhookAnswer",
    "WebhookCall",
    "directly",
]

T = TypeVar("T")
E = TypeVar("E")
E_co = TypeVar("E_co", covariant=True)


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
    """A feed the HIS sends to (an MLLP listener, an HTTP endpoint), run by ``membercore worker``.

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


def _lower_names(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in headers.items()}


def _status(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not 100 <= value <= 599:
        raise ValueError(f"{attribute.name} must be an HTTP status (100 to 599), got {value}")


@attrs.frozen(kw_only=True)
class WebhookCall:
    """An HTTP request to a webhook, as the server that received it tells it.

    Attributes:
        method: the HTTP method, in capitals (``POST``).
        path: the path below the webhook's own root: ``""`` for the root itself,
            ``/Patient/p0`` below it.
        query: the query's parameters (a name given twice: its last value), without the
            server's own (the ``token`` an API token may come in).
        headers: the request's headers by lower-case name (a header given twice: its
            last value).
        body: the request's body as it came (``b""`` for none).
    """

    method: str
    path: str = ""
    query: Mapping[str, str] = attrs.field(factory=dict)
    headers: Mapping[str, str] = attrs.field(factory=dict, converter=_lower_names)
    body: bytes = b""


@attrs.frozen(kw_only=True)
class WebhookAnswer:
    """What a webhook answers its caller, in the caller's own terms (no problem document).

    Attributes:
        status: the HTTP status.
        body: the answer's body.
        content_type: its media type (``application/fhir+json``).
    """

    status: int = attrs.field(default=200, validator=_status)
    body: bytes = b""
    content_type: str = "application/json"

    @classmethod
    def of_json(
        cls, value: object, *, status: int = 200, content_type: str = "application/json"
    ) -> WebhookAnswer:
        """An answer whose body is ``value`` as JSON (UTF-8, Chinese as it is)."""
        body = json.dumps(value, ensure_ascii=False).encode("utf-8")
        return cls(status=status, body=body, content_type=content_type)


class EngineCall(Protocol[E_co]):
    """Runs work on an engine where the engine may be used, and gives back its result.

    The HTTP API's engine lives on a thread of its own (a SQLite connection may be used
    only on the thread that opened it); ``membercore worker``'s on the event loop's
    thread. A webhook never holds the engine: it awaits ``engine(lambda e:
    e.ingest(inputs))`` and gets the report, or what the work raised.
    """

    async def __call__(self, work: Callable[[E_co], T], /) -> T:
        """``work(engine)``, run where the engine lives; its result, or what it raised."""
        ...


def directly(engine: E) -> EngineCall[E]:
    """An :class:`EngineCall` that runs the work at once, where it is awaited.

    For a server on the event loop of the thread the engine was opened on (a listener
    of ``membercore worker``): the work runs on that loop, between two awaits.
    """

    async def call(work: Callable[[E], T], /) -> T:
        return work(engine)

    return call


@runtime_checkable
class Webhook(Protocol):
    """An HTTP endpoint a provider or the HIS calls (delivery reports, FHIR notifications).

    ``membercore serve --webhook NAME`` serves it at ``/webhooks/NAME`` and below, after
    the API has checked the caller's token; what it answers goes back as it is. It
    checks what is its own to check (a shared secret's header), hands what it receives
    to the engine through the :class:`EngineCall`, and answers only once the engine has
    committed it: an answer of success is a promise that nothing is lost.
    """

    async def receive(self, call: WebhookCall, engine: EngineCall[Any]) -> WebhookAnswer:
        """Take one request and answer it.

        Args:
            call: the request.
            engine: runs work on the engine (``await engine(lambda e: e.ingest(...))``).

        Returns:
            The answer, in the caller's terms: a method or path it does not take is its
            own 405 or 404, and a failure of the store an answer that makes the caller
            send again (500, 503).
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
