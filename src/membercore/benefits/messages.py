"""Quota commands and events.

Commands carry ``key``, their idempotency key: the same command twice records its uses
once; the same key on a different command is refused. Events are the quota holder's
journal; replaying them rebuilds the holder's :class:`~membercore.benefits.QuotaState`.
The ``TYPE`` tags are stable once shipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import attrs

from membercore.benefits.periods import Period
from membercore.checks import non_empty, positive
from membercore.dates import as_utc, as_utc_or_none, aware, aware_or_none
from membercore.messages import Command

__all__ = [
    "QUOTA_COMMAND_TYPES",
    "QUOTA_EVENT_TYPES",
    "ConsumeQuota",
    "QuotaCommand",
    "QuotaConsumed",
    "QuotaEvent",
    "QuotaReleased",
    "QuotaReserved",
    "QuotaUsageMerged",
    "QuotaUsageMergedAway",
    "ReleaseQuota",
    "Reservation",
    "ReserveQuota",
    "Usage",
    "UseQuota",
]


@attrs.frozen(kw_only=True)
class _QuotaCommandBase(Command):
    """Fields every quota command has.

    Attributes:
        key: the idempotency key.
        member_id: the member using the quota (for a shared quota, any member of the
            household).
    """

    TYPE: ClassVar[str] = "quota_command"


@attrs.frozen(kw_only=True)
class ReserveQuota(_QuotaCommandBase):
    """Set uses of a quota aside for an appointment when it is booked.

    An appointment holds at most one open reservation per quota holder.

    Attributes:
        benefit_key: the quota benefit (e.g. ``expert_consults``).
        appointment_id: the appointment the uses are set aside for.
        units: how many uses.
        service_at: when the appointment takes place; its period is charged (a consult
            booked in December for January draws on January's year). ``None``: the
            instant of the decision.
    """

    TYPE: ClassVar[str] = "reserve_quota"

    benefit_key: str = attrs.field(validator=non_empty)
    appointment_id: str = attrs.field(validator=non_empty)
    units: int = attrs.field(default=1, validator=positive)
    service_at: datetime | None = attrs.field(
        default=None, converter=as_utc_or_none, validator=aware_or_none
    )


@attrs.frozen(kw_only=True)
class ConsumeQuota(_QuotaCommandBase):
    """Consume the open reservation of an appointment: the member was seen.

    Attributes:
        appointment_id: the appointment whose reservation is consumed, in full.
    """

    TYPE: ClassVar[str] = "consume_quota"

    appointment_id: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class UseQuota(_QuotaCommandBase):
    """Consume uses of a quota directly, without a reservation (a walk-in).

    Attributes:
        benefit_key: the quota benefit.
        units: how many uses.
        reference: what they were used for (a visit, a charge).
        service_at: when the service took place; ``None``: the instant of the decision.
    """

    TYPE: ClassVar[str] = "use_quota"

    benefit_key: str = attrs.field(validator=non_empty)
    units: int = attrs.field(default=1, validator=positive)
    reference: str | None = None
    service_at: datetime | None = attrs.field(
        default=None, converter=as_utc_or_none, validator=aware_or_none
    )


@attrs.frozen(kw_only=True)
class ReleaseQuota(_QuotaCommandBase):
    """Give back the open reservation of an appointment (cancelled, or a no-show).

    Attributes:
        appointment_id: the appointment whose reservation is released, in full.
        reason: why (e.g. ``cancelled``).
    """

    TYPE: ClassVar[str] = "release_quota"

    appointment_id: str = attrs.field(validator=non_empty)
    reason: str | None = None


QuotaCommand = ReserveQuota | ConsumeQuota | UseQuota | ReleaseQuota

QUOTA_COMMAND_TYPES: tuple[type[Any], ...] = (ReserveQuota, ConsumeQuota, UseQuota, ReleaseQuota)


@attrs.frozen(kw_only=True)
class _QuotaEventBase:
    """Fields every quota event has.

    Attributes:
        holder_id: whose quota: the member, or the household for a shared quota.
        member_id: the member who used it.
        benefit_key: the quota benefit.
        period: the period whose uses change.
        units: how many uses (positive).
        at: the instant the programme decided it.
        idempotency_key: the key of the command that caused it.
        fingerprint: a digest of that command, to tell a replay from a conflict.
    """

    TYPE: ClassVar[str] = "quota_event"

    holder_id: str = attrs.field(validator=non_empty)
    member_id: str = attrs.field(validator=non_empty)
    benefit_key: str = attrs.field(validator=non_empty)
    period: Period
    units: int = attrs.field(validator=positive)
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    idempotency_key: str = attrs.field(validator=non_empty)
    fingerprint: str


@attrs.frozen(kw_only=True)
class QuotaReserved(_QuotaEventBase):
    """Uses set aside for an appointment.

    Attributes:
        appointment_id: the appointment.
    """

    TYPE: ClassVar[str] = "quota_reserved"

    appointment_id: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class QuotaConsumed(_QuotaEventBase):
    """Uses consumed: a reservation honoured, or a direct use.

    Attributes:
        appointment_id: the appointment whose reservation was consumed; ``None`` for a
            direct use.
        reference: for a direct use, what it was for.
    """

    TYPE: ClassVar[str] = "quota_consumed"

    appointment_id: str | None = None
    reference: str | None = None


@attrs.frozen(kw_only=True)
class QuotaReleased(_QuotaEventBase):
    """A reservation given back: its uses are available again in its period.

    Attributes:
        appointment_id: the appointment.
        reason: why (e.g. ``cancelled``).
    """

    TYPE: ClassVar[str] = "quota_released"

    appointment_id: str = attrs.field(validator=non_empty)
    reason: str | None = None


@attrs.frozen(kw_only=True)
class Usage:
    """Uses of one quota in one period.

    Attributes:
        reserved: set aside for booked appointments.
        consumed: used.
    """

    reserved: int = 0
    consumed: int = 0

    @property
    def used(self) -> int:
        """Reserved and consumed: what is no longer available."""
        return self.reserved + self.consumed


@attrs.frozen(kw_only=True)
class Reservation:
    """An open reservation: uses set aside for an appointment.

    Attributes:
        appointment_id: the appointment.
        member_id: the member who booked it.
        benefit_key: the quota.
        period: the period the uses are counted in.
        units: how many uses.
    """

    appointment_id: str
    member_id: str
    benefit_key: str
    period: Period
    units: int


@attrs.frozen(kw_only=True)
class QuotaUsageMerged:
    """A merged record's own quota uses now count for the surviving record.

    Attributes:
        holder_id: the surviving record.
        from_holder_id: the record merged away.
        usage: its uses by benefit key, then period key.
        reservations: its open reservations by appointment id.
        at: when.
        idempotency_key: the merge command's key.
        fingerprint: its digest.
    """

    TYPE: ClassVar[str] = "quota_usage_merged"

    holder_id: str = attrs.field(validator=non_empty)
    from_holder_id: str = attrs.field(validator=non_empty)
    usage: Mapping[str, Mapping[str, Usage]]
    reservations: Mapping[str, Reservation]
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    idempotency_key: str = attrs.field(validator=non_empty)
    fingerprint: str


@attrs.frozen(kw_only=True)
class QuotaUsageMergedAway:
    """A record merged into another: its quota uses left with it.

    Attributes:
        holder_id: the record merged away.
        to_holder_id: the surviving record.
        at: when.
        idempotency_key: the merge command's key.
        fingerprint: its digest.
    """

    TYPE: ClassVar[str] = "quota_usage_merged_away"

    holder_id: str = attrs.field(validator=non_empty)
    to_holder_id: str = attrs.field(validator=non_empty)
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    idempotency_key: str = attrs.field(validator=non_empty)
    fingerprint: str


QuotaEvent = QuotaReserved | QuotaConsumed | QuotaReleased | QuotaUsageMerged | QuotaUsageMergedAway

QUOTA_EVENT_TYPES: tuple[type[Any], ...] = (
    QuotaReserved,
    QuotaConsumed,
    QuotaReleased,
    QuotaUsageMerged,
    QuotaUsageMergedAway,
)
