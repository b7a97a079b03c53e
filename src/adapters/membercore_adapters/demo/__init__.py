"""The demo hospital: a synthetic private hospital run through the engine, then its figures.

:mod:`~membercore_adapters.demo.hospital` generates the seeded hospital,
:func:`run_demo` (:mod:`~membercore_adapters.demo.runner`) feeds it to the engine on a
store in slices of simulated time (a :class:`ProgressBar` on a terminal following it),
:func:`dashboard` (:mod:`~membercore_adapters.demo.dashboard`) renders the figures as
tables, in Chinese or English, and :func:`ledger_walkthrough`
(:mod:`~membercore_adapters.demo.walkthrough`) explains the points ledger step by step
on a scripted family (王女士 and 李先生).
"""

from __future__ import annotations

from membercore_adapters.demo.dashboard import ProgressBar, dashboard
from membercore_adapters.demo.hospital import (
    HospitalSpec,
    messages,
    shard_of,
    small,
    timed_messages,
)
from membercore_adapters.demo.runner import (
    DemoResult,
    Progress,
    refusal_kind,
    run_demo,
    shard_of_member,
)
from membercore_adapters.demo.walkthrough import ledger_walkthrough

__all__ = [
    "DemoResult",
    "HospitalSpec",
    "Progress",
    "ProgressBar",
    "dashboard",
    "ledger_walkthrough",
    "messages",
    "refusal_kind",
    "run_demo",
    "shard_of",
    "shard_of_member",
    "small",
    "timed_messages",
]
