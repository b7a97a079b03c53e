"""Entitlements: which benefits a member may use now, and which packages grant them.

A member's :class:`Standing` (tier, active plans, programmes, household) is computed by
the caller from the tier and plan parts; this module only reads the packages of the
programme. A package attached to a tier is granted to that tier and, when ``cumulative``,
to every tier above it; a plan's package to its subscribers; a programme's package to its
enrolled members.

The same benefit key granted by several packages is **one** entitlement that lists every
source and keeps the most generous version of the benefit (see :func:`entitlements`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import attrs

from membercore.checks import non_empty
from membercore.config import Benefit, BenefitPackage, ProgrammeConfig
from membercore.dates import as_utc
from membercore.errors import InvalidFactError, NaiveInstantError

__all__ = ["Entitlement", "Source", "Standing", "entitlements", "find_entitlement", "holder_of"]

Term = tuple[datetime, datetime]


def _utc_terms(value: Mapping[str, Term]) -> dict[str, Term]:
    # Held in UTC so that equal standings compare (and fingerprint) equal.
    return {plan: (as_utc(start), as_utc(end)) for plan, (start, end) in value.items()}


def _valid_terms(instance: Any, _attribute: Any, value: Mapping[str, Term]) -> None:
    for plan, (start, end) in value.items():
        for name, instant in (("start", start), ("end", end)):
            if instant.tzinfo is None or instant.utcoffset() is None:
                raise NaiveInstantError(f"plan_terms[{plan!r}].{name}", instant)
        if end <= start:
            raise InvalidFactError(
                instance.TYPE,
                f"plan_terms[{plan!r}]",
                (start, end),
                "a term must end after it starts",
            )


@attrs.frozen(kw_only=True)
class Standing:
    """What a member holds at an instant, as far as benefits are concerned.

    Plain values the caller computes from the tier ladder, the member's subscriptions and
    enrolments and their household, so that benefits depend on no other part's state.

    Attributes:
        member_id: the member.
        tier: their tier key now (e.g. ``L3``).
        plans: the paid plans active now (e.g. ``("annual_599",)``).
        programmes: the disease programmes they are enrolled in (e.g. ``("diabetes",)``).
        household_id: their household, whose members share ``shared_by_household``
            quotas; ``None`` when they belong to none.
        plan_terms: for each active plan, its current term ``(start, end)``, aware
            instants, end excluded; the period of a ``term`` quota.
    """

    TYPE: ClassVar[str] = "standing"

    member_id: str = attrs.field(validator=non_empty)
    tier: str = attrs.field(validator=non_empty)
    plans: tuple[str, ...] = ()
    programmes: tuple[str, ...] = ()
    household_id: str | None = None
    plan_terms: Mapping[str, Term] = attrs.field(
        factory=dict, converter=_utc_terms, validator=_valid_terms
    )


@attrs.frozen
class Source:
    """One reason a member holds a benefit.

    Attributes:
        package: the key of the package that grants it (e.g. ``tier_l3``).
        grant: what the package is attached to and the member holds: ``tier:L3``,
            ``plan:annual_599`` or ``programme:diabetes``.
    """

    package: str
    grant: str

    @property
    def plan(self) -> str | None:
        """The plan key when the source is a paid plan, else ``None``."""
        kind, _, key = self.grant.partition(":")
        return key if kind == "plan" else None


@attrs.frozen(kw_only=True)
class Entitlement:
    """A benefit the member may use now, with every source that grants it.

    Attributes:
        benefit: the most generous version of the benefit among its sources.
        sources: every package (and its attachment) granting the benefit, in the order of
            the programme's packages.
    """

    benefit: Benefit
    sources: tuple[Source, ...]

    @property
    def key(self) -> str:
        """The benefit's key."""
        return self.benefit.key

    @property
    def plans(self) -> tuple[str, ...]:
        """The paid plans among the sources, in order."""
        return tuple(source.plan for source in self.sources if source.plan is not None)


def entitlements(standing: Standing, config: ProgrammeConfig) -> tuple[Entitlement, ...]:
    """Every benefit the member may use now, and why.

    The packages granted are: each tier package whose tier is the member's, or below it
    when the package is ``cumulative``; each package of an active plan; each package of
    a programme the member is enrolled in.

    **The most-generous rule.** When several packages grant the same benefit key, the
    member gets one entitlement listing every source, and its benefit is the most generous
    version: for a quota, unlimited beats any number, then more uses per period beat
    fewer, then a shorter period (``month``, then ``term``, then ``year``) beats a longer
    one, then a personal quota beats a household-shared one; for a discount, the larger
    percentage, then the larger fixed amount (so a percentage beats a fixed amount: it
    grows with the price), then no cap beats any cap and a higher cap beats a lower one,
    then stackable beats not. Otherwise — and for the other categories, whose versions
    carry nothing to compare — the version of the first package in the programme's order
    is kept.

    Args:
        standing: the member's tier, plans, programmes and household now.
        config: the programme.

    Returns:
        The entitlements, in the order their benefits first appear in the programme's
        packages.

    Raises:
        ConfigError: the standing's tier is not on the programme's ladder.
    """
    rank = config.tiers.rank(standing.tier)
    chosen: dict[str, Benefit] = {}
    sources: dict[str, list[Source]] = {}
    for package in config.packages:
        grant = _grant(package, standing, config, rank)
        if grant is None:
            continue
        for benefit in package.benefits:
            held = chosen.get(benefit.key)
            if held is None or _generosity(benefit) > _generosity(held):
                chosen[benefit.key] = benefit
            sources.setdefault(benefit.key, []).append(Source(package.key, grant))
    return tuple(
        Entitlement(benefit=benefit, sources=tuple(sources[key])) for key, benefit in chosen.items()
    )


def find_entitlement(
    standing: Standing, config: ProgrammeConfig, benefit_key: str
) -> Entitlement | None:
    """The member's entitlement to one benefit, or ``None`` when nothing grants it.

    Raises:
        ConfigError: the standing's tier is not on the programme's ladder.
    """
    return next((held for held in entitlements(standing, config) if held.key == benefit_key), None)


def holder_of(entitlement: Entitlement, standing: Standing) -> str:
    """Who holds the uses of a quota: the household for a shared quota, else the member.

    A shared quota of a member who belongs to no household is held by the member.
    """
    quota = entitlement.benefit.quota
    if quota is not None and quota.shared_by_household and standing.household_id is not None:
        return standing.household_id
    return standing.member_id


def _grant(
    package: BenefitPackage, standing: Standing, config: ProgrammeConfig, rank: int
) -> str | None:
    if package.tier is not None:
        level = config.tiers.rank(package.tier)
        held = level <= rank if package.cumulative else level == rank
        return f"tier:{package.tier}" if held else None
    if package.plan is not None:
        return f"plan:{package.plan}" if package.plan in standing.plans else None
    if package.programme is not None and package.programme in standing.programmes:
        return f"programme:{package.programme}"
    return None


# A shorter period renews more often, so it gives more uses over a year.
_PERIOD_GENEROSITY = {"month": 2, "term": 1, "year": 0}


def _generosity(benefit: Benefit) -> tuple[int, ...]:
    quota, discount = benefit.quota, benefit.discount
    if quota is not None:
        return (
            quota.per_period is None,
            quota.per_period or 0,
            _PERIOD_GENEROSITY[quota.period],
            not quota.shared_by_household,
        )
    if discount is not None:
        return (
            discount.percent_off or 0,
            discount.fixed_off_fen or 0,
            discount.max_off_fen is None,
            discount.max_off_fen or 0,
            discount.stackable,
        )
    return ()
