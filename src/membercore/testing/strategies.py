"""Hypothesis strategies for membercore's messages and the points ledger.

Other suites (a storage backend's, a vendor plugin's) draw realistic facts and ledger
commands from here instead of writing their own::

    from hypothesis import given
    from membercore.testing import strategies as mst

    @given(mst.facts(patient_id="p-1"))
    def test_my_backend_stores_any_fact(fact): ...

They are written in three modules, all exported here: facts
(:mod:`.fact_strategies`), commands and programmes (:mod:`.command_strategies`) and
whole HIS feeds (:mod:`.stream_strategies`).
"""

from __future__ import annotations

from membercore.testing.command_strategies import (
    adjustments,
    bonuses,
    expire_due,
    household_commands,
    ledger_commands,
    programme_configs,
    redemptions,
    reversals,
    tier_overrides,
    transfers,
)
from membercore.testing.fact_strategies import (
    DEPARTMENTS,
    SERVICE_CATEGORIES,
    charge_lines,
    charges,
    engagement_facts,
    facts,
    identifiers,
    instants,
    refunds,
)
from membercore.testing.stream_strategies import DIAGNOSES, patient_streams

__all__ = [
    "DEPARTMENTS",
    "DIAGNOSES",
    "SERVICE_CATEGORIES",
    "adjustments",
    "bonuses",
    "charge_lines",
    "charges",
    "engagement_facts",
    "expire_due",
    "facts",
    "household_commands",
    "identifiers",
    "instants",
    "ledger_commands",
    "patient_streams",
    "programme_configs",
    "redemptions",
    "refunds",
    "reversals",
    "tier_overrides",
    "transfers",
]
