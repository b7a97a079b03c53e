"""Experiments (A/B 测试): variants of the programme, assigned per member, and their results.

The configuration names each experiment (:class:`membercore.config.Experiment`); the
engine assigns a member when they first meet it (:mod:`.assignment`) and decides for them
under their variant's programme; :func:`experiment_results` reads the members' journals
and gives each variant's conversion with its 95 % interval, the difference against the
control, and the check of the split against the allocation.
"""

from __future__ import annotations

from membercore.experiments.assignment import (
    MESSAGE_TYPES,
    Assignment,
    ExperimentAssigned,
    ExperimentsState,
    bucket,
    evolve,
    exposures,
    member_config,
    variant_for,
)
from membercore.experiments.results import (
    Difference,
    ExperimentCounts,
    ExperimentResult,
    Interval,
    SampleRatio,
    VariantResult,
    chi_square_p,
    experiment_results,
    newcombe_difference,
    results_from_journals,
    sample_ratio,
    wilson_interval,
)

__all__ = [
    "MESSAGE_TYPES",
    "Assignment",
    "Difference",
    "ExperimentAssigned",
    "ExperimentCounts",
    "ExperimentResult",
    "ExperimentsState",
    "Interval",
    "SampleRatio",
    "VariantResult",
    "bucket",
    "chi_square_p",
    "evolve",
    "experiment_results",
    "exposures",
    "member_config",
    "newcombe_difference",
    "results_from_journals",
    "sample_ratio",
    "variant_for",
    "wilson_interval",
]
