"""Merging the own quota uses of two records of one person."""

from __future__ import annotations

from datetime import datetime
from functools import partial

import attrs

from membercore.benefits.messages import QuotaEvent, QuotaUsageMerged, QuotaUsageMergedAway
from membercore.benefits.quotas import QuotaState
from membercore.dates import require_aware
from membercore.errors import QuotaHolderError, QuotaKeyConflictError, ReservationExistsError
from membercore.idempotency import fingerprint, replayed
from membercore.identity import MergeMembers

__all__ = ["decide_merge"]


def decide_merge(
    command: MergeMembers, survivor: QuotaState, duplicate: QuotaState, now: datetime
) -> list[QuotaEvent]:
    """Move a merged record's own quota uses to the surviving record's.

    Uses of both in one period add up (the survivor may so have used more than a period
    allows: nothing is left, nothing is taken back). Household quotas stay with the
    household. Returns one event for each holder; none on a replay.

    Raises:
        QuotaHolderError: the states are not the two records the command names.
        ReservationExistsError: both records hold a reservation for one appointment.
        QuotaKeyConflictError: the key was used by another command.
    """
    now = require_aware("now", now)
    if (survivor.holder_id, duplicate.holder_id) != (command.member_id, command.duplicate_id):
        raise QuotaHolderError(command.member_id, survivor.holder_id, "not the records merged")
    digest = fingerprint(command)
    conflict = partial(QuotaKeyConflictError, command.member_id, survivor.holder_id, command.key)
    if replayed(survivor.keys, command.key, command, owner=survivor.holder_id, conflict=conflict):
        return []
    for appointment_id, reservation in duplicate.reservations.items():
        if appointment_id in survivor.reservations:
            raise ReservationExistsError(
                command.member_id, survivor.holder_id, appointment_id, reservation.benefit_key
            )
    moved = {
        appointment: attrs.evolve(r, member_id=command.member_id)
        for appointment, r in duplicate.reservations.items()
    }
    return [
        QuotaUsageMergedAway(
            holder_id=duplicate.holder_id,
            to_holder_id=survivor.holder_id,
            at=now,
            idempotency_key=command.key,
            fingerprint=digest,
        ),
        QuotaUsageMerged(
            holder_id=survivor.holder_id,
            from_holder_id=duplicate.holder_id,
            usage=duplicate.usage,
            reservations=moved,
            at=now,
            idempotency_key=command.key,
            fingerprint=digest,
        ),
    ]
