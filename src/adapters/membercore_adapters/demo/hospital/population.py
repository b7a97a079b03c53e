"""The population: patients arriving day by day, alone or with their families.

A quarter come in the first month (the hospital's existing base), the others steadily
over the rest of the period, so that every patient registers before it ends.
"""

from __future__ import annotations

from datetime import timedelta

import attrs

from membercore.consent import GUARDIAN_AGE, Channel
from membercore.facts import Sex
from membercore.households import Relationship
from membercore_adapters.demo.hospital.patient import BLOCK, Patient
from membercore_adapters.demo.hospital.registration import Registration
from membercore_adapters.demo.hospital.schedule import DAY, HOUR, MINUTE, Dice, Schedule
from membercore_adapters.demo.hospital.spec import HospitalSpec

__all__ = ["Population"]


@attrs.frozen
class _Relative:
    """A relative a newcomer brings: their age, sex and relationship to the newcomer."""

    age: int
    sex: Sex
    relationship: Relationship


@attrs.frozen
class Population:
    """Who comes to the hospital, and when they register.

    Attributes:
        patients: every patient so far, in the order of their ids (the list grows).
    """

    spec: HospitalSpec
    dice: Dice
    clock: Schedule
    registration: Registration
    patients: list[Patient] = attrs.field(factory=list)

    def arrive(self, day: int) -> None:
        """The families who arrive on day ``day``, their registrations scheduled."""
        target = self._target(day)
        while len(self.patients) < target:
            self._new_family(day)

    def _target(self, day: int) -> float:
        """The patients there are to be by the end of day ``day``."""
        spec, days = self.spec, self.clock.days
        first = min(30, days)
        share = spec.first_month_share * min(day + 1, first) / first
        if day >= first:
            share += (1 - spec.first_month_share) * (day + 1 - first) / max(1, days - first)
        return spec.patients if day == days - 1 else min(spec.patients * share, spec.patients)

    def _new_family(self, day: int) -> None:
        spec, dice = self.spec, self.dice
        room = spec.patients - len(self.patients)
        sex: Sex = "female" if dice.chance(0.55) else "male"
        wanted: list[_Relative] = []
        if room > 1 and dice.chance(spec.family_share):
            age = dice.uniform(28, 58)
            wanted = self._in_one_block(day, self._relatives(age, sex, room))
        else:
            age = self._single_age()
        head = self._new_patient(day, age, sex)
        for wish in wanted:
            relative = self._new_patient(day, wish.age, wish.sex)
            relative.head, relative.relationship = head, wish.relationship
            head.relatives.append(relative)
        head.wants_family_plan = bool(wanted) and dice.chance(spec.family_plan_share)
        self._arrive(day, head)

    def _relatives(self, age: int, sex: Sex, room: int) -> list[_Relative]:
        """The relatives a newcomer of ``age`` brings: a spouse, children, parents."""
        uniform, chance = self.dice.uniform, self.dice.chance
        other: Sex = "male" if sex == "female" else "female"
        wanted: list[_Relative] = []
        spouse = _Relative(max(20, age + uniform(-4, 5)), other, "spouse")
        if chance(0.85):
            wanted.append(spouse)
        for _ in range(uniform(0, 3.4) if age >= 24 else 0):
            child: Sex = "female" if chance(0.5) else "male"
            wanted.append(_Relative(uniform(0, min(age - 22, 30) + 1), child, "child"))
        if chance(0.35):
            for parent in (other, sex)[: uniform(1, 3)]:
                wanted.append(_Relative(min(95, age + uniform(24, 35)), parent, "parent"))
        return (wanted or [spouse])[: room - 1]

    def _in_one_block(self, day: int, wanted: list[_Relative]) -> list[_Relative]:
        """The family, kept to one block of ids (see ``shard_of``).

        The rest of the block goes to patients who come alone, or, at the very end, the
        family is smaller.
        """
        room = self.spec.patients - len(self.patients)
        free = BLOCK - len(self.patients) % BLOCK
        if 1 + len(wanted) > free:
            if free + 1 + len(wanted) <= room:
                for _ in range(free):
                    self._arrive(day, self._new_single(day))
            else:
                wanted = wanted[: free - 1]
        return wanted

    def _single_age(self) -> int:
        draw = self.dice.rng.random()
        low, high = (18, 35) if draw < 0.35 else (35, 60) if draw < 0.75 else (60, 88)
        return self.dice.uniform(low, high)

    def _new_single(self, day: int) -> Patient:
        sex: Sex = "female" if self.dice.chance(0.55) else "male"
        return self._new_patient(day, self.dice.uniform(18, 88), sex)

    def _new_patient(self, day: int, age: int, sex: Sex) -> Patient:
        today = self.clock.date_of(day)
        birth = today - timedelta(days=int((age + self.dice.rng.random()) * 365.25))
        patient = Patient(len(self.patients) + 1, birth, sex)
        self.patients.append(patient)
        patient.insured = self.dice.chance(self.spec.insured_share)
        patient.engagement = self._engagement(age)
        patient.channel = self._channel(age)
        return patient

    def _engagement(self, age: int) -> int:
        """How much a patient of ``age`` uses the member app: 0 (never) to 3."""
        dice = self.dice
        if age >= GUARDIAN_AGE and dice.chance(self.spec.engaged_share * (0.5 if age >= 70 else 1)):
            draw = dice.rng.random()
            return 3 if draw < 0.15 else 2 if draw < 0.45 else 1
        return 0

    def _channel(self, age: int) -> Channel:
        """The channel a patient of ``age`` prefers."""
        draw = self.dice.rng.random()
        if age >= 65:
            return "phone" if draw < 0.35 else "sms" if draw < 0.7 else "wecom"
        return "wecom" if draw < 0.65 else "sms" if draw < 0.9 else "email"

    def _arrive(self, day: int, head: Patient) -> None:
        """Schedule the registrations of a head and their relatives, on day ``day`` or after."""
        clock, dice = self.clock, self.dice
        # Everyone registers before the period ends, so that every id is in the stream.
        last = clock.end - HOUR
        arrival = min(clock.business(day * DAY, 8.0, 19.0), last - HOUR)
        clock.push(arrival, self.registration.register, head)
        for relative in head.relatives:
            if relative.relationship == "child" and dice.chance(0.4):
                when = arrival + dice.uniform(5 * MINUTE, HOUR)
            else:
                when = clock.business(arrival + int(dice.rng.expovariate(1 / 40) * DAY))
            clock.push(
                min(max(when, arrival + 5 * MINUTE), last), self.registration.register, relative
            )
