"""Terms, grace and pro-rating: the calendar and money arithmetic of a subscription.

Term ends are reckoned in calendar months in the programme's timezone, always from the
start of the first term (the *anchor*): a plan bought on 31 January runs to the last
day of February, then to 31 March, 30 April... Grace is counted in local calendar days.

**Pro-rating.** A cancellation refunds, and a plan change credits, the value of the
*unused days*: for each paid term, the whole days of it not yet begun,
``floor((term_end - max(at, term_start)) / 24 h)``, priced at
``value * unused_days // term_days`` fen where ``term_days`` is the term's length in
whole days. Floor, for the days: a day that has begun could be used (a consult booked,
the doctor line called), so it counts as used; at the very start of a term every day is
unused and the refund is the whole price. Floor, for the fen: a fraction of a fen stays
with the hospital. The value kept is ``paid - refund``, computed by subtraction, so
refund plus used value equals what was paid, to the fen.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs

from membercore.dates import add_months
from membercore.plans.state import SubscriptionState, SubscriptionStatus, Term

__all__ = ["DAY", "Proration", "grace_end", "prorate", "status_at", "term_end"]

DAY = timedelta(days=1)
"""The unit of pro-rating."""


def term_end(anchor: datetime, months: int, tz: ZoneInfo) -> datetime:
    """The end of a paid period of ``months`` months that started at ``anchor``.

    The same local wall time ``months`` calendar months on, the day clamped to the end of
    a shorter month (31 January + 1 month = 28 or 29 February; + 2 months = 31 March).
    """
    return add_months(anchor, months, tz)


def grace_end(end: datetime, days: int, tz: ZoneInfo) -> datetime:
    """The end of grace: ``days`` local calendar days after the end of the paid period."""
    # Adding a timedelta to an aware local time moves the wall clock: local days, even
    # where a daylight-saving change makes one of them 23 or 25 hours long.
    return (end.astimezone(tz) + timedelta(days=days)).astimezone(UTC)


@attrs.frozen(kw_only=True)
class Proration:
    """The unused part of a subscription's paid terms at an instant.

    Attributes:
        paid_fen: what the terms are worth in all.
        unused_days: whole days of them not yet begun.
        unused_fen: the value of those days (the refund under ``pro_rata``, the credit of
            a plan change).
    """

    paid_fen: int
    unused_days: int
    unused_fen: int

    @property
    def used_fen(self) -> int:
        """The value of the days used: ``paid_fen - unused_fen``, exactly."""
        return self.paid_fen - self.unused_fen


def _term_unused(term: Term, at: datetime) -> tuple[int, int]:
    term_days = (term.end - term.start) // DAY
    if term_days <= 0:
        return 0, 0
    left = term.end - max(at, term.start)
    days = min(term_days, max(0, left // DAY))
    return days, term.value_fen * days // term_days


def prorate(subscription: SubscriptionState, at: datetime) -> Proration:
    """The unused days of a subscription's paid terms at ``at``, and their value.

    Args:
        subscription: the subscription.
        at: the instant of the cancellation or plan change.

    Returns:
        Paid value, unused whole days and their value, summed over its terms (a term
        renewed ahead and not yet begun is unused in full).
    """
    days = fen = 0
    for term in subscription.terms:
        term_days, term_fen = _term_unused(term, at)
        days += term_days
        fen += term_fen
    return Proration(paid_fen=subscription.paid_fen, unused_days=days, unused_fen=fen)


def status_at(subscription: SubscriptionState, now: datetime) -> SubscriptionStatus:
    """The status the subscription has at ``now``, counting the clock's transitions.

    The recorded status moves only when :class:`~membercore.plans.AdvanceSubscriptions`
    (or any other command) is decided; this is what it will be once they are: pending
    payment past the window is lapsed, active past the term end is in grace, in grace
    past the grace end is expired.
    """
    status = subscription.status
    pending = SubscriptionStatus.PENDING_PAYMENT
    if status is pending and subscription.pay_by is not None and now >= subscription.pay_by:
        return SubscriptionStatus.LAPSED
    end = subscription.term_end
    if status is SubscriptionStatus.ACTIVE and end is not None and now >= end:
        status = SubscriptionStatus.GRACE
    grace = subscription.grace_ends_at
    if status is SubscriptionStatus.GRACE and grace is not None and now >= grace:
        return SubscriptionStatus.EXPIRED
    return status
