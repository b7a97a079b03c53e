"""A household's shared quotas driven by its members' random reservations, consumptions,
releases, direct uses, retries and clock moves, against a plain count model.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from membercore.benefits import (
    ConsumeQuota,
    QuotaCommand,
    QuotaEvent,
    QuotaState,
    ReleaseQuota,
    ReserveQuota,
    Standing,
    UseQuota,
    decide,
    evolve,
    replay,
)
from membercore.config.reference import reference_config
from membercore.errors import QuotaExhaustedError, UnknownReservationError

SH = ZoneInfo("Asia/Shanghai")
HOUSEHOLD = "h-1"
MEMBERS = ("head", "spouse", "child")
# The family steward's household-shared quotas, per calendar year.
LIMITS = {"child_consults": 6, "family_expert_consults": 8}
# Hours before the Shanghai new year, which comes at 16:00 UTC: a UTC calendar would be wrong.
START = datetime(2025, 12, 31, 14, 0, tzinfo=SH).astimezone(UTC)


def standing(member: str) -> Standing:
    return Standing(member_id=member, tier="L1", plans=("family_steward",), household_id=HOUSEHOLD)


class HouseholdQuotas(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.config = reference_config()
        self.state = QuotaState(holder_id=HOUSEHOLD)
        self.journal: list[QuotaEvent] = []
        self.now = START
        self.numbers = iter(range(1, 1_000_000))
        # The model: uses per (benefit, Shanghai year), and the open reservations.
        self.reserved: Counter[tuple[str, int]] = Counter()
        self.consumed: Counter[tuple[str, int]] = Counter()
        self.open: dict[str, tuple[str, str, int, int]] = {}  # appointment -> member, ...
        self.accepted: list[tuple[QuotaCommand, str]] = []

    def year(self, at: datetime) -> int:
        return at.astimezone(SH).year

    def left(self, benefit: str, year: int) -> int:
        key = (benefit, year)
        return LIMITS[benefit] - self.reserved[key] - self.consumed[key]

    def run(self, command: QuotaCommand, member: str) -> list[QuotaEvent]:
        events = decide(command, self.state, self.config, self.now, standing=standing(member))
        for event in events:
            self.state = evolve(self.state, event)
            self.journal.append(event)
        return events

    def draw(
        self, benefit: str, member: str, units: int, appointment: str | None, hours: int
    ) -> None:
        number = next(self.numbers)
        service_at = self.now + timedelta(hours=hours)
        command: QuotaCommand
        if appointment is None:
            command = UseQuota(
                key=f"use-{number}",
                member_id=member,
                benefit_key=benefit,
                units=units,
                service_at=service_at,
            )
        else:
            command = ReserveQuota(
                key=f"reserve-{number}",
                member_id=member,
                benefit_key=benefit,
                appointment_id=appointment,
                units=units,
                service_at=service_at,
            )
        year = self.year(service_at)
        left = self.left(benefit, year)
        if units > left:
            with pytest.raises(QuotaExhaustedError) as refused:
                self.run(command, member)
            assert (refused.value.holder_id, refused.value.remaining) == (HOUSEHOLD, left)
            assert (refused.value.requested, refused.value.period) == (units, f"year:{year}")
            return
        (event,) = self.run(command, member)
        assert event.period.key == f"year:{year}"
        if appointment is None:
            self.consumed[benefit, year] += units
        else:
            self.reserved[benefit, year] += units
            self.open[appointment] = (member, benefit, year, units)
        self.accepted.append((command, member))

    @rule(
        member=st.sampled_from(MEMBERS),
        benefit=st.sampled_from(sorted(LIMITS)),
        units=st.integers(1, 4),
        hours=st.integers(0, 30),
    )
    def reserve(self, member: str, benefit: str, units: int, hours: int) -> None:
        self.draw(benefit, member, units, f"appt-{next(self.numbers)}", hours)

    @rule(
        member=st.sampled_from(MEMBERS),
        benefit=st.sampled_from(sorted(LIMITS)),
        units=st.integers(1, 3),
    )
    def use_without_reservation(self, member: str, benefit: str, units: int) -> None:
        self.draw(benefit, member, units, None, 0)

    def close(self, appointment: str, *, consume: bool) -> None:
        member, benefit, year, units = self.open.pop(appointment)
        key = f"close-{next(self.numbers)}"
        command: QuotaCommand = (
            ConsumeQuota(key=key, member_id=member, appointment_id=appointment)
            if consume
            else ReleaseQuota(
                key=key, member_id=member, appointment_id=appointment, reason="cancelled"
            )
        )
        (event,) = self.run(command, member)
        assert (event.benefit_key, event.units, event.period.key) == (
            benefit,
            units,
            f"year:{year}",
        )
        self.reserved[benefit, year] -= units
        if consume:
            self.consumed[benefit, year] += units
        self.accepted.append((command, member))

    @precondition(lambda self: self.open)
    @rule(data=st.data())
    def consume(self, data: st.DataObject) -> None:
        self.close(data.draw(st.sampled_from(sorted(self.open))), consume=True)

    @precondition(lambda self: self.open)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        self.close(data.draw(st.sampled_from(sorted(self.open))), consume=False)

    @precondition(lambda self: self.open)
    @rule(data=st.data(), member=st.sampled_from(MEMBERS))
    def someone_else_cannot_close_a_reservation(self, data: st.DataObject, member: str) -> None:
        appointment = data.draw(st.sampled_from(sorted(self.open)))
        if self.open[appointment][0] == member:
            return
        command = ConsumeQuota(
            key=f"c-{next(self.numbers)}", member_id=member, appointment_id=appointment
        )
        with pytest.raises(UnknownReservationError):
            self.run(command, member)

    @precondition(lambda self: self.accepted)
    @rule(data=st.data())
    def retry_an_accepted_command(self, data: st.DataObject) -> None:
        command, member = data.draw(st.sampled_from(self.accepted))
        assert self.run(command, member) == []

    @rule(minutes=st.integers(1, 60 * 30))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @invariant()
    def the_model_and_the_state_agree(self) -> None:
        for benefit, by_period in self.state.usage.items():
            for period_key, usage in by_period.items():
                year = int(period_key.removeprefix("year:"))
                assert usage.reserved == self.reserved[benefit, year]
                assert usage.consumed == self.consumed[benefit, year]
        assert set(self.state.reservations) == set(self.open)

    @invariant()
    def a_household_quota_is_never_exceeded(self) -> None:
        for benefit, by_period in self.state.usage.items():
            for usage in by_period.values():
                assert usage.reserved >= 0
                assert usage.reserved + usage.consumed <= LIMITS[benefit]

    @invariant()
    def replaying_the_journal_rebuilds_the_state(self) -> None:
        assert replay(HOUSEHOLD, self.journal) == self.state


HouseholdQuotas.TestCase.settings = settings(stateful_step_count=40)
test_household_quotas_are_never_exceeded_whatever_the_interleaving = HouseholdQuotas.TestCase
