"""The points ledger (积分账本).

Commands and facts in, postings out, state rebuilt by replaying them::

    postings = decide(fact_or_command, state, config, now)
    for posting in postings:
        state = evolve(state, posting)

Transfers and merges touch two ledgers and have their own deciders,
:func:`decide_transfer` and :func:`decide_merge`.
"""

from __future__ import annotations

from membercore.ledger.decide import decide, decide_transfer
from membercore.ledger.earning import RULE_IDS, charge_reference, spending_points
from membercore.ledger.lots import available_points, expiry_of
from membercore.ledger.merge import decide_merge
from membercore.ledger.reports import (
    Balances,
    StatementLine,
    balances,
    qualification_window_start,
    qualifying_points,
    statement,
)
from membercore.ledger.state import KeyRecord, LedgerState, LotState, Totals, evolve, replay

__all__ = [
    "RULE_IDS",
    "Balances",
    "KeyRecord",
    "LedgerState",
    "LotState",
    "StatementLine",
    "Totals",
    "available_points",
    "balances",
    "charge_reference",
    "decide",
    "decide_merge",
    "decide_transfer",
    "evolve",
    "expiry_of",
    "qualification_window_start",
    "qualifying_points",
    "replay",
    "spending_points",
    "statement",
]
