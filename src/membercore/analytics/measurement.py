"""The programme measured: lifetime value, habits, the ladder, cohorts, staff, points.

:func:`measure` reads every patient's story and works out :class:`Measurement`: each
figure docs/analytics.md defines, as integers (money in fen, rates per mille, numbers of
days) apart from the projected lifetime value, whose model is stated there and in
:class:`ValueModel`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime

import attrs

from membercore.analytics.stories import Story
from membercore.analytics.tallies import DIMENSIONS, Tallies, month_of
from membercore.config import ProgrammeConfig
from membercore.dates import require_aware

__all__ = [
    "Cohort",
    "Ladder",
    "Liability",
    "Measurement",
    "Projection",
    "Rate",
    "StaffRow",
    "ValueModel",
    "ValueRow",
    "measure",
    "measurement_of",
]


def _share(part: int, whole: int) -> int:
    """``part`` of ``whole`` per mille, rounded half up (0 of none)."""
    return (part * 2000 + whole) // (2 * whole) if whole else 0


def _mean(total: int, count: int) -> int:
    """``total / count`` rounded half up (0 of none)."""
    return (total * 2 + count) // (2 * count) if count else 0


def _median(days: Counter[int]) -> int | None:
    """The lower median of counted values (``None`` when none were counted)."""
    count = sum(days.values())
    if not count:
        return None
    seen = 0
    for value in sorted(days):
        seen += days[value]
        if seen * 2 >= count:
            return value
    return None  # pragma: no cover - the loop always returns


@attrs.frozen(kw_only=True)
class Rate:
    """``part`` of ``whole``, with the share per mille (rounded half up)."""

    part: int
    whole: int

    @property
    def per_mille(self) -> int:
        """The share per mille."""
        return _share(self.part, self.whole)


@attrs.frozen(kw_only=True)
class ValueModel:
    """The assumptions of the projected lifetime value.

    Attributes:
        horizon_years: the years a patient's value is projected over, the first included.
        discount_per_mille: the yearly discount rate applied to later years' money.
        prior_patients: how much the hospital's own figure weighs in a group's, in
            patients: a group's first-year value, later-year value and retention are
            its own averages blended with the hospital's as if the hospital's were
            this many more of the group's patients (credibility weighting), so that a
            small group leans on the hospital and a large one on itself.
    """

    horizon_years: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    discount_per_mille: int = attrs.field(default=80, validator=attrs.validators.ge(0))
    prior_patients: int = attrs.field(default=30, validator=attrs.validators.ge(0))


@attrs.frozen(kw_only=True)
class ValueRow:
    """Lifetime value of the patients sharing one value of a dimension.

    Attributes:
        dimension: ``all``, ``channel``, ``department`` (of the first visit),
            ``condition`` (diagnosed at the first visit), ``segment`` or ``tier``.
        value: the dimension's value.
        patients: patients with a visit who have it.
        realised_fen: what they paid to date, on average.
        first_year_fen: what they paid in their first year, on average over those whose
            first year has ended, blended with the hospital's (:class:`ValueModel`);
            ``None`` while nobody's first year has ended.
        later_year_fen: what a patient active in a later year paid in it, on average,
            blended likewise (the first year's figure while no later year has ended).
        retention: per mille: of observed years in which they were active, those
            followed by an active year (or the repeat rate, see ``basis``), blended;
            ``None`` while nobody's first year has ended (nothing to divide).
        projected_fen: the projected lifetime value (:class:`ValueModel`); ``None``
            while nobody's first year has ended.
        basis: what stands for yearly retention: ``own`` (observed pairs of years),
            ``repeat`` (no second year has ended anywhere yet: the share returning
            within their first year).
    """

    dimension: str
    value: str
    patients: int
    realised_fen: int
    first_year_fen: int | None
    later_year_fen: int | None
    retention: int | None
    projected_fen: int | None
    basis: str


@attrs.frozen(kw_only=True)
class Ladder:
    """The loyalty ladder: first visit → paid member → family plan.

    Attributes:
        visited: patients with a completed visit.
        members: of them, those who ever paid for a plan.
        family: of those, those who ever paid for a family plan.
        family_first: of those, the ones whose first plan was a family plan.
        median_days_to_member: from the first visit to the first plan payment.
        median_days_to_family: of the others (who moved up from a plan of their own),
            from their first plan payment to their first family plan payment.
    """

    visited: int
    members: int
    family: int
    family_first: int
    median_days_to_member: int | None
    median_days_to_family: int | None


@attrs.frozen(kw_only=True)
class Cohort:
    """Patients whose first visit was in one month, and how many came back.

    Attributes:
        month: ``YYYY-MM``.
        patients: the cohort.
        retention: per mille of the cohort with a visit 1, 2, ... months later, up to
            the last month ended before the instant measured at.
    """

    month: str
    patients: int
    retention: tuple[int, ...]


@attrs.frozen(kw_only=True)
class StaffRow:
    """Plan sales credited to one member of staff (``""``: to nobody)."""

    staff: str
    enrolments: int
    renewals: int
    sales_fen: int


@attrs.frozen(kw_only=True)
class Liability:
    """Points held, and what they are expected to cost.

    Attributes:
        outstanding: points held by members now.
        earned: points ever earned; ``redeemed`` and ``expired`` likewise.
        breakage: per mille of points that left a balance by expiring rather than
            being redeemed.
        fen_per_100_points: what a hundred points bought in gifts (market value), from
            the redemptions (the catalogue's average when there were none).
        liability_fen: ``outstanding`` at that value, less breakage.
    """

    outstanding: int
    earned: int
    redeemed: int
    expired: int
    breakage: int
    fen_per_100_points: int
    liability_fen: int


@attrs.frozen(kw_only=True)
class Projection:
    """Next year's member revenue as members × active share × visits × ticket + fees.

    The inputs are last year's: at them, the product is last year's member revenue; a
    plan changes an input (:meth:`with_members`, say) and reads what follows.

    Attributes:
        members: patients holding a plan now.
        active: of them, those with a visit in the last year.
        visits: those members' visits in the last year.
        spend_fen: their out-of-pocket spend in the last year.
        fees_fen: plan money received in the last year.
    """

    members: int
    active: int
    visits: int
    spend_fen: int
    fees_fen: int

    @property
    def active_share(self) -> int:
        """Active members per mille of members."""
        return _share(self.active, self.members)

    @property
    def visits_per_active_x100(self) -> int:
        """Visits per active member, in hundredths."""
        return _mean(self.visits * 100, self.active)

    @property
    def ticket_fen(self) -> int:
        """Out-of-pocket spend per visit."""
        return _mean(self.spend_fen, self.visits)

    @property
    def fee_per_member_fen(self) -> int:
        """Plan money per member."""
        return _mean(self.fees_fen, self.members)

    @property
    def revenue_fen(self) -> int:
        """Members × active share × visits per active member × ticket, plus fees."""
        if not self.members:
            return 0
        per_member = self.spend_fen / self.members + self.fees_fen / self.members
        return round(self.members * per_member)

    def with_members(self, members: int) -> Projection:
        """The same habits over ``members`` members."""
        if not self.members:
            return attrs.evolve(self, members=members)
        scale = members / self.members
        return Projection(
            members=members,
            active=round(self.active * scale),
            visits=round(self.visits * scale),
            spend_fen=round(self.spend_fen * scale),
            fees_fen=round(self.fees_fen * scale),
        )


@attrs.frozen(kw_only=True)
class Measurement:
    """Every figure docs/analytics.md defines, at one instant.

    Attributes:
        at: the instant measured at.
        patients: member records; ``visited``: those with a completed visit.
        value: lifetime value by dimension value, ``all`` first.
        value_by_year: (year since the first visit, patients whose year has ended,
            what they had paid by its end on average).
        model: the projection's assumptions.
        renewal: subscriptions whose first term has ended, and those renewed.
        repurchase: patients whose first year has ended, and those with a second visit
            in it.
        departments_per_patient_x100: distinct departments per patient with a visit,
            in hundredths; ``cross_purchase``: patients seen in two or more.
        referral: patients with a visit, and those a member referred.
        referred_fen: what referred patients paid to date, on average;
            ``others_fen`` the other patients' average.
        referrers: members who referred someone, of all records; ``referrals`` in all.
        ladder: the loyalty ladder.
        cohorts: monthly cohorts, oldest first.
        member_spend_fen: last year's out-of-pocket spend of patients with a visit in
            it who hold a plan now, on average; ``other_spend_fen`` of the others;
            ``spend_ratio_x100`` the first over the second, in hundredths;
            ``member_spenders`` and ``other_spenders`` how many each is over.
        staff: plan sales by member of staff, most enrolments first.
        liability: the points.
        projection: the revenue projection and its inputs.
        tiers: (``YYYY-MM``, members by tier at the month's end) by month.
    """

    at: datetime
    patients: int
    visited: int
    value: tuple[ValueRow, ...]
    value_by_year: tuple[tuple[int, int, int], ...]
    model: ValueModel
    renewal: Rate
    repurchase: Rate
    departments_per_patient_x100: int
    cross_purchase: Rate
    referral: Rate
    referred_fen: int
    others_fen: int
    referrers: Rate
    referrals: int
    ladder: Ladder
    cohorts: tuple[Cohort, ...]
    member_spend_fen: int
    other_spend_fen: int
    spend_ratio_x100: int
    member_spenders: int
    other_spenders: int
    staff: tuple[StaffRow, ...]
    liability: Liability
    projection: Projection
    tiers: tuple[tuple[str, Mapping[str, int]], ...]


def measure(
    stories: Iterable[Story],
    config: ProgrammeConfig,
    now: datetime,
    model: ValueModel | None = None,
) -> Measurement:
    """The measurement of ``stories`` (streamed) at ``now``."""
    now = require_aware("now", now)
    sums = Tallies(now=now, tz=config.tz)
    for story in stories:
        sums.add(story)
    return measurement_of(sums, config, model or ValueModel())


def measurement_of(sums: Tallies, config: ProgrammeConfig, model: ValueModel) -> Measurement:
    """The measurement that tallies (of one shard or of many merged) come to."""
    referred_fen = _mean(sums.referred_fen, sums.referred)
    others = sums.realised_fen[("all", "all")] - sums.referred_fen
    member = _mean(sums.spend_fen[True], sums.spenders[True])
    other = _mean(sums.spend_fen[False], sums.spenders[False])
    return Measurement(
        at=sums.now,
        patients=sums.patients,
        visited=sums.visited,
        value=_value_rows(sums, model),
        value_by_year=tuple(
            (year, sums.observed[year], _mean(sums.cumulative_fen[year], sums.observed[year]))
            for year in sorted(sums.observed)
        ),
        model=model,
        renewal=Rate(part=sums.renewed, whole=sums.terms_ended),
        repurchase=Rate(part=sums.returned[("all", "all")], whole=sums.first_year[("all", "all")]),
        departments_per_patient_x100=_mean(sums.departments * 100, sums.visited),
        cross_purchase=Rate(part=sums.cross, whole=sums.visited),
        referral=Rate(part=sums.referred, whole=sums.visited),
        referred_fen=referred_fen,
        others_fen=_mean(others, sums.visited - sums.referred),
        referrers=Rate(part=sums.referrers, whole=sums.patients),
        referrals=sums.referrals,
        ladder=Ladder(
            visited=sums.visited,
            members=sums.members,
            family=sums.family,
            family_first=sums.family_first,
            median_days_to_member=_median(sums.days_to_member),
            median_days_to_family=_median(sums.days_to_family),
        ),
        cohorts=_cohorts(sums),
        member_spend_fen=member,
        other_spend_fen=other,
        spend_ratio_x100=_mean(member * 100, other),
        member_spenders=sums.spenders[True],
        other_spenders=sums.spenders[False],
        staff=_staff(sums),
        liability=_liability(sums, config),
        projection=Projection(
            members=sums.in_force,
            active=sums.spenders[True],
            visits=sums.visits_last_year[True],
            spend_fen=sums.spend_fen[True],
            fees_fen=sums.fees_last_year,
        ),
        tiers=_tiers(sums, config),
    )


def _value_rows(sums: Tallies, model: ValueModel) -> tuple[ValueRow, ...]:
    hospital = _Hospital.of(sums)
    rows = []
    for dimension in DIMENSIONS:
        keys = sorted(
            (key for key in sums.grouped if key[0] == dimension),
            key=lambda key: (-sums.grouped[key], key[1]),
        )
        for key in keys:
            rows.append(_value_row(sums, key, model, hospital))
    return tuple(rows)


@attrs.frozen
class _Hospital:
    """The hospital's own figures, which a group's are blended with."""

    first_year: float | None
    later: float | None
    retention: float | None
    basis: str

    @classmethod
    def of(cls, sums: Tallies) -> _Hospital:
        everyone = ("all", "all")
        first = _ratio(sums.first_year_fen[everyone], sums.first_year[everyone])
        later = _ratio(sums.later_fen[everyone], sums.later_active[everyone])
        if sums.retention_base[everyone]:
            kept = _ratio(sums.retained[everyone], sums.retention_base[everyone])
            return cls(first, first if later is None else later, kept or 0.0, "own")
        back = _ratio(sums.returned[everyone], sums.first_year[everyone])
        return cls(first, first if later is None else later, back, "repeat")


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _blend(total: float, count: int, prior: float, weight: int) -> float:
    """A group's average blended with the hospital's, which counts as ``weight`` patients."""
    if count + weight == 0:
        return prior
    return (total + prior * weight) / (count + weight)


def _value_row(
    sums: Tallies, key: tuple[str, str], model: ValueModel, hospital: _Hospital
) -> ValueRow:
    weight = model.prior_patients
    first_year = later = projected = None
    if hospital.first_year is not None:
        first = _blend(sums.first_year_fen[key], sums.first_year[key], hospital.first_year, weight)
        prior_later = hospital.later if hospital.later is not None else first
        late = _blend(sums.later_fen[key], sums.later_active[key], prior_later, weight)
        first_year, later = round(first), round(late)
    retention = None
    if hospital.retention is not None:  # else nobody's first year has ended yet
        if hospital.basis == "own":
            base, kept = sums.retention_base[key], sums.retained[key]
        else:
            base, kept = sums.first_year[key], sums.returned[key]
        retention = round(_blend(kept, base, hospital.retention, weight) * 1000)
    if first_year is not None and later is not None and retention is not None:
        projected = _project(first_year, later, retention, model)
    return ValueRow(
        dimension=key[0],
        value=key[1],
        patients=sums.grouped[key],
        realised_fen=_mean(sums.realised_fen[key], sums.grouped[key]),
        first_year_fen=first_year,
        later_year_fen=later,
        retention=retention,
        projected_fen=projected,
        basis=hospital.basis,
    )


def _project(first_year: int, later: int, retention: int, model: ValueModel) -> int:
    """First year + Σ later × retentionᵏ / (1 + discount)ᵏ over the horizon's later years."""
    keep = retention / 1000
    discount = 1 + model.discount_per_mille / 1000
    total = float(first_year)
    for year in range(1, model.horizon_years):
        total += later * keep**year / discount**year
    return round(total)


def _cohorts(sums: Tallies) -> tuple[Cohort, ...]:
    last = month_of(sums.now, sums.tz) - 1  # the last month ended
    cohorts = []
    for month in sorted(sums.cohorts):
        size = sums.cohorts[month]
        retention = tuple(
            _share(sums.cohort_active[(month, later)], size) for later in range(1, last - month + 1)
        )
        cohorts.append(Cohort(month=_label(month), patients=size, retention=retention))
    return tuple(cohorts)


def _label(month: int) -> str:
    year, index = divmod(month, 12)
    return f"{year:04d}-{index + 1:02d}"


def _staff(sums: Tallies) -> tuple[StaffRow, ...]:
    names = set(sums.enrolments) | set(sums.renewals)
    rows = [
        StaffRow(
            staff=name,
            enrolments=sums.enrolments[name],
            renewals=sums.renewals[name],
            sales_fen=sums.sales_fen[name],
        )
        for name in names
    ]
    return tuple(sorted(rows, key=lambda row: (-row.enrolments, -row.renewals, row.staff)))


def _liability(sums: Tallies, config: ProgrammeConfig) -> Liability:
    redeemed, expired = sums.points["redeemed"], sums.points["expired"]
    outstanding = sums.points["balance"]
    if sums.redeemed_points:
        per_100 = _mean(sums.redeemed_value_fen * 100, sums.redeemed_points)
    else:
        gifts = config.rewards.rewards
        per_100 = _mean(sum(g.value_fen for g in gifts) * 100, sum(g.points for g in gifts))
    breakage = _share(expired, expired + redeemed)
    liability = outstanding * per_100 * (1000 - breakage)
    return Liability(
        outstanding=outstanding,
        earned=sums.points["earned"],
        redeemed=redeemed,
        expired=expired,
        breakage=breakage,
        fen_per_100_points=per_100,
        liability_fen=_mean(liability, 100 * 1000),
    )


def _tiers(sums: Tallies, config: ProgrammeConfig) -> tuple[tuple[str, Mapping[str, int]], ...]:
    order = [level.key for level in config.tiers.levels]
    months = sorted({month for month, _ in sums.tiers})
    return tuple(
        (_label(month), {tier: sums.tiers[(month, tier)] for tier in order}) for month in months
    )
