"""The record of one subscription: its status, terms and what it covers."""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

__all__ = ["ENDED", "IN_FORCE", "OPEN", "SubscriptionState", "SubscriptionStatus", "Term"]


class SubscriptionStatus(enum.Enum):
    """Where a subscription is in its life."""

    PENDING_PAYMENT = "pending_payment"
    ACTIVE = "active"
    GRACE = "grace"
    EXPIRED = "expired"
    LAPSED = "lapsed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    CHANGED = "changed"


_S = SubscriptionStatus

IN_FORCE = frozenset({_S.ACTIVE, _S.GRACE})
"""Statuses in which the plan's benefits, tier floor and dependents apply."""

OPEN = frozenset({_S.PENDING_PAYMENT, _S.ACTIVE, _S.GRACE})
"""Statuses from which a subscription can still move."""

ENDED = frozenset(_S) - OPEN
"""Final statuses: nothing happens to the subscription any more."""


@attrs.frozen(kw_only=True)
class Term:
    """One paid term: what a first payment or a renewal bought.

    Attributes:
        start: the term's first instant.
        end: the instant after its last (the term covers ``[start, end)``).
        value_fen: what the term is worth: the money paid plus any credit applied to it.
    """

    start: datetime
    end: datetime
    value_fen: int


@attrs.frozen(kw_only=True)
class SubscriptionState:
    """One subscription. Immutable: :func:`evolve` returns a new one.

    Attributes:
        subscription_id: the subscription.
        plan_key: its plan.
        plan_version: the plan's version when last bought or renewed.
        status: where it is in its life.
        requested_at: when it was asked for.
        pay_by: while pending payment, the end of the payment window.
        due_fen: the amount awaited (first payment or renewal); ``None`` when nothing is.
        due_since: when that amount became due (a payment cannot predate it).
        credit_fen: for a plan change, the credit applied to the first term.
        replaces: for a plan change, the subscription it replaces once paid.
        dependents: relatives covered besides the holder.
        attributed_to: the staff member who made the sale.
        anchor: the start of the first term; every term end is a whole number of
            months after it, so a plan bought on 31 January renews on the last day of
            each month, not on the 28th for ever after February.
        months_paid: the months bought so far, from ``anchor``.
        terms: the paid terms, in order.
        grace_ends_at: the end of grace after the paid period.
        ended_at: when it ended (lapsed, expired, cancelled or changed).
        refund_fen: what its cancellation refunded.
    """

    subscription_id: str
    plan_key: str
    plan_version: int
    status: SubscriptionStatus
    requested_at: datetime
    pay_by: datetime | None = None
    due_fen: int | None = None
    due_since: datetime | None = None
    credit_fen: int = 0
    replaces: str | None = None
    dependents: tuple[str, ...] = ()
    attributed_to: str | None = None
    anchor: datetime | None = None
    months_paid: int = 0
    terms: tuple[Term, ...] = ()
    grace_ends_at: datetime | None = None
    ended_at: datetime | None = None
    refund_fen: int = 0

    @property
    def term_end(self) -> datetime | None:
        """The end of the paid period (of the last term bought); ``None`` before payment."""
        return self.terms[-1].end if self.terms else None

    @property
    def paid_fen(self) -> int:
        """What all its terms are worth (money paid plus credit received)."""
        return sum(term.value_fen for term in self.terms)
