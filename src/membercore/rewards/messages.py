"""The rewards catalogue's commands, events and decisions."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import attrs

from membercore.checks import non_empty, positive
from membercore.dates import as_utc, as_utc_or_none, aware, aware_or_none
from membercore.ledger.events import Posting
from membercore.messages import Command, MemberEvent


@attrs.frozen(kw_only=True)
class RedeemReward(Command):
    """Redeem a gift of the catalogue with points.

    Attributes:
        key: the idempotency key (it is also the key of the ledger posting).
        member_id: the member.
        reward_key: the gift's key in the catalogue.
        quantity: how many.
    """

    TYPE: ClassVar[str] = "redeem_reward"

    reward_key: str = attrs.field(validator=non_empty)
    quantity: int = attrs.field(default=1, validator=positive)


@attrs.frozen(kw_only=True)
class CancelRedemption(Command):
    """Cancel a redemption (the gift was returned, or never handed over).

    The gift goes back in stock, the points are given back, and the redemption no longer
    counts toward the per-member limit or the yearly value cap.

    Attributes:
        key: the idempotency key (it is also the key of the ledger adjustment).
        member_id: the member.
        redemption_id: the redemption to cancel.
        reason: why; shown on the member's statement.
    """

    TYPE: ClassVar[str] = "cancel_redemption"

    redemption_id: str = attrs.field(validator=non_empty)
    reason: str = attrs.field(validator=non_empty)


RewardCommand = RedeemReward | CancelRedemption


@attrs.frozen(kw_only=True)
class RewardRedeemed:
    """A member redeemed a gift.

    Attributes:
        redemption_id: unique, ordered within the member's history
            (``<member>/reward/<n>``).
        member_id: the member.
        reward_key: the gift.
        quantity: how many.
        points: the points drawn (the gift's cost times the quantity).
        value_fen: the market value received (counted against the yearly cap).
        at: when.
        catalogue_version: the catalogue's version when it was redeemed.
        posting_id: the ledger posting that drew the points.
        idempotency_key: the command's key.
        fingerprint: a digest of the command, to tell a replay from a conflict.
    """

    TYPE: ClassVar[str] = "reward_redeemed"

    redemption_id: str = attrs.field(validator=non_empty)
    member_id: str = attrs.field(validator=non_empty)
    reward_key: str = attrs.field(validator=non_empty)
    quantity: int = attrs.field(validator=positive)
    points: int = attrs.field(validator=positive)
    value_fen: int
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    catalogue_version: int
    posting_id: str
    idempotency_key: str = attrs.field(validator=non_empty)
    fingerprint: str


@attrs.frozen(kw_only=True)
class RedemptionCancelled:
    """A redemption was cancelled: the gift is back in stock and the points are back.

    Attributes:
        redemption_id: the cancelled redemption.
        member_id: the member.
        reward_key: the gift.
        quantity: how many went back in stock.
        points: the points given back.
        value_fen: the value no longer counted against the yearly cap.
        at: when.
        reason: why.
        posting_id: the ledger adjustment that gave the points back.
        idempotency_key: the command's key.
        fingerprint: a digest of the command.
    """

    TYPE: ClassVar[str] = "redemption_cancelled"

    redemption_id: str = attrs.field(validator=non_empty)
    member_id: str = attrs.field(validator=non_empty)
    reward_key: str = attrs.field(validator=non_empty)
    quantity: int = attrs.field(validator=positive)
    points: int = attrs.field(validator=positive)
    value_fen: int
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    reason: str
    posting_id: str
    idempotency_key: str = attrs.field(validator=non_empty)
    fingerprint: str


@attrs.frozen(kw_only=True)
class RedemptionRecord:
    """One gift a member redeemed.

    Attributes:
        redemption_id: the redemption.
        reward_key: the gift.
        quantity: how many.
        value_fen: the value received.
        points: the points drawn.
        at: when.
        cancelled_at: when it was cancelled; ``None`` while it stands.
    """

    redemption_id: str
    reward_key: str
    quantity: int
    value_fen: int
    points: int
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    cancelled_at: datetime | None = attrs.field(
        default=None, converter=as_utc_or_none, validator=aware_or_none
    )


@attrs.frozen(kw_only=True)
class RewardHistoryMerged(MemberEvent):
    """A merged record's gifts now count for the surviving record's limits and yearly cap.

    Attributes:
        member_id: the surviving record.
        duplicate_id: the record merged away.
        redemptions: its redemptions, as they stand.
        at: when.
        idempotency_key: the merge command's key.
        fingerprint: its digest.
    """

    TYPE: ClassVar[str] = "reward_history_merged"

    duplicate_id: str
    redemptions: tuple[RedemptionRecord, ...]
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    idempotency_key: str
    fingerprint: str


@attrs.frozen(kw_only=True)
class RewardHistoryMergedAway(MemberEvent):
    """A record merged into another: its gifts left with it."""

    TYPE: ClassVar[str] = "reward_history_merged_away"

    survivor_id: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    idempotency_key: str
    fingerprint: str


RewardEvent = RewardRedeemed | RedemptionCancelled
HistoryMergeEvent = RewardHistoryMerged | RewardHistoryMergedAway

MESSAGE_TYPES: tuple[type[RewardCommand | RewardEvent | HistoryMergeEvent], ...] = (
    RedeemReward,
    CancelRedemption,
    RewardRedeemed,
    RedemptionCancelled,
    RewardHistoryMerged,
    RewardHistoryMergedAway,
)
"""The rewards' commands and events, for the serialization module's registry of tags."""


@attrs.frozen(kw_only=True)
class Redemption:
    """What a redemption (or a cancellation) decided: everything to apply together.

    Both are empty when the command was already carried out (a replay) or, for a
    cancellation, when the redemption was already cancelled.

    Attributes:
        postings: the ledger postings, in order (expiries due first, then the redemption
            or the adjustment), for :func:`membercore.ledger.evolve`.
        events: the reward events, for :func:`evolve_history` and :func:`evolve_stock`.
    """

    postings: tuple[Posting, ...] = ()
    events: tuple[RewardEvent, ...] = ()
