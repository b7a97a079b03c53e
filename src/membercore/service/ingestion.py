"""Ingestion: a batch of inputs read, decided per record and committed once.

Facts already taken (same id, same content) are counted as duplicates; a fact id taken
before with other content, a fact dated past the clock skew, and an input a part refuses
become dead letters with their reason, and whatever that input had changed is undone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

import attrs

from membercore.errors import MembercoreError, StorageError, UnknownMemberError
from membercore.facts import Fact, PatientRegistered, ReferralQualified
from membercore.idempotency import fingerprint, matches
from membercore.ports import DeadLetter, SourcePosition
from membercore.service import identities, plausibility, referrals
from membercore.service.context import Context
from membercore.service.erased import erased_inputs
from membercore.service.handling import run
from membercore.service.inputs import (
    INPUT_FAULTS,
    Read,
    concerns,
    dead,
    from_the_future,
    own_instant,
    placed_at,
    read,
    reason,
    routing_key,
)
from membercore.service.recording import member_key
from membercore.service.reports import IngestReport
from membercore.service.unit_of_work import UnitOfWork
from membercore.service.use_cases import handle

if TYPE_CHECKING:
    from membercore.service.engine import Engine

__all__ = ["ingest_batch"]


def ingest_batch(
    engine: Engine,
    raws: Sequence[object],
    now: datetime,
    ctx: Context | None = None,
    touched: set[str] | None = None,
    *,
    reached: SourcePosition | None = None,
    first: int = 0,
) -> IngestReport:
    """Read, decide and commit one batch (retried whole on a version conflict).

    Facts are decided in the order they happened (:func:`_in_order`), each input
    learnt of at the batch's instant or its own, when paired with one. A record is
    never taken past its facts' instants here: what falls due after them is the next
    tick's (or the member's next fact's), at its own instant, so the size of the
    batches never changes what a feed leaves. The keys of the members' records decided
    are added to ``touched``. The commit also stores ``reached``, the position its
    source reached with these inputs. The report's refusals and duplicates place each
    such input among all the call's inputs, ``raws`` starting at ``first``.
    """
    taken, refused = read(raws, now, clock_skew=engine.clock_skew, limits=engine.limits)
    what = f"ingesting a batch of {len(raws)} inputs"
    work = partial(_apply, engine, ctx or engine.context, taken, refused, now)
    report, retries = engine.retrying(lambda: work(touched, reached), what)
    placed = tuple((first + place, why) for place, why in report.refusals)
    duplicated = tuple(first + place for place in report.duplicated)
    return attrs.evolve(report, retries=retries, refusals=placed, duplicated=duplicated)


def _held(uow: UnitOfWork, patient_id: str) -> bool:
    """Whether ``patient_id`` has a record, stored or made by the batch so far."""
    return member_key(patient_id) in uow.records


def _in_order(
    fresh: list[tuple[Read, str | None]],
    *,
    history: bool,
    known: Callable[[str], bool] = lambda _: True,
) -> list[tuple[int, datetime, tuple[Read, str | None]]]:
    """The inputs in the order they are decided: each with its place and its instant.

    Facts go by when they happened: at one instant a registration first, the rest in
    the order they came in (a sender's order, a visit then the referral it qualifies, is
    the order things happened in; fact ids carry none); each is learnt of at its
    input's instant. A command paired with an instant goes at it. One on its own goes
    right after what came before it in the batch about the same records (its member's
    included); it is decided when the programme learnt of it (the batch's instant),
    or, loading ``history``, at the instant of what came before it (a consent written
    after the registration it follows).

    A patient the programme does not know yet is registered before their facts: a fact
    dated before the batch's registration of them (a HIS that records the registration
    later, a record migrated) goes right after it, still decided as of when it happened.
    """
    placed: list[tuple[datetime, int, int, datetime, tuple[Read, str | None]]] = []
    latest: dict[str, datetime] = {}
    for position, entry in enumerate(fresh):
        item = entry[0]
        message = item.message
        own: datetime | None = item.at if item.paired else None
        if isinstance(message, Fact):
            own = min(message.occurred_at, item.at)
        elif own is None and (paid := own_instant(message)) is not None:
            own = min(paid, item.at)
        at = placed_at(concerns(message), own, latest, item.at)
        first = int(not isinstance(message, PatientRegistered))
        # A fact is learnt of at its input's instant (it is decided when it happened); a
        # command on its own is decided when it came, or, loading history, at its place.
        when = at if history and not isinstance(message, Fact) else item.at
        placed.append((at, first, position, when, entry))
    placed = _registered_first(placed, known)
    placed.sort(key=lambda held: held[:3])
    return [(position, when, entry) for _, _, position, when, entry in placed]


def _registered_first(
    placed: list[tuple[datetime, int, int, datetime, tuple[Read, str | None]]],
    known: Callable[[str], bool],
) -> list[tuple[datetime, int, int, datetime, tuple[Read, str | None]]]:
    """Facts of a patient not known yet placed no earlier than the batch's registration of them."""
    registered: dict[str, datetime] = {}
    for at, _, _, _, (item, _) in placed:
        message = item.message
        if isinstance(message, PatientRegistered) and not known(message.patient_id):
            registered[message.patient_id] = min(at, registered.get(message.patient_id, at))
    if not registered:
        return placed
    moved = []
    for held in placed:
        message = held[4][0].message
        since = registered.get(message.patient_id) if isinstance(message, Fact) else None
        moved.append((since, *held[1:]) if since is not None and held[0] < since else held)
    return moved


def _apply(
    engine: Engine,
    ctx: Context,
    taken: list[Read],
    refused: list[tuple[int, DeadLetter]],
    now: datetime,
    touched: set[str] | None,
    reached: SourcePosition | None,
) -> IngestReport:
    uow = engine.unit_of_work(now)
    refusals = list(refused)  # (place among the batch's inputs, dead letter)
    fresh, duplicated = _screen(engine, uow, taken, now, refusals)
    index = identities.read_index(engine.store, (item for item, _ in fresh))
    uow.index = index
    uow.load(key for item, _ in fresh for key in routing_key(item.message))
    uow.load(member_key(patient) for patient in index.named.values())
    uow.load_households()
    applied = 0

    record_of = uow.survivor
    cutoff = ctx.cutoff if ctx.history else None

    learnt: dict[str, datetime] = {}  # the records decided
    known = partial(_held, uow)
    for _, when, (item, digest) in _in_order(fresh, history=ctx.history, known=known):
        message = item.message
        mark = uow.mark()
        try:
            message = identities.route(index, message, record_of)
            key, made = _decide(engine, ctx, uow, message, when)
        except StorageError:
            raise
        except (MembercoreError, *INPUT_FAULTS) as error:
            # Whatever the input had changed before it was refused is undone.
            uow.restore(mark)
            identities.refuse(index, item.message, error)
            why = reason(error)
            refusals.append((item.place, dead(message, item.raw, why, now, engine.limits)))
            if isinstance(error, MembercoreError):
                # Another programme might take it (a redemption with more points).
                uow.log_input(
                    item.message, when, concerns(item.message), refused=why, cutoff=cutoff
                )
            continue
        if not made:
            duplicated.append(item.place)  # a command carried out before: nothing new
            continue
        uow.log_input(item.message, when, [*uow.changed(), *concerns(item.message)], cutoff=cutoff)
        applied += 1
        if isinstance(message, Fact) and digest is not None:
            uow.take_fact(message.fact_id, key, digest)
            identities.learn(uow, index, item.message, message)
        if key:
            learnt[key] = item.at
    refusals.sort(key=lambda entry: entry[0])  # listed in the order they came in
    uow.dead.extend(letter for _, letter in refusals)
    if reached is not None:
        uow.positions.append(reached)
    if touched is not None:
        # Facts taken before count too: an import run again after a crash still ends
        # with its records brought up to the cutoff.
        touched.update(learnt)
        again = set(duplicated)  # facts taken before the run that was stopped
        touched.update(
            key
            for item in taken
            for key in concerns(item.message)
            if key in uow.records or item.place in again
        )
    committed = uow.commit()
    return IngestReport(
        applied=applied,
        duplicates=len(duplicated),
        rejected=len(uow.dead),
        commits=int(committed),
        refusals=tuple((place, letter.reason) for place, letter in refusals),
        duplicated=tuple(sorted(duplicated)),
    )


def _screen(
    engine: Engine,
    uow: UnitOfWork,
    taken: list[Read],
    now: datetime,
    refusals: list[tuple[int, DeadLetter]],
) -> tuple[list[tuple[Read, str | None]], list[int]]:
    """The inputs to decide, with their facts' fingerprints, and the places of the duplicates.

    A fact about a person whose data was erased, dated past the clock skew, or whose id
    was taken with other content, is a dead letter, added to ``refusals`` with its place.
    """
    facts = [item.message for item in taken if isinstance(item.message, Fact)]
    seen: dict[str, str] = dict(engine.store.seen([f.fact_id for f in facts]) if facts else {})
    erased = erased_inputs(engine.store, [item.message for item in taken], now)
    fresh: list[tuple[Read, str | None]] = []
    duplicated: list[int] = []
    for place, item in enumerate(taken):
        message, digest = item.message, None
        if place in erased:
            refusals.append((item.place, erased[place]))
            continue
        if isinstance(message, Fact):
            why = None
            digest = fingerprint(message)
            prior = seen.get(message.fact_id)
            if message.occurred_at > item.at + engine.clock_skew:
                why = from_the_future(message, item.at, engine.clock_skew)
            elif prior is not None and matches(prior, message):
                duplicated.append(item.place)
                continue
            elif prior is not None:
                why = f"fact id {message.fact_id!r} was taken before with other content"
            if why is not None:
                refusals.append((item.place, dead(message, item.raw, why, now, engine.limits)))
                continue
            seen[message.fact_id] = digest
        fresh.append((item, digest))
    return fresh, duplicated


def _decide(
    engine: Engine, ctx: Context, uow: UnitOfWork, message: object, now: datetime
) -> tuple[str, bool]:
    """Decide one input: the key of the record that took it, and whether it was new."""
    if not isinstance(message, Fact):
        events = handle(uow, ctx, message, now)
        # A command without a key (expire what is due...) is never a replay.
        return "", bool(events) or not getattr(message, "key", None)
    if isinstance(message, PatientRegistered) and message.known_only:
        # Another name of a known patient: the index learns it; the record is unchanged.
        return uow.require_member(message.patient_id).key, True
    create = isinstance(message, PatientRegistered) or not engine.require_registration
    held = uow.member(message.patient_id, create=create)
    if held is None:
        raise UnknownMemberError(message.patient_id)
    plausibility.check(message, held.state, engine.config, now)
    survivor = uow.survivor(message.patient_id)
    if survivor is not None and survivor != message.patient_id:
        # The person's facts go on under the record they were merged into (the last of
        # them), which holds what the merged record brought (what its charges earned).
        held = uow.require_member(survivor)
        message = attrs.evolve(message, patient_id=survivor)
        plausibility.check(message, held.state, engine.config, now)
    if isinstance(message, ReferralQualified) and held.state.identity.alive(message.occurred_at):
        referrals.credit(uow, message, now)  # (a dead referrer's fact is set aside)
    run(uow, ctx, held, message, now)
    return held.key, True
