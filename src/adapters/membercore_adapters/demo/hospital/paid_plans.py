"""Paid plans: who buys which, their payments, renewals, lapses and cancellations."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from membercore.config import Plan, ProgrammeConfig
from membercore.dates import add_months
from membercore.experiments import variant_for
from membercore.households import ADULT_AGE
from membercore.plans import AddCoveredDependent, Cancel, RecordPayment, Renew, Subscribe
from membercore.plans.terms import grace_end
from membercore_adapters.demo.hospital.catalogue import FAMILY
from membercore_adapters.demo.hospital.households import Households
from membercore_adapters.demo.hospital.patient import Patient
from membercore_adapters.demo.hospital.records import Records
from membercore_adapters.demo.hospital.schedule import DAY, HOUR, MINUTE, Dice, Schedule
from membercore_adapters.demo.hospital.spec import HospitalSpec

__all__ = ["PREMIUM", "PaidPlans", "Term"]

#: The premium annual card, the one the demo's price test quotes two ways.
PREMIUM = "annual_999"


@attrs.frozen
class Term:
    """A subscription's current term.

    Attributes:
        patient: the member holding the subscription.
        subscription: its id.
        plan_key: the plan subscribed to.
        anchor: the second the first term started (-1 until the first payment).
        months: the months paid for since the anchor.
    """

    patient: Patient
    subscription: str
    plan_key: str
    anchor: int = -1
    months: int = 0


@attrs.frozen
class PaidPlans:
    """Sells the programme's plans and keeps each subscription going until it ends.

    Attributes:
        plans: the programme's plans, by key.
        pay_window: seconds a subscription waits for its first payment.
        sellers: the health managers a sale may be attributed to.
        programme: the programme, whose experiments quote some patients other plans.
    """

    spec: HospitalSpec
    dice: Dice
    clock: Schedule
    records: Records
    households: Households
    plans: Mapping[str, Plan]
    pay_window: int
    sellers: tuple[str, ...]
    programme: ProgrammeConfig

    def plans_of(self, patient: Patient) -> Mapping[str, Plan]:
        """The plans as the patient is quoted them: their experiments' variants.

        The engine assigns by the same hash, at the first visit, before any plan but the
        monthly one is bought here.
        """
        chosen = [(e.key, variant_for(e, patient.pid).key) for e in self.programme.experiments]
        config = self.programme.variant_config(chosen)
        return self.plans if config is self.programme else {p.key: p for p in config.plans.plans}

    def _quoted_monthly(self, patient: Patient) -> bool:
        plan = self.plans_of(patient).get(PREMIUM)
        return plan is not None and plan.term_months == 1

    def enrol(self, patient: Patient, age: int) -> None:
        """Some adults who use the app take the monthly plan."""
        if (
            age >= ADULT_AGE
            and patient.engagement
            and self.dice.chance(self.spec.monthly_plan_share)
        ):
            self.clock.on(3, 120, self.subscribe, patient, "monthly_99")

    def after_first_visit(self, patient: Patient) -> None:
        """Some adults buy an annual plan after their first visit."""
        if patient.age(self.clock.today()) >= ADULT_AGE and self.dice.chance(
            self.spec.annual_plan_share
        ):
            draw = self.dice.rng.random()
            plan = "annual_299" if draw < 0.25 else "annual_599" if draw < 0.8 else PREMIUM
            self.clock.within(2 * HOUR, 7 * DAY, self.subscribe, patient, plan)
        elif patient.age(self.clock.today()) >= ADULT_AGE and self._quoted_monthly(patient):
            # Quoted 99 元 a month instead of 999 元 at once, some who would have bought
            # no card take the premium one: a fifth of buyers take it, lifted so.
            share = self.spec.annual_plan_share
            extra = share * 0.2 * self.spec.price_test_lift / max(1 - share, 1e-9)
            if self.dice.chance(min(extra, 1.0)):
                self.clock.within(2 * HOUR, 7 * DAY, self.subscribe, patient, PREMIUM)

    def family_open(self, head: Patient) -> bool:
        """Whether the head holds an open family plan."""
        return head.family_sub is not None and head.open_until[FAMILY] > self.clock.now

    def cover(self, head: Patient, patient: Patient) -> None:
        """Cover a relative who registers under the head's open family plan, if it has room."""
        if self.family_open(head) and len(head.covered) < self.plans[FAMILY].max_dependents:
            head.covered.append(patient.pid)
            self.records.command(
                AddCoveredDependent,
                member_id=head.pid,
                subscription_id=head.family_sub,
                dependent_id=patient.pid,
            )

    def offer_family(self, head: Patient) -> None:
        """A head who wants the family plan buys it some time after a relative registers."""
        if head.wants_family_plan:
            head.wants_family_plan = False
            self.clock.within(DAY, 60 * DAY, self.subscribe, head, FAMILY)

    def is_open(self, patient: Patient, plan_key: str) -> bool:
        """Whether the patient holds the plan (or, for an annual one, any annual plan)."""
        # One annual plan at a time, and one subscription per plan.
        family = "annual" if plan_key.startswith("annual") else plan_key
        return any(
            until > self.clock.now
            for key, until in patient.open_until.items()
            if key.startswith(family)
        )

    def subscribe(self, patient: Patient, plan_key: str) -> None:
        """Subscribe to the plan, unless already holding it; most then pay."""
        if self.is_open(patient, plan_key):
            return
        dependents = self._dependents(patient) if plan_key == FAMILY else ()
        subscription = self.records.subscription_id()
        seller = self.dice.rng.choice(self.sellers) if self.dice.chance(0.6) else None
        self.records.command(
            Subscribe,
            member_id=patient.pid,
            subscription_id=subscription,
            plan_key=plan_key,
            dependents=dependents,
            attributed_to=seller,
        )
        patient.open_until[plan_key] = self.clock.now + self.pay_window
        if plan_key == FAMILY:
            patient.family_sub, patient.covered = subscription, list(dependents)
        # A few never pay, and the request lapses at the end of the payment window.
        if self.dice.chance(0.93):
            term = Term(patient, subscription, plan_key)
            self.clock.within(5 * MINUTE, 40 * HOUR, self.pay, term)

    def _dependents(self, head: Patient) -> tuple[str, ...]:
        relatives = [relative for relative in head.relatives if relative.registered]
        for relative in relatives:
            self.households.add(head, relative)
        return tuple(r.pid for r in relatives[: self.plans[FAMILY].max_dependents])

    def pay(self, term: Term) -> None:
        """Pay for the next term, then renew, cancel or let the plan lapse later on."""
        plan, clock = self.plans_of(term.patient)[term.plan_key], self.clock
        self.records.command(
            RecordPayment,
            member_id=term.patient.pid,
            subscription_id=term.subscription,
            amount_fen=plan.price_fen,
            paid_at=clock.instant,
        )
        anchor = clock.now if term.anchor < 0 else term.anchor
        term = attrs.evolve(term, anchor=anchor, months=term.months + plan.term_months)
        end_instant = add_months(clock.instant_at(anchor), term.months, clock.tz)
        end = int((end_instant - clock.origin).total_seconds())
        grace_instant = grace_end(end_instant, plan.grace_days, clock.tz)
        grace = int((grace_instant - clock.origin).total_seconds())
        term.patient.open_until[term.plan_key] = grace
        self._after_payment(term, plan, end, grace)

    def _after_payment(self, term: Term, plan: Plan, end: int, grace: int) -> None:
        spec, clock, draw = self.spec, self.clock, self.dice.rng.random()
        if draw < spec.cancel_share:
            now = clock.now
            cancel = self.dice.uniform(now + DAY, max(now + DAY, end - 2 * DAY))
            clock.push(cancel, self.cancel, term)
        elif plan.auto_renew:
            if draw >= spec.cancel_share + spec.monthly_churn:
                self._next_month(term, plan, end, grace)
        elif draw < spec.cancel_share + spec.renewal_share:
            self._next_year(term, end, grace)
        elif self.dice.chance(0.12):
            # Won back some weeks after the plan expired.
            later = grace + self.dice.uniform(7 * DAY, 40 * DAY)
            clock.push(later, self.subscribe, term.patient, term.plan_key)

    def _next_month(self, term: Term, plan: Plan, end: int, grace: int) -> None:
        uniform = self.dice.uniform
        if self.dice.chance(0.25):
            # Paying the next month ahead, from the app.
            self.clock.push(end - uniform(DAY, 4 * DAY), self.renew, term, grace)
        else:
            # Paid once the renewal falls due at the term's end, within grace.
            pay = end + uniform(10 * MINUTE, (plan.grace_days * 24 - 12) * HOUR)
            self.clock.push(pay, self.pay, term)

    def _next_year(self, term: Term, end: int, grace: int) -> None:
        uniform = self.dice.uniform
        if self.dice.chance(0.65):
            self.clock.push(end - uniform(12 * HOUR, 25 * DAY), self.renew, term, grace)
        else:
            renew = end + uniform(HOUR, max(2 * HOUR, grace - end - 3 * DAY))
            self.clock.push(renew, self.renew, term, grace)

    def renew(self, term: Term, grace: int) -> None:
        """Renew the subscription, and pay before its grace runs out."""
        clock = self.clock
        self.records.command(Renew, member_id=term.patient.pid, subscription_id=term.subscription)
        # Paid before grace runs out: a renewal unpaid by then lets the subscription expire.
        pay = min(clock.now + self.dice.uniform(10 * MINUTE, 36 * HOUR), grace - HOUR)
        clock.push(max(pay, clock.now + MINUTE), self.pay, term)

    def cancel(self, term: Term) -> None:
        """Cancel the subscription, giving a reason."""
        reasons = ("moved away", "too expensive", "not using it", "unhappy")
        reason = self.dice.rng.choice(reasons)
        patient = term.patient
        self.records.command(
            Cancel, member_id=patient.pid, subscription_id=term.subscription, reason=reason
        )
        patient.open_until[term.plan_key] = self.clock.now
        if term.plan_key == FAMILY:
            patient.family_sub, patient.covered = None, []
