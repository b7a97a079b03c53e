"""Properties of quotes and quota use, over random programmes, standings, bills and histories."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore.benefits import (
    BillItem,
    ConsumeQuota,
    QuotaCommand,
    QuotaEvent,
    QuotaState,
    ReleaseQuota,
    ReserveQuota,
    Standing,
    UseQuota,
    decide,
    entitlements,
    evolve,
    holder_of,
    quota_period,
    quote,
    replay,
)
from membercore.config import Benefit, BenefitPackage, Discount, ProgrammeConfig, Quota
from membercore.config.reference import reference_config
from membercore.errors import BenefitError

SH = ZoneInfo("Asia/Shanghai")
# Few categories and codes, so that quotas and discounts often cover the bill's items.
CATEGORIES = ("exam", "consult", "lab")
CODES = ("CT-HEAD", "LAB-HBA1C")
PLANS = tuple(plan.key for plan in reference_config().plans.plans)
PROGRAMMES = ("diabetes", "prenatal")
TIERS = ("L1", "L2", "L3", "L4", "L5")
# Around the Shanghai new year, so that year and month periods both turn.
INSTANTS = st.datetimes(
    min_value=datetime(2025, 12, 25),  # noqa: DTZ001 -- hypothesis bounds are naive
    max_value=datetime(2026, 2, 5),  # noqa: DTZ001
    timezones=st.just(SH),
).map(lambda instant: instant.astimezone(UTC))


# --- strategies ---------------------------------------------------------------------------


@st.composite
def discounts(draw: st.DrawFn) -> Discount:
    categories = tuple(draw(st.sets(st.sampled_from(CATEGORIES), min_size=1)))
    cap = draw(st.none() | st.integers(1, 200_000))
    stackable = draw(st.booleans())
    if draw(st.booleans()):
        percent = draw(st.integers(0, 100))
        return Discount(
            categories=categories, percent_off=percent, max_off_fen=cap, stackable=stackable
        )
    fixed = draw(st.integers(1, 100_000))
    return Discount(
        categories=categories, fixed_off_fen=fixed, max_off_fen=cap, stackable=stackable
    )


@st.composite
def quotas(draw: st.DrawFn) -> Quota:
    return Quota(
        service=draw(st.sampled_from(CATEGORIES + CODES)),
        per_period=draw(st.none() | st.integers(1, 6)),
        period=draw(st.sampled_from(("year", "month", "term"))),
        shared_by_household=draw(st.booleans()),
    )


@st.composite
def benefits(draw: st.DrawFn) -> Benefit:
    # A few keys per category, so that packages often grant the same benefit twice.
    kind = draw(st.sampled_from(("discount", "quota", "gift")))
    key = f"{kind}_{draw(st.integers(0, 3))}"
    if kind == "discount":
        return Benefit(key=key, category="discount", label=key, discount=draw(discounts()))
    if kind == "quota":
        return Benefit(key=key, category="quota", label=key, quota=draw(quotas()))
    return Benefit(key=key, category="gift", label=key)


@st.composite
def programmes(draw: st.DrawFn) -> ProgrammeConfig:
    packages = []
    for number in range(draw(st.integers(1, 6))):
        granted = draw(
            st.lists(benefits(), min_size=1, max_size=4, unique_by=lambda benefit: benefit.key)
        )
        attachment = draw(
            st.sampled_from(TIERS).map(lambda tier: {"tier": tier})
            | st.sampled_from(PLANS).map(lambda plan: {"plan": plan})
            | st.sampled_from(PROGRAMMES).map(lambda programme: {"programme": programme})
        )
        packages.append(
            BenefitPackage(
                key=f"package_{number}",
                label=f"package {number}",
                benefits=tuple(granted),
                cumulative=draw(st.booleans()),
                **attachment,
            )
        )
    return ProgrammeConfig(packages=tuple(packages), plans=reference_config().plans)


@st.composite
def standings(draw: st.DrawFn, now: datetime, member_id: str = "p-1") -> Standing:
    plans = tuple(draw(st.sets(st.sampled_from(PLANS), max_size=3)))
    # Every plan's term covers ``now``, starting up to a year before it.
    terms = {}
    for plan in plans:
        start = now - timedelta(days=draw(st.integers(0, 364)), hours=draw(st.integers(0, 23)))
        terms[plan] = (start, start + timedelta(days=365))
    return Standing(
        member_id=member_id,
        tier=draw(st.sampled_from(TIERS)),
        plans=plans,
        programmes=tuple(draw(st.sets(st.sampled_from(PROGRAMMES)))),
        household_id=draw(st.none() | st.just("h-1")),
        plan_terms=terms,
    )


bill_items = st.builds(
    BillItem,
    item_code=st.sampled_from(CODES),
    category=st.sampled_from(CATEGORIES),
    list_price_fen=st.integers(0, 500_000),
    quantity=st.integers(1, 6),
)


def used_quotas(
    draw: st.DrawFn, member: Standing, config: ProgrammeConfig, now: datetime
) -> tuple[dict[str, QuotaState], Counter[tuple[str, str, str]]]:
    """Use each limited quota a random number of times, through the decider."""
    states: dict[str, QuotaState] = {}
    used: Counter[tuple[str, str, str]] = Counter()
    for number, entitlement in enumerate(entitlements(member, config)):
        quota = entitlement.benefit.quota
        period = quota_period(entitlement, member, config, now) if quota else None
        if quota is None or quota.per_period is None or period is None:
            continue
        holder = holder_of(entitlement, member)
        units = draw(st.integers(0, quota.per_period))
        state = states.setdefault(holder, QuotaState(holder_id=holder))
        if units:
            command = UseQuota(
                key=f"u-{number}", member_id="p-1", benefit_key=entitlement.key, units=units
            )
            for event in decide(command, state, config, now, standing=member):
                state = evolve(state, event)
            states[holder] = state
            used[holder, entitlement.key, period.key] += units
    return states, used


# --- quotes -------------------------------------------------------------------------------


@pytest.mark.slow
@given(data=st.data(), config=programmes(), now=INSTANTS, items=st.lists(bill_items, max_size=8))
def test_every_quote_line_costs_between_nothing_and_its_list_price_and_the_totals_add_up(
    data: st.DataObject, config: ProgrammeConfig, now: datetime, items: list[BillItem]
) -> None:
    member = data.draw(standings(now))
    states, _ = used_quotas(data.draw, member, config, now)
    result = quote(items, member, config, now, quotas=states.values())
    assert [line.item for line in result.lines] == items
    for line in result.lines:
        assert 0 <= line.member_price_fen <= line.list_total_fen
        assert 0 <= line.free_units <= line.item.quantity
        assert line.free_units == sum(use.units for use in line.quota_uses)
        assert all(applied.off_fen > 0 for applied in line.discounts)
        assert line.member_price_fen == line.list_total_fen - line.free_fen - line.discount_fen
        assert line.saving_fen == line.list_total_fen - line.member_price_fen
        # No stacking unless the benefit says so: at most one non-stackable discount.
        plain = [
            applied
            for applied in line.discounts
            if not _discount_of(config, member, applied.benefit_key).stackable
        ]
        assert len(plain) <= 1
    assert result.list_total_fen == sum(item.list_price_fen * item.quantity for item in items)
    assert result.member_total_fen == sum(line.member_price_fen for line in result.lines)
    assert result.saving_fen == result.list_total_fen - result.member_total_fen


def _discount_of(config: ProgrammeConfig, member: Standing, key: str) -> Discount:
    found = next(held for held in entitlements(member, config) if held.key == key)
    assert found.benefit.discount is not None
    return found.benefit.discount


@pytest.mark.slow
@given(data=st.data(), config=programmes(), now=INSTANTS, items=st.lists(bill_items, max_size=8))
def test_a_quote_never_uses_more_of_a_quota_than_remains(
    data: st.DataObject, config: ProgrammeConfig, now: datetime, items: list[BillItem]
) -> None:
    member = data.draw(standings(now))
    states, used = used_quotas(data.draw, member, config, now)
    result = quote(items, member, config, now, quotas=states.values())
    taken: Counter[tuple[str, str, str]] = Counter()
    for line in result.lines:
        for use in line.quota_uses:
            taken[use.holder_id, use.benefit_key, use.period_key] += use.units
    limits = {
        entitlement.key: entitlement.benefit.quota.per_period
        for entitlement in entitlements(member, config)
        if entitlement.benefit.quota is not None
    }
    for (holder, benefit_key, period_key), units in taken.items():
        limit = limits[benefit_key]
        if limit is not None:
            # What the model says is left: the limit less what was used before the quote.
            assert units <= limit - used[holder, benefit_key, period_key]


@given(data=st.data(), now=INSTANTS, items=st.lists(bill_items, max_size=8))
def test_the_reference_programme_quotes_within_list_price_for_any_standing(
    data: st.DataObject, now: datetime, items: list[BillItem]
) -> None:
    reference = reference_config()
    member = data.draw(standings(now))
    states, _ = used_quotas(data.draw, member, reference, now)
    result = quote(items, member, reference, now, quotas=states.values())
    for line in result.lines:
        assert 0 <= line.member_price_fen <= line.list_total_fen
    assert 0 <= result.member_total_fen <= result.list_total_fen


# --- replay -------------------------------------------------------------------------------


MEMBERS = ("p-1", "p-2", "p-3")


def household_standing(member_id: str) -> Standing:
    return Standing(member_id=member_id, tier="L3", plans=("family_steward",), household_id="h-1")


commands: st.SearchStrategy[Any] = st.one_of(
    st.builds(
        ReserveQuota,
        key=st.sampled_from([f"k-{n}" for n in range(12)]),
        member_id=st.sampled_from(MEMBERS),
        benefit_key=st.sampled_from(("child_consults", "family_expert_consults", "family_records")),
        appointment_id=st.sampled_from(("a-1", "a-2", "a-3", "a-4")),
        units=st.integers(1, 4),
    ),
    st.builds(
        UseQuota,
        key=st.sampled_from([f"k-{n}" for n in range(12)]),
        member_id=st.sampled_from(MEMBERS),
        benefit_key=st.sampled_from(("child_consults", "family_expert_consults")),
        units=st.integers(1, 4),
    ),
    st.builds(
        ConsumeQuota,
        key=st.sampled_from([f"k-{n}" for n in range(12)]),
        member_id=st.sampled_from(MEMBERS),
        appointment_id=st.sampled_from(("a-1", "a-2", "a-3", "a-4")),
    ),
    st.builds(
        ReleaseQuota,
        key=st.sampled_from([f"k-{n}" for n in range(12)]),
        member_id=st.sampled_from(MEMBERS),
        appointment_id=st.sampled_from(("a-1", "a-2", "a-3", "a-4")),
    ),
)


@given(history=st.lists(st.tuples(commands, INSTANTS), max_size=30))
def test_replaying_quota_events_rebuilds_the_identical_state(
    history: list[tuple[QuotaCommand, datetime]],
) -> None:
    config = reference_config()
    state = QuotaState(holder_id="h-1")
    journal: list[QuotaEvent] = []
    for command, now in sorted(history, key=lambda step: step[1]):
        try:
            events = decide(
                command, state, config, now, standing=household_standing(command.member_id)
            )
        except BenefitError:
            continue
        for event in events:
            state = evolve(state, event)
            journal.append(event)
    assert replay("h-1", journal) == state
    assert state.seq == len(journal)
