"""Sums over patients' stories: what every measure is worked out from.

:class:`Tallies` adds one :class:`~membercore.analytics.stories.Story` at a time and
keeps only counts and sums keyed by a few small things (a dimension's value, a month, a
member of staff, a number of days), so its size does not grow with the number of
patients; tallies of shards of patients add up (:meth:`Tallies.merge`).

Time is counted from each patient's first completed visit, in years of 365 days: their
year *k* is ``[first + k years, first + (k + 1) years)``, and it is *observed* once it
has ended by the instant measured at. Months are calendar months in the programme's
timezone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import attrs

from membercore.analytics.stories import Story
from membercore.dates import local_month_start

__all__ = ["DIMENSIONS", "YEAR", "Tallies", "month_of"]

YEAR = timedelta(days=365)

#: What lifetime value is broken down by, and what a patient's value is when unknown.
DIMENSIONS: tuple[str, ...] = ("all", "channel", "department", "condition", "segment", "tier")

#: How a dimension's value reads when the history does not say it.
UNKNOWN = "unknown"
NONE = "none"


def month_of(at: datetime, tz: ZoneInfo) -> int:
    """The calendar month ``at`` falls in, as ``year * 12 + month - 1`` in ``tz``."""
    local = at.astimezone(tz)
    return local.year * 12 + local.month - 1


def _month_end(month: int, tz: ZoneInfo) -> datetime:
    """The first instant after the month ``month`` (as :func:`month_of` counts them)."""
    year, index = divmod(month, 12)
    return local_month_start(year, index + 2, tz)


def values_of(story: Story) -> dict[str, tuple[str, ...]]:
    """The patient's value of each dimension (several conditions count in each)."""
    channel = story.source or ("referral" if story.referred_by else UNKNOWN)
    return {
        "all": ("all",),
        "channel": (channel,),
        "department": (story.first_department or UNKNOWN,),
        "condition": story.first_conditions or (NONE,),
        "segment": (story.segment or UNKNOWN,),
        "tier": (story.tier,),
    }


@attrs.define
class Tallies:
    """Counts and sums over patients (see each measure's definition in docs/analytics.md).

    Keys of the per-dimension counters are ``(dimension, value)``.

    Attributes:
        now: the instant measured at.
        tz: the programme's timezone (for months).
        patients: member records.
        grouped: patients with a visit, by dimension value.
        realised_fen: what they paid to date (out of pocket and plans, net of refunds).
        first_year: patients whose first year is observed, by dimension value.
        first_year_fen: what those paid in their first year.
        later_active: observed later years (the second on) in which a patient was active.
        later_fen: what was paid in them.
        retention_base: observed consecutive years (*k*, *k* + 1) with *k* active.
        retained: of those, the ones with *k* + 1 active too.
        returned: patients whose first year is observed, with a second visit in it.
        observed: patients by the years observed (year *k* counts those with *k* done).
        cumulative_fen: what they paid by the end of year *k*.
        departments: distinct departments seen, summed over patients with a visit.
        cross: patients with a visit who were seen in two departments or more.
        referred: patients referred by a member; ``referred_fen`` their value to date.
        referrers: patients who referred someone; ``referrals`` how many in all.
        members: patients with a visit who ever paid for a plan.
        family: of them, those who ever paid for a family plan.
        days_to_member: days from the first visit to the first plan payment, counted.
        family_first: of those, the ones whose first plan was a family plan.
        days_to_family: days from the first plan payment to the first family plan
            payment of the others (who moved up to a family plan), counted.
        cohorts: patients by the month of their first visit.
        cohort_active: patients by (first month, months since) with a visit then.
        spend_fen: out-of-pocket spend in the last year of patients with a visit in
            it, by whether they hold a plan now; ``spenders`` how many.
        visits_last_year: their visits in the last year, likewise.
        fees_last_year: plan money received in the last year.
        enrolments: first plan payments by the member of staff credited (``""``:
            nobody); ``renewals`` likewise; ``sales_fen`` what they brought.
        tiers: members by (month, tier) at each month's end, from their first visit to
            the last month ended.
        in_force: patients holding a plan now.
        terms_ended: subscriptions whose first term has ended; ``renewed`` of them.
        points: ``earned``, ``redeemed``, ``expired`` and ``balance`` summed.
        redeemed_value_fen: the market value of gifts redeemed; ``redeemed_points``
            the points they cost.
    """

    now: datetime
    tz: ZoneInfo
    patients: int = 0
    grouped: Counter[tuple[str, str]] = attrs.field(factory=Counter)
    realised_fen: Counter[tuple[str, str]] = attrs.field(factory=Counter)
    first_year: Counter[tuple[str, str]] = attrs.field(factory=Counter)
    first_year_fen: Counter[tuple[str, str]] = attrs.field(factory=Counter)
    later_active: Counter[tuple[str, str]] = attrs.field(factory=Counter)
    later_fen: Counter[tuple[str, str]] = attrs.field(factory=Counter)
    retention_base: Counter[tuple[str, str]] = attrs.field(factory=Counter)
    retained: Counter[tuple[str, str]] = attrs.field(factory=Counter)
    returned: Counter[tuple[str, str]] = attrs.field(factory=Counter)
    observed: Counter[int] = attrs.field(factory=Counter)
    cumulative_fen: Counter[int] = attrs.field(factory=Counter)
    departments: int = 0
    cross: int = 0
    referred: int = 0
    referred_fen: int = 0
    referrers: int = 0
    referrals: int = 0
    members: int = 0
    family: int = 0
    family_first: int = 0
    days_to_member: Counter[int] = attrs.field(factory=Counter)
    days_to_family: Counter[int] = attrs.field(factory=Counter)
    cohorts: Counter[int] = attrs.field(factory=Counter)
    cohort_active: Counter[tuple[int, int]] = attrs.field(factory=Counter)
    spend_fen: Counter[bool] = attrs.field(factory=Counter)
    spenders: Counter[bool] = attrs.field(factory=Counter)
    visits_last_year: Counter[bool] = attrs.field(factory=Counter)
    fees_last_year: int = 0
    enrolments: Counter[str] = attrs.field(factory=Counter)
    renewals: Counter[str] = attrs.field(factory=Counter)
    sales_fen: Counter[str] = attrs.field(factory=Counter)
    tiers: Counter[tuple[int, str]] = attrs.field(factory=Counter)
    in_force: int = 0
    terms_ended: int = 0
    renewed: int = 0
    points: Counter[str] = attrs.field(factory=Counter)
    redeemed_value_fen: int = 0
    redeemed_points: int = 0

    @property
    def visited(self) -> int:
        """Patients with a completed visit (every one is in the group ``all``)."""
        return self.grouped[("all", "all")]

    def add(self, story: Story) -> None:
        """Count one patient."""
        self.patients += 1
        self._programme(story)
        first = story.first_visit
        if first is None:
            return
        keys = [(dim, value) for dim, values in values_of(story).items() for value in values]
        self._value(story, first, keys)
        self._habits(story, first)
        self._ladder(story, first)
        self._cohort(story, first)
        self._tiers(story, first)

    def _programme(self, story: Story) -> None:
        since = self.now - YEAR
        for sale in story.sales:
            staff = sale.staff or ""
            (self.renewals if sale.renewal else self.enrolments)[staff] += 1
            self.sales_fen[staff] += sale.fen
        self.fees_last_year += sum(fen for at, fen in story.fees if since <= at <= self.now)
        self.in_force += bool(story.in_force)
        self.terms_ended += story.terms_ended
        self.renewed += story.renewed
        self.points.update(
            earned=story.earned,
            redeemed=story.redeemed,
            expired=story.expired,
            balance=story.balance,
        )
        self.redeemed_value_fen += story.redeemed_value_fen
        self.redeemed_points += story.redeemed_points
        self.referrers += story.referrals > 0
        self.referrals += story.referrals

    def _value(self, story: Story, first: datetime, keys: list[tuple[str, str]]) -> None:
        by_year: Counter[int] = Counter()
        for at, fen in story.revenue():
            if at <= self.now:
                by_year[max((at - first) // YEAR, 0)] += fen
        active = {max((at - first) // YEAR, 0) for at in story.visits if at <= self.now}
        active |= {year for year, fen in by_year.items() if fen > 0}
        done = max((self.now - first) // YEAR, 0)  # years observed
        total = sum(by_year.values())
        running = 0
        for year in range(done):
            running += by_year[year]
            self.observed[year] += 1
            self.cumulative_fen[year] += running
        returned = sum(1 for at in story.visits if first < at < first + YEAR) > 0
        for key in keys:
            self.grouped[key] += 1
            self.realised_fen[key] += total
            if done >= 1:
                self.first_year[key] += 1
                self.first_year_fen[key] += by_year[0]
                self.returned[key] += returned
            for year in range(1, done):
                if year in active:
                    self.later_active[key] += 1
                    self.later_fen[key] += by_year[year]
            for year in range(done - 1):
                if year in active:
                    self.retention_base[key] += 1
                    self.retained[key] += year + 1 in active
        if story.referred_by:
            self.referred += 1
            self.referred_fen += total

    def _habits(self, story: Story, first: datetime) -> None:
        self.departments += len(story.departments)
        self.cross += len(story.departments) >= 2
        since = self.now - YEAR
        recent = [at for at in story.visits if since <= at <= self.now]
        if recent:
            holds = bool(story.in_force)
            spent = sum(fen for at, fen in story.spend if since <= at <= self.now)
            self.spend_fen[holds] += max(spent, 0)
            self.spenders[holds] += 1
            self.visits_last_year[holds] += len(recent)

    def _ladder(self, story: Story, first: datetime) -> None:
        if story.member_since is None:
            return
        self.members += 1
        self.days_to_member[max((story.member_since - first).days, 0)] += 1
        if story.family_since is None:
            return
        self.family += 1
        if story.family_since <= story.member_since:
            self.family_first += 1  # a family plan was their first
        else:
            self.days_to_family[(story.family_since - story.member_since).days] += 1

    def _cohort(self, story: Story, first: datetime) -> None:
        start = month_of(first, self.tz)
        self.cohorts[start] += 1
        months = {month_of(at, self.tz) for at in story.visits if at <= self.now}
        for month in months:
            if month > start:
                self.cohort_active[(start, month - start)] += 1

    def _tiers(self, story: Story, first: datetime) -> None:
        changes = list(story.tier_changes)
        tier = story.first_tier
        current = month_of(self.now, self.tz)  # under way: its end is still to come
        for month in range(month_of(first, self.tz), current):
            end = _month_end(month, self.tz)
            while changes and changes[0][0] <= end:
                tier = changes.pop(0)[1]
            self.tiers[(month, tier)] += 1

    def merge(self, other: Tallies) -> None:
        """Add another shard's tallies (measured at the same instant) to these."""
        for field in attrs.fields(Tallies):
            if field.name in ("now", "tz"):
                continue
            mine, theirs = getattr(self, field.name), getattr(other, field.name)
            if isinstance(mine, Counter):
                mine.update(theirs)
            else:
                setattr(self, field.name, mine + theirs)


def tally(stories: Iterable[Story], now: datetime, tz: ZoneInfo) -> Tallies:
    """The tallies of ``stories`` at ``now``."""
    sums = Tallies(now=now, tz=tz)
    for story in stories:
        sums.add(story)
    return sums
