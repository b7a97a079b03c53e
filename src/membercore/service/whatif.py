"""Replaying a store's input log under a programme, in partitions of connected members.

The input log (:class:`~membercore.ports.InputLog`) holds every fact taken, command
carried out (or refused by a part of the programme) and tick, in the order they were
decided, each with the instant it was decided at and the instant of the call that took
it. :func:`replay` feeds one partition of it to an engine on a ``memory://`` store under
the programme asked for, with the clock the original kept: each batch of inputs is
ingested as the original call took it (each input at its own decision instant, the call
at its instant, history as history with its cutoff), and each tick ticks the records it
ticked then, to the instant it ticked to, so that timers, expiries and tier reviews fall
as they fell.

:class:`Grouping` reads the log once and splits it by member: inputs that concern
several records (a referral, a household's dependent, a merge, a transfer, a gift from a
stock) join them, and each group of connected records goes whole into one partition, so
that partitions can be replayed apart, in as many processes, to the same figures. It
keeps what grows with the records, not with the inputs: a log too long to hold is
routed input by input as a copy of it is read (:func:`partitions` does it in memory).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime

import attrs
import pluggy

from membercore.analytics import figures
from membercore.analytics.whatif import MemberRun, Observed, Run
from membercore.config import ProgrammeConfig
from membercore.dates import ManualClock
from membercore.errors import EngineError
from membercore.ports import LoggedInput
from membercore.serialization import message_from_stored
from membercore.service.engine import Engine
from membercore.service.inputs import Input, Message
from membercore.service.member import Member
from membercore.service.recording import MEMBER, member_key, member_of

__all__ = [
    "MOST_INPUTS",
    "Grouping",
    "end_of",
    "partitions",
    "replay",
    "sample_of",
]


def end_of(entries: Iterable[LoggedInput]) -> datetime | None:
    """The latest instant the log's inputs were decided or taken at (None: an empty log)."""
    return max((max(entry.at, entry.batch_at) for entry in entries), default=None)


def sample_of(members: Iterable[str], size: int) -> list[str]:
    """A deterministic sample of ``members``: the first ``size`` by a digest of the id."""

    def digest(member_id: str) -> str:
        return hashlib.blake2b(member_id.encode(), digest_size=8).hexdigest()

    return sorted(set(members), key=lambda m: (digest(m), m))[: max(size, 0)]


#: The inputs a partition holds at most, unless one group of connected records holds
#: more: a replay keeps its partition's records and journals in memory (about 0.8 GB
#: for 85,000 inputs of the demo hospital), so a longer log is split into more
#: partitions than processes, each replayed in turn by the next process free.
MOST_INPUTS = 100_000


class _Groups:
    """Union-find over record keys: the groups of records the inputs connect."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        parent = self.parent.setdefault(key, key)
        while parent != key:
            grand = self.parent[parent]
            self.parent[key] = grand
            key, parent = parent, grand
        return key

    def join(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        first = self.find(keys[0])
        for key in keys[1:]:
            other = self.find(key)
            if other != first:
                # The smaller key leads: the grouping does not depend on the order joined.
                first, other = min(first, other), max(first, other)
                self.parent[other] = first


class Grouping:
    """The log read once: its groups of connected records, and what a replay needs of it.

    The records an input changed or concerns are connected; a tick connects none. What
    it keeps grows with the records, not with the inputs, so that a log of any length
    is split (:meth:`placed`) and routed (:meth:`route`) as it is read, input by input.

    Attributes:
        inputs: the inputs read.
        last: the sequence number of the last one (0: none).
        end: the latest instant one was decided or taken at (None: none).
        members: the ids of the members they changed or concern.
    """

    def __init__(self, entries: Iterable[LoggedInput]) -> None:
        self._groups = _Groups()
        firsts: dict[str, int] = {}
        self.inputs = self.last = 0
        self.end: datetime | None = None
        self.members: set[str] = set()
        for entry in entries:
            self.inputs += 1
            self.last = max(self.last, entry.seq)
            at = max(entry.at, entry.batch_at)
            self.end = at if self.end is None or at > self.end else self.end
            self.members.update(member_of(key) for key in entry.keys if key.startswith(MEMBER))
            if entry.kind != "tick" and entry.keys:
                self._groups.join(entry.keys)
                firsts[entry.keys[0]] = firsts.get(entry.keys[0], 0) + 1
        # Inputs by group, counted once every input has joined its records.
        self._sizes: dict[str, int] = {}
        for key, count in firsts.items():
            root = self._groups.find(key)
            self._sizes[root] = self._sizes.get(root, 0) + count

    def placed(self, count: int, most: int = MOST_INPUTS) -> dict[str, int]:
        """Each group's partition: at least ``count``, of at most ``most`` inputs each.

        The largest groups first, each to the partition with the fewest inputs so far,
        so that no input needs two partitions; never more partitions than groups.
        """
        wanted = max(count, -(-sum(self._sizes.values()) // max(most, 1)))
        count = max(1, min(wanted, len(self._sizes) or 1))
        loads = [0] * count
        home: dict[str, int] = {}
        for root in sorted(self._sizes, key=lambda r: (-self._sizes[r], r)):
            place = min(range(count), key=lambda p: (loads[p], p))
            home[root] = place
            loads[place] += self._sizes[root]
        return home

    def route(self, entry: LoggedInput, home: dict[str, int]) -> list[tuple[int, LoggedInput]]:
        """Where an input goes: its group's partition; a tick to each partition it ticked in.

        A tick goes to each partition holding a record it ticked, with those records
        only (a record no input names: nowhere).
        """
        return [
            (place, entry if keys is entry.keys else attrs.evolve(entry, keys=keys))
            for place, keys in self.places(entry.kind, entry.keys, home)
        ]

    def places(
        self, kind: str, keys: tuple[str, ...], home: dict[str, int]
    ) -> list[tuple[int, tuple[str, ...]]]:
        """:meth:`route` for an input of ``kind`` naming ``keys``: each place, with its keys.

        An input other than a tick keeps ``keys`` itself (the same tuple).
        """
        if kind != "tick":
            return [(home[self._groups.find(keys[0])], keys)] if keys else []
        shares: dict[int, list[str]] = {}
        for key in keys:
            root = self._groups.find(key)
            if root in home:
                shares.setdefault(home[root], []).append(key)
        return [(place, tuple(held)) for place, held in sorted(shares.items())]


def partitions(
    entries: Sequence[LoggedInput], count: int, most: int = MOST_INPUTS
) -> list[list[LoggedInput]]:
    """The log split into at least ``count`` partitions of connected records, in memory.

    At most ``most`` inputs each where groups allow (see :meth:`Grouping.placed`);
    every partition keeps its inputs in the log's order (:meth:`Grouping.route`).
    """
    grouping = Grouping(entries)
    home = grouping.placed(count, most)
    parts: list[list[LoggedInput]] = [[] for _ in range(max(home.values(), default=0) + 1)]
    for entry in entries:
        for place, routed in grouping.route(entry, home):
            parts[place].append(routed)
    return [part for part in parts if part]


def _calls(entries: Iterable[LoggedInput]) -> Iterator[list[LoggedInput]]:
    """The log as the calls that took it: a tick alone, or a run of inputs of one call.

    Inputs taken by one call share its instant; a history's, its cutoff. An import of
    history takes its inputs in batches, each at its own instant, and only at its end
    brings the records it touched up to the cutoff (the ticks that follow its inputs in
    the log): its batches are one call.
    """
    run: list[LoggedInput] = []
    for entry in entries:
        if run and (
            entry.kind == "tick"
            or entry.cutoff != run[0].cutoff
            or (entry.cutoff is None and entry.batch_at != run[0].batch_at)
        ):
            yield run
            run = []
        if entry.kind == "tick":
            yield [entry]
        else:
            run.append(entry)
    if run:
        yield run


def replay(
    entries: Sequence[LoggedInput],
    config: ProgrammeConfig,
    *,
    sample: Iterable[str] = (),
    end: datetime | None = None,
    plugin_manager: pluggy.PluginManager | None = None,
) -> Run:
    """Replay a partition of the input log under ``config`` on a fresh ``memory://`` store.

    Args:
        entries: the partition's logged inputs, in the log's order.
        config: the programme to replay under.
        sample: members whose decisions are explained line by line, when in the partition.
        end: the instant the figures are read at (by default the partition's last).
        plugin_manager: the plugins (by default the installed ones, as the engine took).

    Returns:
        The run's figures, what it decided of messages, tasks, offers and plan money,
        and the sampled members it holds.

    Raises:
        EngineError: the log is empty and no ``end`` was given.
    """
    at = end or end_of(entries)
    if at is None:
        raise EngineError("nothing to replay: the input log is empty")
    wanted = frozenset(sample)
    observed = Observed(sample=wanted)
    start = min((entry.batch_at for entry in entries), default=at)
    clock = ManualClock(start)
    with Engine.open(
        "memory://",
        config=config,
        clock=clock,
        plugin_manager=plugin_manager,
        observers=[observed],
    ) as engine:
        for call in _calls(entries):
            _replay_call(engine, clock, call)
        members = list(engine.members())
        held = [m for m in members if m.member_id in wanted]
        sampled = [_member_run(m, config, at, observed) for m in held]
        run = Run.of(
            figures(members, config, at),
            observed,
            members=sampled,
            dead_letters=len(engine.dead_letters()),
        )
    return run


def _replay_call(engine: Engine, clock: ManualClock, call: list[LoggedInput]) -> None:
    first = call[0]
    clock.set(max(clock.now(), first.batch_at))
    if first.kind == "tick":
        engine.tick(first.at, where=_among(frozenset(first.keys)))
        return
    most = engine.limits.max_chars
    pairs: list[Input] = [(entry.at, _message(entry, most)) for entry in call]
    history = first.cutoff is not None
    engine.ingest(pairs, now=first.batch_at, history=history, cutoff=first.cutoff)


def _among(keys: frozenset[str]) -> Callable[[str], bool]:
    def ticked(member_id: str) -> bool:
        return member_key(member_id) in keys

    return ticked


def _message(entry: LoggedInput, most: int) -> Message:
    """An input as the engine is to read it again: its stored text, read in one pass.

    The engine reads the text as strictly as it read the input the first time (an
    earlier schema version upcast). A text longer than the engine's limits take (a
    fact built in code and checked as values, not as text) is read as stored first.
    """
    if len(entry.payload) <= most:
        return entry.payload
    message: Message = message_from_stored(entry.payload)
    return message


def _member_run(member: Member, config: ProgrammeConfig, at: datetime, seen: Observed) -> MemberRun:
    counted = figures([member], config, at)
    member_id = member.member_id
    lines = tuple(seen.lines.get(member_id, ()))
    return MemberRun(
        member_id=member_id,
        tier=next(iter(counted.by_tier), ""),
        points=dict(sorted(counted.points.items())),
        messages=sum(1 for line in lines if " message " in line and "refused" not in line),
        lines=lines,
    )
