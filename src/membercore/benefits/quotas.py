"""Free-use quotas: reserve, consume and release uses, per holder.

The uses of a quota are held by its *holder*: the member, or for a
``shared_by_household`` quota the household, so that every member of the household
draws on one count. Each holder's usage is its own aggregate, a :class:`QuotaState`,
driven by the decider pair::

    events = decide(command, state, config, now, standing=standing)
    for event in events:
        state = evolve(state, event)

In every period of every quota, reserved + consumed never exceeds ``per_period``.
:func:`allowance` is the one computation of the uses left; quotes use it too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import partial

import attrs

from membercore.benefits.entitlements import Entitlement, Standing, find_entitlement, holder_of
from membercore.benefits.messages import (
    ConsumeQuota,
    QuotaCommand,
    QuotaConsumed,
    QuotaEvent,
    QuotaReleased,
    QuotaReserved,
    QuotaUsageMerged,
    QuotaUsageMergedAway,
    Reservation,
    ReserveQuota,
    Usage,
    UseQuota,
)
from membercore.benefits.periods import Period, quota_period
from membercore.config import ProgrammeConfig
from membercore.dates import require_aware
from membercore.errors import (
    NotEntitledError,
    QuotaExhaustedError,
    QuotaHolderError,
    QuotaKeyConflictError,
    ReservationExistsError,
    UnknownReservationError,
)
from membercore.idempotency import fingerprint, replayed

__all__ = [
    "Allowance",
    "QuotaState",
    "Reservation",
    "Usage",
    "allowance",
    "decide",
    "evolve",
    "replay",
]


@attrs.frozen(kw_only=True)
class QuotaState:
    """The usage of every quota one holder holds. Immutable: :func:`evolve` returns a new one.

    Attributes:
        holder_id: the member, or the household of shared quotas.
        seq: the number of events applied.
        usage: by benefit key, then by period key, the uses reserved and consumed.
        reservations: the open reservations by appointment id.
        keys: the idempotency keys seen, with the fingerprint of their command.
    """

    holder_id: str
    seq: int = 0
    usage: Mapping[str, Mapping[str, Usage]] = attrs.field(factory=dict)
    reservations: Mapping[str, Reservation] = attrs.field(factory=dict)
    keys: Mapping[str, str] = attrs.field(factory=dict)

    def usage_of(self, benefit_key: str, period_key: str) -> Usage:
        """The uses of a quota in a period (none yet: zero)."""
        return self.usage.get(benefit_key, {}).get(period_key, Usage())


@attrs.frozen(kw_only=True)
class Allowance:
    """How much of a quota a holder has in the period of an instant.

    Attributes:
        holder_id: the holder.
        benefit_key: the quota.
        period: the period.
        per_period: the uses per period; ``None`` is unlimited.
        reserved: uses set aside in the period.
        consumed: uses consumed in the period.
    """

    holder_id: str
    benefit_key: str
    period: Period
    per_period: int | None
    reserved: int
    consumed: int

    @property
    def remaining(self) -> int | None:
        """The uses left in the period; ``None`` is unlimited."""
        if self.per_period is None:
            return None
        return max(self.per_period - self.reserved - self.consumed, 0)


def allowance(
    entitlement: Entitlement,
    standing: Standing,
    state: QuotaState,
    config: ProgrammeConfig,
    at: datetime,
) -> Allowance | None:
    """The uses of a quota left to its holder in the period of ``at``.

    This is the one computation of the uses left: reservations and quotes both use it.

    Args:
        entitlement: the member's entitlement to a quota benefit.
        standing: the member's standing.
        state: the quota state of the quota's holder (:func:`holder_of`).
        config: the programme.
        at: the instant of the service.

    Returns:
        The allowance, or ``None`` when the quota has no period at ``at`` (a ``term`` quota
        with no plan term covering it).

    Raises:
        QuotaHolderError: ``state`` is not the quota holder's.
        ValueError: the entitlement is not to a quota.
    """
    quota = entitlement.benefit.quota
    if quota is None:
        raise ValueError(f"benefit {entitlement.key!r} is not a quota")
    holder = holder_of(entitlement, standing)
    if state.holder_id != holder:
        raise QuotaHolderError(
            standing.member_id, state.holder_id, f"quota {entitlement.key!r} is held by {holder}"
        )
    period = quota_period(entitlement, standing, config, at)
    if period is None:
        return None
    usage = state.usage_of(entitlement.key, period.key)
    return Allowance(
        holder_id=holder,
        benefit_key=entitlement.key,
        period=period,
        per_period=quota.per_period,
        reserved=usage.reserved,
        consumed=usage.consumed,
    )


def decide(
    command: QuotaCommand,
    state: QuotaState,
    config: ProgrammeConfig,
    now: datetime,
    *,
    standing: Standing | None = None,
) -> list[QuotaEvent]:
    """The events a quota command makes on a holder's quotas.

    A command whose key was already used returns no events; a reused key on a different
    command is refused. Consuming or releasing a reservation does not check entitlement
    again: its uses were set aside when it was made.

    Args:
        command: reserve, consume (a reservation), use (directly) or release.
        state: the quota state of the holder (the member, or the household of a shared
            quota).
        config: the programme.
        now: the instant of the decision (timezone-aware).
        standing: the member's standing now; required to reserve or use.

    Returns:
        The new events (one, or none for a replayed command).

    Raises:
        NotEntitledError: the member holds no such quota now (or no plan term covers it).
        QuotaExhaustedError: fewer uses remain than asked for.
        ReservationExistsError: the appointment already holds an open reservation.
        UnknownReservationError: no open reservation of the member for the appointment.
        QuotaKeyConflictError: the key was used by a different command.
        QuotaHolderError: ``state`` or ``standing`` belongs to someone else.
        NaiveInstantError: ``now`` is naive.
    """
    now = require_aware("now", now)
    digest = fingerprint(command)
    conflict = partial(QuotaKeyConflictError, command.member_id, state.holder_id, command.key)
    if replayed(state.keys, command.key, command, owner=state.holder_id, conflict=conflict):
        return []
    if isinstance(command, ReserveQuota | UseQuota):
        if standing is None:
            raise TypeError(f"{command.TYPE} needs the member's standing")
        return [_draw(command, state, config, now, standing=standing, digest=digest)]
    reservation = state.reservations.get(command.appointment_id)
    if reservation is None or reservation.member_id != command.member_id:
        raise UnknownReservationError(command.member_id, state.holder_id, command.appointment_id)
    if isinstance(command, ConsumeQuota):
        return [
            QuotaConsumed(
                holder_id=state.holder_id,
                member_id=command.member_id,
                benefit_key=reservation.benefit_key,
                period=reservation.period,
                units=reservation.units,
                at=now,
                idempotency_key=command.key,
                fingerprint=digest,
                appointment_id=command.appointment_id,
            )
        ]
    return [
        QuotaReleased(
            holder_id=state.holder_id,
            member_id=command.member_id,
            benefit_key=reservation.benefit_key,
            period=reservation.period,
            units=reservation.units,
            at=now,
            idempotency_key=command.key,
            fingerprint=digest,
            appointment_id=command.appointment_id,
            reason=command.reason,
        )
    ]


def _draw(
    command: ReserveQuota | UseQuota,
    state: QuotaState,
    config: ProgrammeConfig,
    now: datetime,
    *,
    standing: Standing,
    digest: str,
) -> QuotaEvent:
    member_id = command.member_id
    if standing.member_id != member_id:
        raise QuotaHolderError(
            member_id, state.holder_id, f"the standing given is member {standing.member_id}'s"
        )
    entitlement = find_entitlement(standing, config, command.benefit_key)
    if entitlement is None:
        raise NotEntitledError(member_id, command.benefit_key, "no package of theirs grants it")
    if entitlement.benefit.quota is None:
        raise NotEntitledError(member_id, command.benefit_key, "it is not a free-use quota")
    holder = holder_of(entitlement, standing)
    if state.holder_id != holder:
        raise QuotaHolderError(
            member_id, state.holder_id, f"quota {entitlement.key!r} is held by {holder}"
        )
    if isinstance(command, ReserveQuota) and command.appointment_id in state.reservations:
        open_reservation = state.reservations[command.appointment_id]
        raise ReservationExistsError(
            member_id, state.holder_id, command.appointment_id, open_reservation.benefit_key
        )
    at = command.service_at or now
    held = allowance(entitlement, standing, state, config, at)
    if held is None:
        raise NotEntitledError(
            member_id,
            command.benefit_key,
            f"no term of a plan granting it covers {at.isoformat()}",
        )
    remaining = held.remaining
    if remaining is not None and command.units > remaining:
        raise QuotaExhaustedError(
            member_id,
            held.holder_id,
            held.benefit_key,
            command.units,
            remaining,
            period=held.period.key,
        )
    if isinstance(command, UseQuota):
        return QuotaConsumed(
            holder_id=held.holder_id,
            member_id=member_id,
            benefit_key=held.benefit_key,
            period=held.period,
            units=command.units,
            at=now,
            idempotency_key=command.key,
            fingerprint=digest,
            reference=command.reference,
        )
    return QuotaReserved(
        holder_id=held.holder_id,
        member_id=member_id,
        benefit_key=held.benefit_key,
        period=held.period,
        units=command.units,
        at=now,
        idempotency_key=command.key,
        fingerprint=digest,
        appointment_id=command.appointment_id,
    )


def evolve(state: QuotaState, event: QuotaEvent) -> QuotaState:
    """Apply one quota event to its holder's state.

    Raises:
        QuotaHolderError: the event belongs to another holder.
    """
    if event.holder_id != state.holder_id:
        raise QuotaHolderError(
            getattr(event, "member_id", event.holder_id),
            state.holder_id,
            f"the event is for holder {event.holder_id}",
        )
    if isinstance(event, QuotaUsageMerged | QuotaUsageMergedAway):
        return _merged(state, event)
    usage = state.usage_of(event.benefit_key, event.period.key)
    reservations = dict(state.reservations)
    if isinstance(event, QuotaReserved):
        usage = attrs.evolve(usage, reserved=usage.reserved + event.units)
        reservations[event.appointment_id] = Reservation(
            appointment_id=event.appointment_id,
            member_id=event.member_id,
            benefit_key=event.benefit_key,
            period=event.period,
            units=event.units,
        )
    elif isinstance(event, QuotaConsumed) and event.appointment_id is not None:
        usage = Usage(reserved=usage.reserved - event.units, consumed=usage.consumed + event.units)
        del reservations[event.appointment_id]
    elif isinstance(event, QuotaConsumed):
        usage = attrs.evolve(usage, consumed=usage.consumed + event.units)
    else:
        usage = attrs.evolve(usage, reserved=usage.reserved - event.units)
        del reservations[event.appointment_id]
    by_period = dict(state.usage.get(event.benefit_key, {}))
    by_period[event.period.key] = usage
    all_usage = dict(state.usage)
    all_usage[event.benefit_key] = by_period
    keys = dict(state.keys)
    keys[event.idempotency_key] = event.fingerprint
    return QuotaState(
        holder_id=state.holder_id,
        seq=state.seq + 1,
        usage=all_usage,
        reservations=reservations,
        keys=keys,
    )


def _merged(state: QuotaState, event: QuotaUsageMerged | QuotaUsageMergedAway) -> QuotaState:
    keys = {**state.keys, event.idempotency_key: event.fingerprint}
    if isinstance(event, QuotaUsageMergedAway):
        return QuotaState(holder_id=state.holder_id, seq=state.seq + 1, keys=keys)
    usage = {benefit: dict(periods) for benefit, periods in state.usage.items()}
    for benefit, periods in event.usage.items():
        for period, theirs in periods.items():
            ours = usage.setdefault(benefit, {}).get(period, Usage())
            usage[benefit][period] = Usage(
                reserved=ours.reserved + theirs.reserved,
                consumed=ours.consumed + theirs.consumed,
            )
    return QuotaState(
        holder_id=state.holder_id,
        seq=state.seq + 1,
        usage=usage,
        reservations={**state.reservations, **event.reservations},
        keys=keys,
    )


def replay(holder_id: str, events: Iterable[QuotaEvent]) -> QuotaState:
    """Rebuild a holder's quota state from their events, in order."""
    state = QuotaState(holder_id=holder_id)
    for event in events:
        state = evolve(state, event)
    return state
