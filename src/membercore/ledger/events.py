"""Events: what the programme decided. They are the member's journal.

The points ledger's event is the :class:`Posting`. A posting is immutable and balanced:
its ``points`` (the change to the member's balance) always equal the points of the lots it
opens, less the points it draws from lots, less the debt it adds.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import ClassVar

import attrs

from membercore.checks import non_empty, positive
from membercore.converters import OMIT_AT_DEFAULT
from membercore.dates import as_utc, as_utc_or_none, aware, aware_or_none
from membercore.errors import InvalidFactError

__all__ = ["Draw", "Lot", "LotState", "Posting", "PostingKind", "Provenance"]


class PostingKind(enum.Enum):
    """What a posting does to a member's points."""

    EARN = "earn"
    REDEEM = "redeem"
    EXPIRE = "expire"
    REVERSE = "reverse"
    ADJUST = "adjust"
    TRANSFER = "transfer"
    MERGE = "merge"


@attrs.frozen(kw_only=True)
class Provenance:
    """Why a posting exists: the rule that produced it and what triggered it.

    Attributes:
        rule_id: the rule of the programme config (e.g. ``earning.spending``).
        rule_version: that rule's version when it was applied.
        trigger_type: the type of the fact or command (e.g. ``charge_paid``, ``redeem``).
        trigger_id: its id (the fact id, or the command's idempotency key).
    """

    rule_id: str = attrs.field(validator=non_empty)
    rule_version: int
    trigger_type: str = attrs.field(validator=non_empty)
    trigger_id: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class Lot:
    """A parcel of points opened by a credit, spent and expired as one unit.

    Attributes:
        lot_id: unique within the member's ledger.
        points: the points the lot was opened with.
        earned_at: when the points were earned.
        vests_at: from this instant the points can be spent; before it they are pending.
        expires_at: at this instant what is left expires; ``None`` when the programme's
            expiry does not fix it per lot (never, or after inactivity).
        qualifying: whether the points count toward tiers.
        rule_id: the rule that opened the lot (caps and "once per" checks use it).
        reference: the business object the lot was earned for (charge, visit, event...).
        basis_fen: for spending, the charge total the points were computed from.
    """

    lot_id: str = attrs.field(validator=non_empty)
    points: int = attrs.field(validator=positive)
    earned_at: datetime = attrs.field(converter=as_utc, validator=aware)
    vests_at: datetime = attrs.field(converter=as_utc, validator=aware)
    expires_at: datetime | None = attrs.field(converter=as_utc_or_none, validator=aware_or_none)
    qualifying: bool
    rule_id: str
    reference: str | None = None
    basis_fen: int | None = None


@attrs.frozen(kw_only=True)
class LotState:
    """A lot and what has happened to it.

    Part of a member's ledger state; a merge of two member records carries them whole
    from one ledger to the other.

    Attributes:
        lot: the lot as opened.
        remaining: points still in it.
        expired: points removed from it by expiry.
        reversed: points of this earning reversed so far (wherever they were drawn from).
        offset_by_expiry: part of ``reversed`` that was covered by points already expired.
        refunded_fen: money refunded so far on the charge that earned it.
    """

    lot: Lot
    remaining: int
    expired: int = 0
    reversed: int = 0
    offset_by_expiry: int = 0
    refunded_fen: int = 0


@attrs.frozen
class Draw:
    """Points taken from one lot by a debit.

    Attributes:
        lot_id: the lot drawn from.
        points: how many (positive).
    """

    lot_id: str
    points: int = attrs.field(validator=positive)


def _balanced(instance: Posting, _attribute: object, value: int) -> None:
    credited = sum(lot.points for lot in instance.lots)
    credited += sum(held.remaining for held in instance.carried)
    drawn = sum(draw.points for draw in instance.draws)
    if value != credited - drawn - instance.debt_change:
        raise InvalidFactError(
            "posting",
            "points",
            value,
            f"unbalanced: lots {credited} - draws {drawn} - debt {instance.debt_change}",
        )


@attrs.frozen(kw_only=True)
class Posting:
    """One line of a member's points journal.

    Attributes:
        posting_id: unique, ordered within the member's ledger (``<member>/<seq>``).
        member_id: whose points.
        kind: earn, redeem, expire, reverse, adjust, transfer or merge.
        points: the signed change to the member's balance.
        at: the instant the posting takes effect (earning time, expiry instant...).
        recorded_at: the instant the programme decided it.
        idempotency_key: the key of the fact or command that caused it.
        fingerprint: a digest of that fact or command, to tell a replay from a conflict.
        provenance: the rule and trigger.
        lots: lots this posting opens.
        draws: points this posting takes from existing lots.
        debt_change: debt added (positive) or repaid (negative).
        reverses: for a reversal, the earning posting it reverses.
        refunded_fen: for a reversal caused by a refund, the refunded amount.
        offset_by_expiry: for a reversal, points of the reversed earning that had already
            expired and so need not be recovered again.
        written_off: for a reversal under the ``cap`` policy, what could not be recovered.
        counterparty: for a transfer, the other member.
        operator: for an adjustment, the staff member who made it.
        reason: for an adjustment or reversal, why.
        carried: for a merge, the lots of the merged record, whole (what is left in
            them is credited; their history keeps counting for tiers, caps and refunds).
        carried_keys: for a merge, the idempotency keys of the merged record, so that its
            facts are not taken twice when they come again under the survivor's id.
        merged_into: on the merged record's side of a merge, the survivor: its lots
            leave the record with this posting.
        carried_activity_at: for a merge, the merged record's last activity; the
            survivor's is the later of the two (``None``: none, or a posting stored
            before merges carried it).
        carried_references: for a merge, the merged record's ``<rule>:<reference>``
            whose lots it had let go, so that the survivor never earns them again.
        forgets: lots let go from the member's state with this posting: empty, and
            earned before every window that reads them (:mod:`membercore.ledger.forget`);
            their keys and kinds go with them. The postings stay in the journal.
    """

    TYPE: ClassVar[str] = "points_posted"

    posting_id: str = attrs.field(validator=non_empty)
    member_id: str = attrs.field(validator=non_empty)
    kind: PostingKind
    points: int = attrs.field(validator=_balanced)
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    recorded_at: datetime = attrs.field(converter=as_utc, validator=aware)
    idempotency_key: str = attrs.field(validator=non_empty)
    fingerprint: str
    provenance: Provenance
    lots: tuple[Lot, ...] = ()
    draws: tuple[Draw, ...] = ()
    debt_change: int = 0
    reverses: str | None = None
    refunded_fen: int = 0
    offset_by_expiry: int = 0
    written_off: int = 0
    counterparty: str | None = None
    operator: str | None = None
    reason: str | None = None
    carried: tuple[LotState, ...] = ()
    carried_keys: tuple[str, ...] = ()
    merged_into: str | None = None
    carried_activity_at: datetime | None = attrs.field(
        default=None, converter=as_utc_or_none, validator=aware_or_none
    )
    forgets: tuple[str, ...] = attrs.field(default=(), metadata={OMIT_AT_DEFAULT: True})
    carried_references: tuple[str, ...] = attrs.field(default=(), metadata={OMIT_AT_DEFAULT: True})
