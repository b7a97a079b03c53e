"""Merging the ledgers of two records of one person.

Everything of the duplicate moves to the survivor in two postings of kind ``merge``
under one idempotency key: out of the duplicate, every lot's remaining points and its
debt; into the survivor, the duplicate's lots *whole* — with their earning instants,
vesting, expiry, qualifying status, reversals and refunds — so that they keep counting
for tiers, caps and later refunds, and the duplicate's idempotency keys, so that none of
its facts is taken twice — and the duplicate's last activity, so that under the
inactivity expiry the survivor's points run from the later of the two. A debt of either
is then repaid from the other's points.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from membercore.config import ProgrammeConfig
from membercore.dates import require_aware
from membercore.errors import TransferNotAllowedError
from membercore.identity import MergeMembers
from membercore.ledger.decide import expire_due
from membercore.ledger.events import Draw, Posting, PostingKind, Provenance
from membercore.ledger.lots import Origin, debit, plan_draws, spending_order
from membercore.ledger.state import (
    LedgerState,
    already_done,
    check_member,
    evolve,
    fingerprint,
)

__all__ = ["decide_merge"]


def decide_merge(
    command: MergeMembers,
    survivor: LedgerState,
    duplicate: LedgerState,
    config: ProgrammeConfig,
    now: datetime,
) -> list[Posting]:
    """The postings that move the duplicate's ledger into the survivor's.

    Lots already past their expiry are expired first, in both ledgers.

    Raises:
        TransferNotAllowedError: a record merged into itself.
    """
    now = require_aware("now", now)
    check_member(survivor, command.member_id)
    check_member(duplicate, command.duplicate_id)
    if command.member_id == command.duplicate_id:
        raise TransferNotAllowedError(
            command.duplicate_id,
            command.member_id,
            duplicate.balance,
            "a record cannot merge into itself",
        )
    digest = fingerprint(command)
    if already_done(survivor, command.key, command):
        return []
    expired = expire_due(survivor, config, now) + expire_due(duplicate, config, now)
    for posting in expired:
        if posting.member_id == survivor.member_id:
            survivor = evolve(survivor, posting)
        else:
            duplicate = evolve(duplicate, posting)
    provenance = Provenance(
        rule_id="ledger.merge",
        rule_version=config.ledger.version,
        trigger_type=command.TYPE,
        trigger_id=command.key,
    )
    origin = Origin(key=command.key, fingerprint=digest, provenance=provenance, recorded_at=now)
    emptied = tuple(
        Draw(held.lot.lot_id, held.remaining) for held in duplicate.lots.values() if held.remaining
    )
    out = attrs.evolve(
        debit(
            duplicate,
            origin,
            kind=PostingKind.MERGE,
            draws=emptied,
            at=now,
            debt_change=-duplicate.debt,
            counterparty=survivor.member_id,
            operator=command.operator,
            reason=command.reason,
        ),
        merged_into=survivor.member_id,
    )
    into = _merged_into(survivor, duplicate, config, now, origin=origin, command=command)
    return [*expired, out, into]


def _merged_into(
    survivor: LedgerState,
    duplicate: LedgerState,
    config: ProgrammeConfig,
    now: datetime,
    *,
    origin: Origin,
    command: MergeMembers,
) -> Posting:
    carried = tuple(duplicate.lots.values())
    acted = [at for at in (survivor.last_activity_at, duplicate.last_activity_at) if at is not None]
    joined = attrs.evolve(
        survivor,
        lots={**survivor.lots, **duplicate.lots},
        last_activity_at=max(acted, default=None),
    )
    lots = [
        held
        for vested in (True, False)
        for held in spending_order(joined, config, now, vested=vested)
    ]
    debt = survivor.debt + duplicate.debt
    repaid = min(debt, sum(held.remaining for held in lots))
    draws, _ = plan_draws(lots, repaid)
    debt_change = duplicate.debt - repaid
    return Posting(
        posting_id=survivor.next_posting_id(),
        member_id=survivor.member_id,
        kind=PostingKind.MERGE,
        points=sum(held.remaining for held in carried) - repaid - debt_change,
        at=now,
        recorded_at=now,
        idempotency_key=origin.key,
        fingerprint=origin.fingerprint,
        provenance=origin.provenance,
        draws=draws,
        debt_change=debt_change,
        counterparty=duplicate.member_id,
        operator=command.operator,
        reason=command.reason,
        carried=carried,
        carried_keys=tuple(duplicate.keys),
        carried_activity_at=duplicate.last_activity_at,
        carried_references=tuple(
            reference
            for reference, lot_id in duplicate.references.items()
            if lot_id not in duplicate.lots
        ),
    )
