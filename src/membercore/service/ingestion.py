"""Ingestion: a batch of inputs read, decided per record and committed once.

Facts already taken (same id, same content) are counted as duplicates; a fact id taken
before with other content, a fact dated past the clock skew, and an input a part refuses
become dead letters with their reason, and whatever that input had changed is undone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from membercore.errors import MembercoreError, StorageError, UnknownMemberError
from membercore.facts import Fact, PatientRegistered, ReferralQualified
from membercore.idempotency import fingerprint, matches
from membercore.ports import DeadLetter
from membercore.service import plausibility, referrals
from membercore.service.handling import run
from membercore.service.inputs import (
    INPUT_FAULTS,
    Read,
    dead,
    from_the_future,
    read,
    reason,
    routing_key,
)
from membercore.service.reports import IngestReport
from membercore.service.unit_of_work import UnitOfWork
from membercore.service.use_cases import handle

if TYPE_CHECKING:
    from membercore.service.engine import Engine

__all__ = ["ingest_batch"]


def ingest_batch(engine: Engine, raws: Sequence[object], now: datetime) -> IngestReport:
    """Read, decide and commit one batch (retried whole on a version conflict)."""
    taken, refused = read(raws, now, clock_skew=engine.clock_skew, limits=engine.limits)
    what = f"ingesting a batch of {len(raws)} inputs"
    report, retries = engine.retrying(lambda: _apply(engine, taken, refused, now), what)
    return attrs.evolve(report, retries=retries)


def _apply(
    engine: Engine, taken: list[Read], refused: list[DeadLetter], now: datetime
) -> IngestReport:
    uow = engine.unit_of_work(now)
    uow.dead.extend(refused)
    facts = [item.message for item in taken if isinstance(item.message, Fact)]
    stored = engine.store.seen([fact.fact_id for fact in facts]) if facts else {}
    seen: dict[str, str] = dict(stored)
    fresh: list[tuple[Read, str | None]] = []
    duplicates = 0
    for item in taken:
        message, digest = item.message, None
        if isinstance(message, Fact):
            if message.occurred_at > item.at + engine.clock_skew:
                why = from_the_future(message, item.at)
                uow.dead.append(dead(message, item.raw, why, now, engine.limits))
                continue
            digest = fingerprint(message)
            prior = seen.get(message.fact_id)
            if prior is not None and matches(prior, message):
                duplicates += 1
                continue
            if prior is not None:
                why = f"fact id {message.fact_id!r} was taken before with other content"
                uow.dead.append(dead(message, item.raw, why, now, engine.limits))
                continue
            seen[message.fact_id] = digest
        fresh.append((item, digest))
    uow.load(key for item, _ in fresh for key in routing_key(item.message))
    uow.load_households()
    applied = 0
    for item, digest in fresh:
        message = item.message
        mark = uow.mark()
        try:
            key, made = _decide(engine, uow, message, item.at)
        except StorageError:
            raise
        except (MembercoreError, *INPUT_FAULTS) as error:
            # Whatever the input had changed before it was refused is undone.
            uow.restore(mark)
            uow.dead.append(dead(message, item.raw, reason(error), now, engine.limits))
            continue
        if not made:
            duplicates += 1  # a command carried out before: nothing new
            continue
        applied += 1
        if isinstance(message, Fact) and digest is not None:
            uow.take_fact(message.fact_id, key, digest)
    committed = uow.commit()
    return IngestReport(
        applied=applied,
        duplicates=duplicates,
        rejected=len(uow.dead),
        commits=int(committed),
    )


def _decide(engine: Engine, uow: UnitOfWork, message: object, now: datetime) -> tuple[str, bool]:
    """Decide one input: the key of the record that took it, and whether it was new."""
    if not isinstance(message, Fact):
        events = handle(uow, engine.context, message, now)
        # A command without a key (expire what is due...) is never a replay.
        return "", bool(events) or not getattr(message, "key", None)
    create = isinstance(message, PatientRegistered) or not engine.require_registration
    held = uow.member(message.patient_id, create=create)
    if held is None:
        raise UnknownMemberError(message.patient_id)
    plausibility.check(message, held.state, engine.config, now)
    survivor = held.state.identity.merged_into
    if survivor is not None:
        # The person's facts go on under the record they were merged into.
        held = uow.require_member(survivor)
        message = attrs.evolve(message, patient_id=survivor)
    if isinstance(message, ReferralQualified) and held.state.identity.alive(message.occurred_at):
        referrals.credit(uow, message, now)  # (a dead referrer's fact is set aside)
    run(uow, engine.context, held, message, now)
    return held.key, True
