"""Quota use: reserve, consume, release, idempotency, exhaustion, periods and holders."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from membercore import NaiveInstantError, reference_config
from membercore.benefits import (
    ConsumeQuota,
    Period,
    QuotaCommand,
    QuotaConsumed,
    QuotaEvent,
    QuotaReleased,
    QuotaReserved,
    QuotaState,
    ReleaseQuota,
    Reservation,
    ReserveQuota,
    Standing,
    Usage,
    UseQuota,
    allowance,
    decide,
    evolve,
    find_entitlement,
    quota_period,
    replay,
)
from membercore.config import Benefit, BenefitPackage, ProgrammeConfig, Quota
from membercore.errors import (
    BenefitError,
    MembercoreError,
    NotEntitledError,
    QuotaExhaustedError,
    QuotaHolderError,
    QuotaKeyConflictError,
    ReservationExistsError,
    UnknownReservationError,
)

SH = ZoneInfo("Asia/Shanghai")
CONFIG = reference_config()
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
GOLD = Standing(member_id="p-1", tier="L3")


def sh(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


class Holder:
    """One holder's quota state and journal, driven through decide and evolve."""

    def __init__(self, holder_id: str, config: ProgrammeConfig = CONFIG) -> None:
        self.state = QuotaState(holder_id=holder_id)
        self.config = config
        self.journal: list[QuotaEvent] = []

    def run(
        self, command: QuotaCommand, now: datetime = NOW, standing: Standing | None = GOLD
    ) -> list[QuotaEvent]:
        events = decide(command, self.state, self.config, now, standing=standing)
        for event in events:
            self.state = evolve(self.state, event)
            self.journal.append(event)
        return events


def reserve(
    appointment: str, units: int = 1, *, key: str | None = None, benefit: str = "expert_consults"
) -> ReserveQuota:
    return ReserveQuota(
        key=key or f"reserve-{appointment}",
        member_id="p-1",
        benefit_key=benefit,
        appointment_id=appointment,
        units=units,
    )


def usage(holder: Holder, period: str = "year:2026", benefit: str = "expert_consults") -> Usage:
    return holder.state.usage_of(benefit, period)


def keys_of(events: Sequence[QuotaEvent]) -> list[str]:
    return [event.TYPE for event in events]


# --- reserve, consume, release ------------------------------------------------------------


def test_a_reservation_sets_uses_aside_and_records_holder_member_benefit_period_and_units() -> None:
    holder = Holder("p-1")
    (event,) = holder.run(reserve("a-1", 2))
    assert isinstance(event, QuotaReserved)
    assert (event.holder_id, event.member_id, event.benefit_key, event.units) == (
        "p-1",
        "p-1",
        "expert_consults",
        2,
    )
    # The Shanghai year 2026 runs from 1 January 00:00 +08:00, i.e. 31 December 16:00 UTC.
    assert event.period == Period(
        key="year:2026",
        start=datetime(2025, 12, 31, 16, tzinfo=UTC),
        end=datetime(2026, 12, 31, 16, tzinfo=UTC),
    )
    assert event.appointment_id == "a-1"
    assert usage(holder) == Usage(reserved=2, consumed=0)
    assert holder.state.reservations["a-1"] == Reservation(
        appointment_id="a-1",
        member_id="p-1",
        benefit_key="expert_consults",
        period=event.period,
        units=2,
    )


def test_consuming_a_reservation_turns_its_uses_from_reserved_into_consumed() -> None:
    holder = Holder("p-1")
    holder.run(reserve("a-1", 2))
    (event,) = holder.run(ConsumeQuota(key="c-1", member_id="p-1", appointment_id="a-1"))
    assert isinstance(event, QuotaConsumed)
    assert (event.appointment_id, event.units) == ("a-1", 2)
    assert usage(holder) == Usage(reserved=0, consumed=2)
    assert holder.state.reservations == {}


def test_a_cancelled_appointment_releases_its_reservation_and_the_uses_come_back() -> None:
    holder = Holder("p-1")
    holder.run(reserve("a-1", 4))
    (event,) = holder.run(
        ReleaseQuota(key="x-1", member_id="p-1", appointment_id="a-1", reason="cancelled")
    )
    assert isinstance(event, QuotaReleased)
    assert event.reason == "cancelled"
    assert usage(holder) == Usage()
    # All 4 uses are available again, even for the same appointment re-booked.
    assert keys_of(holder.run(reserve("a-1", 4, key="reserve-again"))) == ["quota_reserved"]


def test_a_direct_use_consumes_without_a_reservation() -> None:
    holder = Holder("p-1")
    (event,) = holder.run(
        UseQuota(key="u-1", member_id="p-1", benefit_key="expert_consults", reference="visit-9")
    )
    assert isinstance(event, QuotaConsumed)
    assert (event.appointment_id, event.reference, event.units) == (None, "visit-9", 1)
    assert usage(holder) == Usage(reserved=0, consumed=1)


def test_allowance_is_per_period_less_reserved_and_consumed() -> None:
    holder = Holder("p-1")
    holder.run(reserve("a-1"))
    holder.run(UseQuota(key="u-1", member_id="p-1", benefit_key="expert_consults", units=2))
    entitlement = find_entitlement(GOLD, CONFIG, "expert_consults")
    assert entitlement is not None
    held = allowance(entitlement, GOLD, holder.state, CONFIG, NOW)
    assert held is not None
    assert (held.per_period, held.reserved, held.consumed, held.remaining) == (4, 1, 2, 1)


def test_an_unlimited_quota_is_recorded_but_never_exhausted() -> None:
    member = Standing(member_id="p-1", tier="L5")
    holder = Holder("p-1")
    for number in range(20):
        holder.run(
            UseQuota(key=f"u-{number}", member_id="p-1", benefit_key="online_consults", units=5),
            standing=member,
        )
    assert usage(holder, benefit="online_consults") == Usage(consumed=100)
    entitlement = find_entitlement(member, CONFIG, "online_consults")
    assert entitlement is not None
    held = allowance(entitlement, member, holder.state, CONFIG, NOW)
    assert held is not None
    assert held.remaining is None


# --- idempotency --------------------------------------------------------------------------


def test_the_same_command_twice_records_its_uses_once() -> None:
    holder = Holder("p-1")
    assert len(holder.run(reserve("a-1"))) == 1
    assert holder.run(reserve("a-1")) == []
    consume = ConsumeQuota(key="c-1", member_id="p-1", appointment_id="a-1")
    assert len(holder.run(consume)) == 1
    assert holder.run(consume) == []  # a retried consumption: no error, nothing new
    assert usage(holder) == Usage(consumed=1)


def test_an_idempotency_key_reused_for_another_command_is_refused() -> None:
    holder = Holder("p-1")
    holder.run(reserve("a-1", key="k"))
    with pytest.raises(QuotaKeyConflictError) as refused:
        holder.run(reserve("a-2", key="k"))
    assert (refused.value.key, refused.value.holder_id) == ("k", "p-1")


def test_a_replayed_command_is_accepted_even_after_the_quota_ran_out() -> None:
    holder = Holder("p-1")
    holder.run(reserve("a-1", 4))
    assert holder.run(reserve("a-1", 4)) == []


# --- refusals -----------------------------------------------------------------------------


def test_a_quota_cannot_be_over_used_and_the_refusal_names_holder_requested_and_remaining() -> None:
    holder = Holder("p-1")
    holder.run(reserve("a-1", 3))
    with pytest.raises(QuotaExhaustedError) as refused:
        holder.run(reserve("a-2", 2))
    error = refused.value
    # 4 a year - 3 reserved = 1 remaining; 2 requested.
    assert (error.member_id, error.holder_id, error.benefit_key) == (
        "p-1",
        "p-1",
        "expert_consults",
    )
    assert (error.requested, error.remaining, error.period) == (2, 1, "year:2026")
    assert str(error) == (
        "member p-1: quota 'expert_consults' of holder p-1 is exhausted for year:2026: "
        "requested 2, remaining 1"
    )
    assert isinstance(error, BenefitError)
    assert isinstance(error, MembercoreError)
    assert usage(holder) == Usage(reserved=3)  # nothing changed


def test_a_member_not_entitled_to_a_quota_cannot_reserve_it() -> None:
    holder = Holder("p-1")
    silver = Standing(member_id="p-1", tier="L2")
    with pytest.raises(NotEntitledError, match="no package") as refused:
        holder.run(reserve("a-1"), standing=silver)
    assert refused.value.benefit_key == "expert_consults"


def test_a_benefit_that_is_not_a_quota_cannot_be_reserved() -> None:
    with pytest.raises(NotEntitledError, match="not a free-use quota"):
        Holder("p-1").run(reserve("a-1", benefit="health_manager"))


def test_an_appointment_holds_one_open_reservation() -> None:
    holder = Holder("p-1")
    holder.run(reserve("a-1"))
    with pytest.raises(ReservationExistsError) as refused:
        holder.run(reserve("a-1", key="again"))
    assert refused.value.appointment_id == "a-1"


def test_consuming_or_releasing_an_unknown_reservation_is_refused() -> None:
    holder = Holder("p-1")
    with pytest.raises(UnknownReservationError) as refused:
        holder.run(ConsumeQuota(key="c-1", member_id="p-1", appointment_id="nope"))
    assert (refused.value.holder_id, refused.value.appointment_id) == ("p-1", "nope")
    holder.run(reserve("a-1"))
    holder.run(ReleaseQuota(key="x-1", member_id="p-1", appointment_id="a-1"))
    with pytest.raises(UnknownReservationError):  # already released
        holder.run(ConsumeQuota(key="c-2", member_id="p-1", appointment_id="a-1"))


def test_a_member_cannot_consume_another_member_s_reservation() -> None:
    household = Holder("h-1")
    head = Standing(member_id="p-1", tier="L1", plans=("family_steward",), household_id="h-1")
    household.run(reserve("a-1", benefit="child_consults"), standing=head)
    with pytest.raises(UnknownReservationError):
        household.run(ConsumeQuota(key="c-1", member_id="p-2", appointment_id="a-1"))


def test_a_shared_quota_must_be_decided_on_the_household_s_state() -> None:
    head = Standing(member_id="p-1", tier="L1", plans=("family_steward",), household_id="h-1")
    with pytest.raises(QuotaHolderError, match="held by h-1"):
        Holder("p-1").run(reserve("a-1", benefit="child_consults"), standing=head)


def test_a_standing_of_another_member_is_refused() -> None:
    other = Standing(member_id="p-2", tier="L3")
    with pytest.raises(QuotaHolderError, match="p-2"):
        Holder("p-1").run(reserve("a-1"), standing=other)


def test_reserving_needs_the_member_s_standing() -> None:
    with pytest.raises(TypeError, match="standing"):
        Holder("p-1").run(reserve("a-1"), standing=None)


def test_an_event_of_another_holder_is_refused_by_evolve() -> None:
    holder = Holder("p-1")
    (event,) = holder.run(reserve("a-1"))
    with pytest.raises(QuotaHolderError):
        evolve(QuotaState(holder_id="p-2"), event)


def test_a_naive_decision_instant_is_refused() -> None:
    with pytest.raises(NaiveInstantError):
        Holder("p-1").run(reserve("a-1"), now=datetime(2026, 1, 1))  # noqa: DTZ001


# --- household-shared quotas --------------------------------------------------------------


def test_household_members_draw_on_one_shared_quota() -> None:
    household = Holder("h-1")
    members = [
        Standing(member_id=member, tier="L1", plans=("family_steward",), household_id="h-1")
        for member in ("p-1", "p-2", "p-3")
    ]
    # 6 child consults a year for the whole household: 2 each uses them up.
    for number, member in enumerate(members):
        household.run(
            UseQuota(
                key=f"u-{number}", member_id=member.member_id, benefit_key="child_consults", units=2
            ),
            standing=member,
        )
    with pytest.raises(QuotaExhaustedError) as refused:
        household.run(
            UseQuota(key="u-more", member_id="p-1", benefit_key="child_consults"),
            standing=members[0],
        )
    assert (refused.value.holder_id, refused.value.remaining) == ("h-1", 0)
    assert usage(household, benefit="child_consults") == Usage(consumed=6)


# --- periods ------------------------------------------------------------------------------


def test_half_past_eleven_on_new_year_s_eve_and_half_past_midnight_fall_in_different_years() -> (
    None
):
    entitlement = find_entitlement(GOLD, CONFIG, "expert_consults")
    assert entitlement is not None
    eve, morning = sh(2025, 12, 31, 23, 30), sh(2026, 1, 1, 0, 30)
    # Both are 31 December in UTC (15:30 and 16:30); Shanghai's calendar decides.
    assert eve.astimezone(UTC).date() == morning.astimezone(UTC).date()
    eve_period = quota_period(entitlement, GOLD, CONFIG, eve)
    morning_period = quota_period(entitlement, GOLD, CONFIG, morning)
    assert eve_period is not None
    assert morning_period is not None
    assert (eve_period.key, morning_period.key) == ("year:2025", "year:2026")
    holder = Holder("p-1")
    holder.run(reserve("a-1", 4), now=eve)
    with pytest.raises(QuotaExhaustedError):
        holder.run(reserve("a-2", 1), now=eve)
    # Fifty-nine minutes later a new year's four uses are there.
    assert keys_of(holder.run(reserve("a-2", 4), now=morning)) == ["quota_reserved"]
    assert usage(holder, "year:2025") == Usage(reserved=4)
    assert usage(holder, "year:2026") == Usage(reserved=4)


def test_a_monthly_quota_renews_at_local_midnight_on_the_first() -> None:
    member = Standing(member_id="p-1", tier="L1", plans=("monthly_99",))
    holder = Holder("p-1")
    use = "expert_consult_monthly"
    holder.run(
        UseQuota(key="u-1", member_id="p-1", benefit_key=use),
        now=sh(2026, 1, 31, 23, 30),
        standing=member,
    )
    with pytest.raises(QuotaExhaustedError, match="month:2026-01"):
        holder.run(
            UseQuota(key="u-2", member_id="p-1", benefit_key=use),
            now=sh(2026, 1, 31, 23, 59),
            standing=member,
        )
    (event,) = holder.run(
        UseQuota(key="u-3", member_id="p-1", benefit_key=use),
        now=sh(2026, 2, 1, 0, 30),
        standing=member,
    )
    assert event.period.key == "month:2026-02"
    assert event.period.start == datetime(2026, 1, 31, 16, tzinfo=UTC)  # 1 Feb 00:00 +08:00
    assert event.period.end == datetime(2026, 2, 28, 16, tzinfo=UTC)  # 1 Mar 00:00 +08:00


def test_a_booking_in_december_for_january_draws_on_january_s_year() -> None:
    holder = Holder("p-1")
    command = ReserveQuota(
        key="r-1",
        member_id="p-1",
        benefit_key="expert_consults",
        appointment_id="a-1",
        units=4,
        service_at=sh(2026, 1, 5, 9),
    )
    (event,) = holder.run(command, now=sh(2025, 12, 20))
    assert event.period.key == "year:2026"
    # Consumed on the day, it stays counted in 2026.
    (consumed,) = holder.run(
        ConsumeQuota(key="c-1", member_id="p-1", appointment_id="a-1"), now=sh(2026, 1, 5, 9)
    )
    assert consumed.period.key == "year:2026"
    assert usage(holder, "year:2026") == Usage(consumed=4)
    assert usage(holder, "year:2025") == Usage()


def test_a_reservation_consumed_after_new_year_stays_in_the_year_it_was_reserved_in() -> None:
    holder = Holder("p-1")
    holder.run(reserve("a-1", 2), now=sh(2025, 12, 31, 23, 30))
    holder.run(
        ConsumeQuota(key="c-1", member_id="p-1", appointment_id="a-1"), now=sh(2026, 1, 1, 0, 30)
    )
    assert usage(holder, "year:2025") == Usage(consumed=2)
    assert usage(holder, "year:2026") == Usage()


TERM_CONFIG = ProgrammeConfig(
    plans=reference_config().plans,
    packages=(
        BenefitPackage(
            key="plan_annual_299",
            label="年卡",
            plan="annual_299",
            benefits=(
                Benefit(
                    key="dental_cleanings",
                    category="quota",
                    label="洁牙 2 次/期",
                    quota=Quota(service="dental_cleaning", per_period=2, period="term"),
                ),
            ),
        ),
    ),
)


def subscriber(start: datetime, end: datetime) -> Standing:
    return Standing(
        member_id="p-1", tier="L1", plans=("annual_299",), plan_terms={"annual_299": (start, end)}
    )


def test_a_term_quota_counts_uses_over_the_plan_s_term_and_renews_with_it() -> None:
    first = subscriber(sh(2026, 3, 15, 14), sh(2027, 3, 15, 14))
    second = subscriber(sh(2027, 3, 15, 14), sh(2028, 3, 15, 14))
    holder = Holder("p-1", TERM_CONFIG)
    use = UseQuota(key="u-1", member_id="p-1", benefit_key="dental_cleanings", units=2)
    (event,) = holder.run(use, now=sh(2026, 12, 31, 23, 30), standing=first)
    assert event.period.key == "term:annual_299:2026-03-15T06:00:00+00:00"
    # The calendar year turns, the term does not: nothing is left.
    with pytest.raises(QuotaExhaustedError):
        holder.run(
            UseQuota(key="u-2", member_id="p-1", benefit_key="dental_cleanings"),
            now=sh(2027, 1, 2),
            standing=first,
        )
    # After renewal, the next term's two uses.
    (renewed,) = holder.run(
        UseQuota(key="u-3", member_id="p-1", benefit_key="dental_cleanings", units=2),
        now=sh(2027, 3, 15, 14),
        standing=second,
    )
    assert renewed.period.key == "term:annual_299:2027-03-15T06:00:00+00:00"


def test_a_term_quota_without_a_term_covering_the_instant_cannot_be_used() -> None:
    holder = Holder("p-1", TERM_CONFIG)
    no_term = Standing(member_id="p-1", tier="L1", plans=("annual_299",))
    use = UseQuota(key="u-1", member_id="p-1", benefit_key="dental_cleanings")
    with pytest.raises(NotEntitledError, match="no term"):
        holder.run(use, standing=no_term)
    lapsed = subscriber(sh(2025, 1, 1), sh(2026, 1, 1))
    with pytest.raises(NotEntitledError, match="no term"):
        holder.run(use, now=sh(2026, 3, 1), standing=lapsed)


# --- the journal --------------------------------------------------------------------------


def test_replaying_the_journal_rebuilds_the_state() -> None:
    holder = Holder("p-1")
    holder.run(reserve("a-1", 2))
    holder.run(reserve("a-2", 1))
    holder.run(ConsumeQuota(key="c-1", member_id="p-1", appointment_id="a-1"))
    holder.run(ReleaseQuota(key="x-2", member_id="p-1", appointment_id="a-2"))
    holder.run(UseQuota(key="u-1", member_id="p-1", benefit_key="expert_consults"))
    assert keys_of(holder.journal) == [
        "quota_reserved",
        "quota_reserved",
        "quota_consumed",
        "quota_released",
        "quota_consumed",
    ]
    assert replay("p-1", holder.journal) == holder.state
    assert holder.state.seq == 5
    assert usage(holder) == Usage(reserved=0, consumed=3)  # 2 honoured + 1 walk-in
