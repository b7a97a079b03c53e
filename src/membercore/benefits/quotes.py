"""Quotes: what a bill of services costs a member, with their quotas and discounts.

For each line of the bill, in order:

1. **Quotas first.** Each quota whose ``service`` is the item's category or item code
   covers units free while it has uses left — unlimited quotas first, then those whose
   period ends soonest (use them or lose them), personal before household-shared, then
   by benefit key. Uses taken by a line are no longer available to the next lines, so a
   quote never uses more than remains. The uses left come from
   :func:`~membercore.benefits.allowance`, the same computation reservations use.
2. **Then one discount** on the units still to pay: the non-stackable discount that
   takes off most (ties: the first in the programme's order), then every ``stackable``
   discount in the programme's order, each on what is left to pay (so 10 % and a
   stackable 5 % make 14.5 %). A percentage is rounded down to the fen; a fixed amount is
   per unit; ``max_off_fen`` caps what one discount takes off the line; nothing takes
   off more than is left to pay.

A quote reserves nothing: reserve or use the quotas with the quota commands when the
services are booked or delivered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import ClassVar

import attrs

from membercore.benefits.entitlements import Entitlement, Standing, entitlements, holder_of
from membercore.benefits.periods import Period
from membercore.benefits.quotas import QuotaState, allowance
from membercore.checks import non_empty, non_negative, positive
from membercore.config import Discount, ProgrammeConfig
from membercore.dates import as_utc, aware, require_aware

__all__ = ["AppliedDiscount", "BillItem", "QuotaUse", "Quote", "QuoteLine", "quote"]


@attrs.frozen(kw_only=True)
class BillItem:
    """One line of a bill of services.

    Attributes:
        item_code: the HIS item code (e.g. ``CT-HEAD``).
        category: the service category (e.g. ``exam``, ``expert_consult``).
        list_price_fen: the list price of one unit, in fen.
        quantity: how many units.
    """

    TYPE: ClassVar[str] = "bill_item"

    item_code: str = attrs.field(validator=non_empty)
    category: str = attrs.field(validator=non_empty)
    list_price_fen: int = attrs.field(validator=non_negative)
    quantity: int = attrs.field(default=1, validator=positive)

    @property
    def list_total_fen(self) -> int:
        """The list price of the line: unit price times quantity."""
        return self.list_price_fen * self.quantity


@attrs.frozen(kw_only=True)
class QuotaUse:
    """Uses of a quota a quote line would take.

    Attributes:
        benefit_key: the quota.
        holder_id: who holds it (the member, or the household).
        period_key: the period drawn on.
        units: how many units it covers free.
    """

    benefit_key: str
    holder_id: str
    period_key: str
    units: int


@attrs.frozen(kw_only=True)
class AppliedDiscount:
    """A discount taken off a quote line.

    Attributes:
        benefit_key: the discount benefit.
        label: its label, for the receipt.
        off_fen: what it takes off the line, in fen.
    """

    benefit_key: str
    label: str
    off_fen: int


@attrs.frozen(kw_only=True)
class QuoteLine:
    """A bill line priced for the member.

    Attributes:
        item: the bill line.
        free_units: units covered by quotas.
        quota_uses: the quotas that cover them.
        discounts: the discounts taken off the units still to pay.
    """

    item: BillItem
    free_units: int
    quota_uses: tuple[QuotaUse, ...] = ()
    discounts: tuple[AppliedDiscount, ...] = ()

    @property
    def list_total_fen(self) -> int:
        """The line at list price."""
        return self.item.list_total_fen

    @property
    def free_fen(self) -> int:
        """The list price of the units quotas cover."""
        return self.free_units * self.item.list_price_fen

    @property
    def discount_fen(self) -> int:
        """What the discounts take off."""
        return sum(applied.off_fen for applied in self.discounts)

    @property
    def member_price_fen(self) -> int:
        """What the member pays for the line."""
        return self.list_total_fen - self.free_fen - self.discount_fen

    @property
    def saving_fen(self) -> int:
        """What the member saves on the line: list price less member price."""
        return self.free_fen + self.discount_fen


@attrs.frozen(kw_only=True)
class Quote:
    """A bill priced for a member at an instant.

    Attributes:
        member_id: the member.
        at: the instant of the quote (UTC).
        lines: the priced lines, in the bill's order.
    """

    member_id: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    lines: tuple[QuoteLine, ...]

    @property
    def list_total_fen(self) -> int:
        """The bill at list price."""
        return sum(line.list_total_fen for line in self.lines)

    @property
    def member_total_fen(self) -> int:
        """What the member pays."""
        return sum(line.member_price_fen for line in self.lines)

    @property
    def saving_fen(self) -> int:
        """What the member saves."""
        return sum(line.saving_fen for line in self.lines)


@attrs.define
class _Pool:
    """A quota's uses still available while a quote is built."""

    entitlement: Entitlement
    holder_id: str
    period: Period
    left: int | None


def quote(
    items: Iterable[BillItem],
    standing: Standing,
    config: ProgrammeConfig,
    now: datetime,
    *,
    quotas: Iterable[QuotaState] = (),
    appointment_id: str | None = None,
) -> Quote:
    """Price a bill of services for a member at an instant.

    Args:
        items: the bill's lines.
        standing: the member's standing now.
        config: the programme.
        now: the instant of the quote (and of the services).
        quotas: the quota states of the member and of their household; a holder whose
            state is not given is taken as having used nothing.
        appointment_id: the appointment being billed: what the member reserved for it
            counts as available to this bill.

    Returns:
        The quote; every line costs between nothing and its list price.

    Raises:
        NaiveInstantError: ``now`` is naive.
        ConfigError: the standing's tier is not on the programme's ladder.
    """
    now = require_aware("now", now)
    held = entitlements(standing, config)
    states = {state.holder_id: state for state in quotas}
    pools = _pools(held, standing, states, config, now, appointment_id=appointment_id)
    discounts = [entitlement for entitlement in held if entitlement.benefit.discount is not None]
    lines = []
    for item in items:
        uses = _cover(item, pools)
        free = sum(use.units for use in uses)
        applied = _discount(item, item.quantity - free, discounts)
        lines.append(QuoteLine(item=item, free_units=free, quota_uses=uses, discounts=applied))
    return Quote(member_id=standing.member_id, at=now, lines=tuple(lines))


def _pools(
    held: Sequence[Entitlement],
    standing: Standing,
    states: dict[str, QuotaState],
    config: ProgrammeConfig,
    now: datetime,
    *,
    appointment_id: str | None,
) -> list[_Pool]:
    pools = []
    for entitlement in held:
        if entitlement.benefit.quota is None:
            continue
        holder = holder_of(entitlement, standing)
        state = states.get(holder, QuotaState(holder_id=holder))
        allowed = allowance(entitlement, standing, state, config, now)
        if allowed is None:
            continue
        left = allowed.remaining
        reservation = state.reservations.get(appointment_id) if appointment_id else None
        if (
            left is not None
            and reservation is not None
            and reservation.member_id == standing.member_id
            and reservation.benefit_key == entitlement.key
            and reservation.period.key == allowed.period.key
        ):
            left += reservation.units
        pools.append(_Pool(entitlement, holder, allowed.period, left))
    pools.sort(
        key=lambda pool: (
            pool.left is not None,
            pool.period.end,
            pool.holder_id != standing.member_id,
            pool.entitlement.key,
        )
    )
    return pools


def _cover(item: BillItem, pools: list[_Pool]) -> tuple[QuotaUse, ...]:
    uses = []
    wanted = item.quantity
    for pool in pools:
        quota = pool.entitlement.benefit.quota
        if wanted == 0 or quota is None or quota.service not in (item.category, item.item_code):
            continue
        units = wanted if pool.left is None else min(wanted, pool.left)
        if units == 0:
            continue
        if pool.left is not None:
            pool.left -= units
        wanted -= units
        uses.append(
            QuotaUse(
                benefit_key=pool.entitlement.key,
                holder_id=pool.holder_id,
                period_key=pool.period.key,
                units=units,
            )
        )
    return tuple(uses)


def _discount(
    item: BillItem, units: int, held: Sequence[Entitlement]
) -> tuple[AppliedDiscount, ...]:
    to_pay = units * item.list_price_fen
    applicable = [
        (entitlement, entitlement.benefit.discount)
        for entitlement in held
        if entitlement.benefit.discount is not None
        and item.category in entitlement.benefit.discount.categories
    ]
    applied: list[AppliedDiscount] = []
    best: tuple[int, Entitlement] | None = None
    for entitlement, discount in applicable:
        off = _off(discount, to_pay, units)
        if not discount.stackable and off > 0 and (best is None or off > best[0]):
            best = (off, entitlement)
    if best is not None:
        off, entitlement = best
        applied.append(_applied(entitlement, off))
        to_pay -= off
    for entitlement, discount in applicable:
        off = _off(discount, to_pay, units) if discount.stackable else 0
        if off > 0:
            applied.append(_applied(entitlement, off))
            to_pay -= off
    return tuple(applied)


def _off(discount: Discount, amount_fen: int, units: int) -> int:
    if discount.percent_off is not None:
        off = amount_fen * discount.percent_off // 100
    else:
        off = (discount.fixed_off_fen or 0) * units
    if discount.max_off_fen is not None:
        off = min(off, discount.max_off_fen)
    return min(off, amount_fen)


def _applied(entitlement: Entitlement, off: int) -> AppliedDiscount:
    return AppliedDiscount(
        benefit_key=entitlement.key, label=entitlement.benefit.label, off_fen=off
    )
