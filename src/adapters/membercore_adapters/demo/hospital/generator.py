"""The generator: the hospital's pieces wired together, and the day that drives them."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime

import attrs

from membercore.config import ProgrammeConfig
from membercore.dates import add_months
from membercore.service.engine import Message
from membercore_adapters.demo.hospital.app import App
from membercore_adapters.demo.hospital.care import Care
from membercore_adapters.demo.hospital.checkups import Checkups
from membercore_adapters.demo.hospital.chronic import Chronic
from membercore_adapters.demo.hospital.consents import Consents
from membercore_adapters.demo.hospital.elective import Elective
from membercore_adapters.demo.hospital.households import Households
from membercore_adapters.demo.hospital.inpatient import Inpatient, Rehab
from membercore_adapters.demo.hospital.maternity import Maternity
from membercore_adapters.demo.hospital.outpatient import Outpatient
from membercore_adapters.demo.hospital.paid_plans import PaidPlans
from membercore_adapters.demo.hospital.points import Points
from membercore_adapters.demo.hospital.population import Population
from membercore_adapters.demo.hospital.records import Records
from membercore_adapters.demo.hospital.registration import Registration
from membercore_adapters.demo.hospital.schedule import DAY, HOUR, Dice, Schedule
from membercore_adapters.demo.hospital.spec import HospitalSpec
from membercore_adapters.demo.hospital.surgery import Surgery
from membercore_adapters.demo.programme import demo_programme

__all__ = ["Hospital", "messages", "timed_messages"]


def messages(spec: HospitalSpec) -> Iterator[Message]:
    """The hospital's facts and member commands, in non-decreasing time order.

    Args:
        spec: the hospital.

    Returns:
        A lazy iterator over membercore facts and commands.
    """
    return Hospital.of(spec).run()


def timed_messages(spec: HospitalSpec) -> Iterator[tuple[datetime, Message]]:
    """Each message of :func:`messages` with the instant it happens (aware, in UTC).

    Args:
        spec: the hospital.

    Returns:
        A lazy iterator over ``(instant, message)`` pairs, instants non-decreasing.
    """
    hospital = Hospital.of(spec)
    for message in hospital.run():
        yield hospital.clock.instant, message


@attrs.frozen
class Hospital:
    """The synthetic hospital: its clock, what it writes down, who comes, and the app."""

    clock: Schedule
    records: Records
    population: Population
    app: App

    @classmethod
    def of(cls, spec: HospitalSpec) -> Hospital:
        """The hospital of ``spec``, before its first day."""
        config = demo_programme()
        clock = _clock(spec, config, Dice(random.Random(spec.seed)))
        records = Records(clock)
        points = Points(clock.dice, clock, records)
        plans = _plans(spec, config, records, Households(clock, records))
        app = App(spec, clock.dice, clock, records, points)
        care = Care(spec, clock.dice, clock, records, points, app, plans)
        registration = _front_desk(spec, plans, app, care)
        return cls(clock, records, Population(spec, clock.dice, clock, registration), app)

    def run(self) -> Iterator[Message]:
        """The messages; each is emitted at ``clock.instant`` as it is yielded."""
        self.clock.push(0, self.day, 0)
        yield from self.clock.run(self.records.out)

    def day(self, day: int) -> None:
        """Day ``day``: the day's arrivals and events, and the next day."""
        self.population.arrive(day)
        self.app.plan_events(day)
        self.clock.push((day + 1) * DAY, self.day, day + 1)


def _clock(spec: HospitalSpec, config: ProgrammeConfig, dice: Dice) -> Schedule:
    """The clock of the period, from the start of its first day."""
    origin = spec.start.astimezone(UTC)
    end = add_months(spec.start, spec.months, config.tz) - origin
    return Schedule(
        dice=dice,
        origin=origin,
        first_day=spec.start.date(),
        end=int(end.total_seconds()),
        tz=config.tz,
    )


def _plans(
    spec: HospitalSpec, config: ProgrammeConfig, records: Records, households: Households
) -> PaidPlans:
    """The programme's plans, sold by its health managers."""
    return PaidPlans(
        spec=spec,
        dice=records.clock.dice,
        clock=records.clock,
        records=records,
        households=households,
        plans={plan.key: plan for plan in config.plans.plans},
        pay_window=config.plans.payment_window_hours * HOUR,
        sellers=tuple(m.key for m in config.staff.with_role("health_manager")),
        programme=config,
    )


def _front_desk(spec: HospitalSpec, plans: PaidPlans, app: App, care: Care) -> Registration:
    """Registration, with the pathways a patient may enter."""
    dice, clock, records = care.dice, care.clock, care.records
    outpatient = Outpatient(spec, dice, clock, care, care.points)
    wards = Inpatient(spec, dice, clock, records, care, plans)
    rehab = Rehab(clock, records, care, care.points)
    # Asked in this order at each registration: the draws depend on it.
    pathways = (
        Chronic(spec, dice, clock, records, care, plans),
        Maternity(spec, dice, clock, records, care, wards, rehab),
        Surgery(spec, dice, clock, records, care, wards, rehab, plans),
        Elective(spec, dice, clock, care),
        Checkups(spec, dice, clock, records, care, outpatient),
        wards,
        plans,
    )
    return Registration(
        dice=dice,
        clock=clock,
        records=records,
        households=plans.households,
        consents=Consents(spec, dice, clock, records),
        plans=plans,
        app=app,
        outpatient=outpatient,
        pathways=pathways,
    )
