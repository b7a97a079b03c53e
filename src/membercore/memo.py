"""Readings kept by the identity of the immutable values they read.

The parts' states and their maps are immutable, and every state that follows shares a
map until an entry of it is added or let go. A reading of some maps on a day (a
profile's spend of the window, its channel, the days a window closes) is therefore
worked out once: a new fact of one kind reads again only what reads its kind, and a
record asked several times between two changes (each instant a tick visits, each commit)
reads nothing again. A reading that a change can bring up to date by itself (a window's
sums, :mod:`membercore.timeline`) is carried from a state to the state that follows.

A part decides on the state its own events make (the profile a fact's notes make, the
tier state its activity makes) before the record is moved on by the same events. The
profile, the tier state and the journeys therefore keep the states the latest
:data:`EVOLVED` events made (a :class:`Memo` of the state and the event): the record
takes that very state, and the readings kept or carried for it, instead of making it a
second time. The memo is bounded, not kept while the state before lives: a kept state
would hold the one made of it, and a state held long (a record's snapshot while its
journal is replayed) the whole chain of states after it.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar, cast

__all__ = ["EVOLVED", "KEPT_FROM", "Memo", "WhileAlive"]

#: Readings of fewer notes than this are worked out each time: a look-up costs more.
KEPT_FROM = 16

#: How many of the latest states made by events a part keeps (far more than the
#: events one decision makes).
EVOLVED = 64

T = TypeVar("T")


class Memo(Generic[T]):
    """Answers about immutable values, kept by their identity and a key.

    A kept answer holds its values alive, so an identity cannot come to name another
    value while the answer is kept. Holds at most ``most`` answers, and values of at
    most ``weight`` entries in all (the lengths of the maps and lists among them): past
    either, the answers used longest ago go first. A member's maps of notes grow with
    the member, and each fact makes new ones: bounded by their number alone, the
    answers would hold every version of a long map. An answer is shared: it must not
    be changed by whoever is given it.
    """

    def __init__(self, most: int, *, weight: int = 1 << 18) -> None:
        # In the order of use, the latest last: the answer used longest ago goes first
        # (an ordered dictionary lets it go at once; a plain one would step over every
        # slot the answers let go before it left empty).
        self._held: OrderedDict[tuple[tuple[int, ...], Hashable], tuple[tuple[object, ...], T, int]]
        self._held = OrderedDict()
        self._most = most
        self._weight = weight
        self._carried = 0
        self._lock = threading.Lock()  # engines on several threads share the answers

    def get(self, subjects: tuple[object, ...], key: Hashable, work: Callable[[], T]) -> T:
        """The answer kept for ``subjects`` and ``key``, else the one ``work`` gives (then kept)."""
        found = (tuple(map(id, subjects)), key)
        with self._lock:
            held = self._held.get(found)
            if held is not None:
                # The answer holds its subjects: no other object can have their ids meanwhile.
                self._held.move_to_end(found)  # the latest used, the last to go
                return held[1]
        answer = work()
        size = sum(len(subject) for subject in subjects if hasattr(subject, "__len__"))
        with self._lock:
            replaced = self._held.pop(found, None)  # worked out on another thread meanwhile
            self._carried += size - (0 if replaced is None else replaced[2])
            self._held[found] = (subjects, answer, size)
            while len(self._held) > self._most or (
                self._carried > self._weight and len(self._held) > 1
            ):
                self._carried -= self._held.popitem(last=False)[1][2]
        return answer


class WhileAlive(Generic[T]):
    """Answers about immutable objects, each kept while its object lives.

    Unlike :class:`Memo`, the object is held weakly and the answer goes with it, so
    there is no bound to outgrow: a record's profile kept decoded between units of work
    keeps its answer however many records are worked on meanwhile. The answer is kept
    with ``key`` (the rules it was worked out under) and given only for the same key.
    """

    def __init__(self) -> None:
        self._held: dict[int, tuple[_Ref, tuple[object, ...], T]] = {}

    def __len__(self) -> int:
        """How many answers are kept: one for each object still alive that was asked about."""
        return len(self._held)

    def get(self, subject: object, key: tuple[object, ...], work: Callable[[], T]) -> T:
        """The answer kept for ``subject`` under ``key``, else the one ``work`` gives."""
        held = self.held(subject)
        if held is not None and all(a is b for a, b in zip(held[0], key, strict=True)):
            return held[1]
        answer = work()
        self._keep(subject, key, answer)
        return answer

    def held(self, subject: object) -> tuple[tuple[object, ...], T] | None:
        """The key and answer kept for ``subject``, whatever the key, if any."""
        held = self._held.get(id(subject))
        if held is None or held[0]() is not subject:
            return None
        return held[1], held[2]

    def carry(
        self,
        before: object,
        after: object,
        bring: Callable[[tuple[object, ...], T], T | None],
    ) -> None:
        """Keep for ``after``, under the same key, what ``bring`` makes of ``before``'s answer.

        For an object made from another by a change that ``bring`` can apply to the
        answer. Nothing is kept when ``before`` has no answer kept, or ``bring`` gives
        ``None`` (the answer is then worked out again if ``after`` is ever asked about).
        """
        held = self.held(before)
        if held is None:
            return
        brought = bring(*held)
        if brought is not None:
            self._keep(after, held[0], brought)

    def _keep(self, subject: object, key: tuple[object, ...], answer: T) -> None:
        ref = _Ref(subject, self._gone)
        ref.ident = id(subject)
        self._held[ref.ident] = (ref, key, answer)

    def _gone(self, ref: weakref.ref[object]) -> None:
        ident = cast(_Ref, ref).ident
        held = self._held.get(ident)
        if held is not None and held[0] is ref:  # not an object that took its id since
            del self._held[ident]


class _Ref(weakref.ref[object]):
    """A weak reference that knows the id its object had (to be forgotten by, once dead)."""

    __slots__ = ("ident",)
    ident: int
