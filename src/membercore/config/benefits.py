"""Benefit packages (权益包): what members get, attached to a tier, a plan or a programme."""

from __future__ import annotations

from typing import Any, Literal

import attrs

from membercore.config.common import optional_positive, percent, unique_keys
from membercore.errors import ConfigError

__all__ = [
    "Benefit",
    "BenefitCategory",
    "BenefitPackage",
    "Discount",
    "Quota",
    "QuotaPeriod",
]

BenefitCategory = Literal[
    "priority",
    "service",
    "family",
    "emergency",
    "discount",
    "quota",
    "gift",
    "partner",
    "checkup",
]
QuotaPeriod = Literal["year", "month", "term"]


def _one_kind_of_discount(instance: Discount, _attribute: Any, _value: Any) -> None:
    if (instance.percent_off is None) == (instance.fixed_off_fen is None):
        raise ConfigError("percent_off", "a discount has either percent_off or fixed_off_fen")


@attrs.frozen(kw_only=True)
class Discount:
    """A discount on service categories.

    Attributes:
        categories: the service categories it applies to (e.g. ``exam``).
        percent_off: percentage off the list price, or
        fixed_off_fen: a fixed amount off each unit, in fen.
        max_off_fen: the most it takes off one bill line.
        stackable: whether it adds to another discount on the same line (otherwise the
            best single discount applies).
    """

    categories: tuple[str, ...]
    percent_off: int | None = attrs.field(default=None, validator=percent)
    fixed_off_fen: int | None = attrs.field(
        default=None, validator=[optional_positive, _one_kind_of_discount]
    )
    max_off_fen: int | None = attrs.field(default=None, validator=optional_positive)
    stackable: bool = False


@attrs.frozen(kw_only=True)
class Quota:
    """Free use of a service, so many times a period.

    Attributes:
        service: the service category or item code covered (e.g. ``expert_consult``).
        per_period: uses per period; ``None`` is unlimited.
        period: ``year`` and ``month`` are calendar periods in the programme's timezone;
            ``term`` is the term of the plan that grants it.
        shared_by_household: the whole household draws on one quota.
    """

    service: str
    per_period: int | None = attrs.field(default=None, validator=optional_positive)
    period: QuotaPeriod = "year"
    shared_by_household: bool = False


def _matching_detail(instance: Benefit, _attribute: Any, _value: Any) -> None:
    if (instance.category == "discount") != (instance.discount is not None):
        raise ConfigError("discount", "a discount benefit, and only it, has a discount")
    if (instance.category == "quota") != (instance.quota is not None):
        raise ConfigError("quota", "a quota benefit, and only it, has a quota")


@attrs.frozen(kw_only=True)
class Benefit:
    """One benefit.

    Attributes:
        key: stable key (e.g. ``expert_consults``).
        category: priority, service, family, emergency, discount, quota, gift, partner
            or checkup.
        label: shown to people.
        discount: for a discount benefit.
        quota: for a free-use quota.
        partner: for a partner perk, the partner.
    """

    key: str
    category: BenefitCategory
    label: str
    discount: Discount | None = None
    quota: Quota | None = attrs.field(default=None, validator=_matching_detail)
    partner: str | None = None


def _one_attachment(instance: BenefitPackage, _attribute: Any, _value: Any) -> None:
    attached = [name for name in ("tier", "plan", "programme") if getattr(instance, name)]
    if len(attached) != 1:
        raise ConfigError("tier", "a package attaches to exactly one tier, plan or programme")


@attrs.frozen(kw_only=True)
class BenefitPackage:
    """Benefits granted together.

    Attributes:
        key: stable key.
        label: shown to people.
        benefits: what it grants.
        tier: granted to members of this tier (and higher, when ``cumulative``).
        plan: granted to subscribers of this paid plan.
        programme: granted to members enrolled in this disease programme.
        cumulative: a tier package is also granted up the ladder.
    """

    key: str
    label: str
    benefits: tuple[Benefit, ...] = attrs.field(validator=unique_keys)
    tier: str | None = None
    plan: str | None = None
    programme: str | None = attrs.field(default=None, validator=_one_attachment)
    cumulative: bool = True
