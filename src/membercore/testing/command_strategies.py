"""Hypothesis strategies for commands: the ledger's, tier overrides, households; programmes."""

from __future__ import annotations

from datetime import date
from typing import Any

import attrs
from hypothesis import strategies as st

from membercore.config import ExpiryPolicy, LedgerConfig, ProgrammeConfig, reference_config
from membercore.households import AddDependent, FormHousehold, RemoveDependent
from membercore.ledger.commands import (
    AdjustPoints,
    AwardBonus,
    ExpireDue,
    Redeem,
    ReversePosting,
    TransferPoints,
)
from membercore.testing.fact_strategies import identifiers, instants
from membercore.tiers import SetTierOverride

__all__ = [
    "adjustments",
    "bonuses",
    "expire_due",
    "household_commands",
    "ledger_commands",
    "programme_configs",
    "redemptions",
    "reversals",
    "tier_overrides",
    "transfers",
]


def _member(member_id: str | None) -> st.SearchStrategy[str]:
    return identifiers("patient") if member_id is None else st.just(member_id)


def _points(max_points: int) -> st.SearchStrategy[int]:
    return st.integers(min_value=1, max_value=max_points)


def redemptions(
    *, member_id: str | None = None, max_points: int = 5_000
) -> st.SearchStrategy[Redeem]:
    """Redemptions of a positive number of points."""
    return st.builds(
        Redeem,
        key=identifiers("redeem"),
        member_id=_member(member_id),
        points=_points(max_points),
        reference=st.none() | identifiers("gift"),
    )


def adjustments(
    *, member_id: str | None = None, max_points: int = 5_000
) -> st.SearchStrategy[AdjustPoints]:
    """Manual adjustments up or down, with operator and reason."""
    return st.builds(
        AdjustPoints,
        key=identifiers("adjust"),
        member_id=_member(member_id),
        points=_points(max_points) | _points(max_points).map(lambda n: -n),
        operator=identifiers("staff"),
        reason=st.sampled_from(["补录积分", "系统纠错", "goodwill"]),
        qualifying=st.booleans(),
    )


def bonuses(
    *, member_id: str | None = None, rules: tuple[str, ...] = ("welcome", "birthday", "campaign")
) -> st.SearchStrategy[AwardBonus]:
    """Promotional bonuses naming a rule of ``earning.bonuses``."""
    return st.builds(
        AwardBonus,
        key=identifiers("bonus"),
        member_id=_member(member_id),
        rule_id=st.sampled_from(rules),
        points=_points(1_000),
    )


def reversals(
    *, member_id: str | None = None, posting_ids: st.SearchStrategy[str] | None = None
) -> st.SearchStrategy[ReversePosting]:
    """Staff reversals of an earning posting."""
    return st.builds(
        ReversePosting,
        key=identifiers("reverse"),
        member_id=_member(member_id),
        posting_id=identifiers("posting") if posting_ids is None else posting_ids,
        operator=identifiers("staff"),
        reason=st.just("voided by staff"),
    )


def transfers(
    *, member_id: str | None = None, target_id: str | None = None, max_points: int = 5_000
) -> st.SearchStrategy[TransferPoints]:
    """Transfers of points to another member."""
    return st.builds(
        TransferPoints,
        key=identifiers("transfer"),
        member_id=_member(member_id),
        target_id=_member(target_id),
        points=_points(max_points),
    )


def expire_due(*, member_id: str | None = None) -> st.SearchStrategy[ExpireDue]:
    """The time-driven expiry command."""
    return st.builds(ExpireDue, member_id=_member(member_id))


def ledger_commands(*, member_id: str | None = None) -> st.SearchStrategy[Any]:
    """Any ledger command for one member (transfers excluded: they need two ledgers)."""
    return st.one_of(
        redemptions(member_id=member_id),
        adjustments(member_id=member_id),
        bonuses(member_id=member_id),
        reversals(member_id=member_id),
        expire_due(member_id=member_id),
    )


def programme_configs() -> st.SearchStrategy[ProgrammeConfig]:
    """The reference programme under every clawback and expiry policy."""
    policies = st.builds(
        ExpiryPolicy,
        mode=st.sampled_from(["month_end", "inactivity", "never"]),
        months=st.integers(min_value=1, max_value=36),
    )
    ledgers = st.builds(LedgerConfig, clawback=st.sampled_from(["debt", "cap"]), expiry=policies)
    return ledgers.map(lambda ledger: _with_ledger(reference_config(), ledger))


def _with_ledger(config: ProgrammeConfig, ledger: LedgerConfig) -> ProgrammeConfig:
    return attrs.evolve(config, ledger=ledger)


def tier_overrides(*, member_id: str | None = None) -> st.SearchStrategy[SetTierOverride]:
    """Staff overrides to one of the reference tiers, with an expiry."""
    return st.builds(
        SetTierOverride,
        key=identifiers("override"),
        member_id=_member(member_id),
        tier=st.sampled_from(["L1", "L2", "L3", "L4", "L5"]),
        operator=identifiers("staff"),
        reason=st.sampled_from(["VIP 患者", "投诉补偿", "院长批准"]),
        expires_at=instants(),
    )


def household_commands(*, household_id: str = "hh-1") -> st.SearchStrategy[Any]:
    """Commands forming a household, adding and removing relatives."""
    relationships = st.sampled_from(["spouse", "child", "parent", "other"])
    births = st.none() | st.dates(min_value=date(1930, 1, 1), max_value=date(2026, 1, 1))
    return st.one_of(
        st.builds(
            FormHousehold,
            key=identifiers("form"),
            household_id=st.just(household_id),
            head_id=identifiers("patient"),
        ),
        st.builds(
            AddDependent,
            key=identifiers("add"),
            household_id=st.just(household_id),
            member_id=identifiers("patient"),
            relationship=relationships,
            birth_date=births,
            guardian_id=st.none() | identifiers("patient"),
        ),
        st.builds(
            RemoveDependent,
            key=identifiers("remove"),
            household_id=st.just(household_id),
            member_id=identifiers("patient"),
            reason=st.just("搬离"),
        ),
    )
