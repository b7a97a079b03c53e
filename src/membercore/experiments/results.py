"""An experiment's results, read from the members' journals.

For each variant: the members exposed, those who converted, the conversion rate with its
95 % Wilson score interval, and for each variant but the control the difference against
the control with its 95 % interval by Newcombe's hybrid score method (method 10 of
Newcombe, *Statistics in Medicine* 17, 1998). The split is checked against the
allocation with a chi-square goodness-of-fit test: a p-value under 0.001 is a sample
ratio mismatch, which says the assignment or the exposure is broken and the comparison
is not to be trusted.

Only the standard library: the chi-square tail is the regularised upper incomplete gamma
function, by its series or its continued fraction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta

import attrs

from membercore.config import Experiment, ProgrammeConfig
from membercore.experiments.assignment import ExperimentAssigned
from membercore.ports.store import RecordStore

__all__ = [
    "SRM_THRESHOLD",
    "Z_95",
    "Difference",
    "ExperimentCounts",
    "ExperimentResult",
    "Interval",
    "SampleRatio",
    "VariantResult",
    "chi_square_p",
    "experiment_results",
    "newcombe_difference",
    "results_from_journals",
    "sample_ratio",
    "wilson_interval",
]

#: The two-sided 95 % point of the standard normal distribution.
Z_95 = 1.959963984540054

#: A split whose chi-square p-value is under this is flagged as a sample ratio mismatch.
SRM_THRESHOLD = 0.001


@attrs.frozen
class Interval:
    """A confidence interval, ``low`` to ``high``."""

    low: float
    high: float


@attrs.frozen(kw_only=True)
class Difference:
    """A variant's conversion rate minus the control's, with its 95 % interval."""

    estimate: float
    interval: Interval


@attrs.frozen(kw_only=True)
class VariantResult:
    """One variant's members and conversions.

    Attributes:
        key: the variant.
        label: shown to people.
        weight: its share of the allocation (relative).
        exposed: members assigned to it.
        converted: of those, members who converted.
        rate: ``converted / exposed``; none when nobody was exposed.
        interval: the rate's 95 % Wilson score interval; none when nobody was exposed.
        difference: against the control (none for the control itself, or when either
            has nobody exposed).
    """

    key: str
    label: str
    weight: int
    exposed: int
    converted: int
    rate: float | None
    interval: Interval | None
    difference: Difference | None = None


@attrs.frozen(kw_only=True)
class SampleRatio:
    """The split of exposed members checked against the allocation.

    Attributes:
        expected: the members each variant should have by its weight.
        chi_square: the goodness-of-fit statistic.
        df: its degrees of freedom (variants less one).
        p_value: the chance of a split at least as uneven were the assignment sound.
        mismatch: ``p_value`` is under :data:`SRM_THRESHOLD`.
    """

    expected: tuple[float, ...]
    chi_square: float
    df: int
    p_value: float
    mismatch: bool


@attrs.frozen(kw_only=True)
class ExperimentResult:
    """An experiment's results.

    Attributes:
        key: the experiment.
        label: shown to people.
        control: the control variant's key.
        variants: each variant, in the programme's order.
        sample_ratio: the split's check; none while nobody is exposed.
        elsewhere: members assigned to a variant the programme no longer has (left
            out of the comparison).
    """

    key: str
    label: str
    control: str
    variants: tuple[VariantResult, ...]
    sample_ratio: SampleRatio | None
    elsewhere: int = 0


def wilson_interval(converted: int, exposed: int, z: float = Z_95) -> Interval:
    """The Wilson score interval of ``converted / exposed`` (no continuity correction).

    Raises:
        ValueError: ``exposed`` is not positive, or ``converted`` is outside 0..exposed.
    """
    if exposed <= 0 or not 0 <= converted <= exposed:
        raise ValueError(f"need 0 <= converted <= exposed and exposed > 0: {converted}/{exposed}")
    p = converted / exposed
    z2 = z * z
    denominator = 1 + z2 / exposed
    centre = (p + z2 / (2 * exposed)) / denominator
    half = z * math.sqrt(p * (1 - p) / exposed + z2 / (4 * exposed * exposed)) / denominator
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def newcombe_difference(
    converted: int, exposed: int, control_converted: int, control_exposed: int, z: float = Z_95
) -> Difference:
    """The difference of two rates, ``converted / exposed`` less the control's.

    Its interval is Newcombe's hybrid score interval, built from each rate's Wilson
    interval.
    """
    p1, p2 = converted / exposed, control_converted / control_exposed
    one = wilson_interval(converted, exposed, z)
    two = wilson_interval(control_converted, control_exposed, z)
    d = p1 - p2
    low = d - math.sqrt((p1 - one.low) ** 2 + (two.high - p2) ** 2)
    high = d + math.sqrt((one.high - p1) ** 2 + (p2 - two.low) ** 2)
    return Difference(estimate=d, interval=Interval(low, high))


def chi_square_p(statistic: float, df: int) -> float:
    """The chance that a chi-square variable of ``df`` degrees of freedom is at least ``statistic``.

    Raises:
        ValueError: ``df`` is not positive or ``statistic`` is negative.
    """
    if df <= 0 or statistic < 0:
        raise ValueError(f"need df > 0 and statistic >= 0, got {df}, {statistic}")
    return _upper_gamma(df / 2, statistic / 2)


def _upper_gamma(a: float, x: float) -> float:
    """The regularised upper incomplete gamma function Q(a, x)."""
    if x <= 0:
        return 1.0
    log_front = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:
        # The series for P(a, x) converges quickly here.
        term = total = 1.0 / a
        n = a
        for _ in range(10_000):
            n += 1
            term *= x / n
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    # Lentz's continued fraction for Q(a, x).
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        step = d * c
        h *= step
        if abs(step - 1) < 1e-15:
            break
    return min(1.0, math.exp(log_front) * h)


def sample_ratio(exposed: Iterable[int], weights: Iterable[int]) -> SampleRatio | None:
    """The chi-square goodness-of-fit check of the exposed counts against the weights.

    Returns:
        None when nobody is exposed.
    """
    counts, shares = list(exposed), list(weights)
    total, weight = sum(counts), sum(shares)
    if total == 0:
        return None
    expected = tuple(total * share / weight for share in shares)
    statistic = sum((o - e) ** 2 / e for o, e in zip(counts, expected, strict=True))
    df = len(counts) - 1
    p = chi_square_p(statistic, df)
    return SampleRatio(
        expected=expected, chi_square=statistic, df=df, p_value=p, mismatch=p < SRM_THRESHOLD
    )


# --- reading the journals ---------------------------------------------------------------

#: The journal's tag of a record merged into another: the person is counted by the survivor.
_MERGED = "merged_into"


def _instant(event: object) -> datetime | None:
    for name in ("at", "occurred_at", "decided_at", "recorded_at"):
        value = getattr(event, name, None)
        if isinstance(value, datetime):
            return value
    return None


def _converts(experiment: Experiment, event: object, since: datetime) -> bool:
    conversion = experiment.conversion
    if getattr(event, "TYPE", None) not in conversion.on:
        return False
    if conversion.plan is not None and getattr(event, "plan_key", None) != conversion.plan:
        return False
    at = _instant(event)
    if at is None or at < since:
        return False
    return conversion.within_days is None or at < since + timedelta(days=conversion.within_days)


class ExperimentCounts:
    """Exposures and conversions counted one member's journal at a time.

    A member counts in the variant of their assignment; they converted when an event of
    the conversion's types (and plan) is dated at or after their assignment, within the
    conversion's window. A record merged into another is left out: the person is
    counted by the survivor's record, with the survivor's own assignment.
    """

    def __init__(self, config: ProgrammeConfig) -> None:
        self._experiments = config.experiments
        self._exposed: dict[tuple[str, str], int] = {}
        self._converted: dict[tuple[str, str], int] = {}

    @property
    def wanted(self) -> frozenset[str]:
        """The event types the counts read (the others need not be decoded)."""
        wanted = {ExperimentAssigned.TYPE, _MERGED}
        for experiment in self._experiments:
            wanted.update(experiment.conversion.on)
        return frozenset(wanted)

    def add(self, journal: Iterable[object]) -> None:
        """Count one member's journal (its events of the types :attr:`wanted` names)."""
        events = list(journal)
        if any(getattr(e, "TYPE", None) == _MERGED for e in events):
            return
        held = _first_assignments(events)  # the first is the one the record keeps
        for experiment in self._experiments:
            assigned = held.get(experiment.key)
            if assigned is None:
                continue
            pair = (experiment.key, assigned.variant)
            self._exposed[pair] = self._exposed.get(pair, 0) + 1
            if any(_converts(experiment, e, assigned.at) for e in events):
                self._converted[pair] = self._converted.get(pair, 0) + 1

    def merge(self, other: ExperimentCounts) -> None:
        """Add the counts of another share of the members (of the same programme)."""
        for mine, theirs in ((self._exposed, other._exposed), (self._converted, other._converted)):
            for pair, count in theirs.items():
                mine[pair] = mine.get(pair, 0) + count

    def results(self) -> tuple[ExperimentResult, ...]:
        """Each experiment's results from the journals counted."""
        return tuple(_result(e, self._exposed, self._converted) for e in self._experiments)


def results_from_journals(
    config: ProgrammeConfig, journals: Iterable[Iterable[object]]
) -> tuple[ExperimentResult, ...]:
    """Each experiment's results from the members' journals, one iterable of events each.

    Counted as :class:`ExperimentCounts` counts them.
    """
    counts = ExperimentCounts(config)
    for journal in journals:
        counts.add(journal)
    return counts.results()


def _first_assignments(events: Iterable[object]) -> dict[str, ExperimentAssigned]:
    held: dict[str, ExperimentAssigned] = {}
    for event in events:
        if isinstance(event, ExperimentAssigned):
            held.setdefault(event.experiment, event)
    return held


def _result(
    experiment: Experiment,
    exposed: Mapping[tuple[str, str], int],
    converted: Mapping[tuple[str, str], int],
) -> ExperimentResult:
    keys = {variant.key for variant in experiment.variants}
    elsewhere = sum(n for (e, v), n in exposed.items() if e == experiment.key and v not in keys)
    control = experiment.control_key
    c_n = exposed.get((experiment.key, control), 0)
    c_x = converted.get((experiment.key, control), 0)
    variants = []
    for variant in experiment.variants:
        n = exposed.get((experiment.key, variant.key), 0)
        x = converted.get((experiment.key, variant.key), 0)
        difference = None
        if variant.key != control and n and c_n:
            difference = newcombe_difference(x, n, c_x, c_n)
        variants.append(
            VariantResult(
                key=variant.key,
                label=variant.label,
                weight=variant.weight,
                exposed=n,
                converted=x,
                rate=x / n if n else None,
                interval=wilson_interval(x, n) if n else None,
                difference=difference,
            )
        )
    ratio = sample_ratio((v.exposed for v in variants), (v.weight for v in variants))
    return ExperimentResult(
        key=experiment.key,
        label=experiment.label,
        control=control,
        variants=tuple(variants),
        sample_ratio=ratio,
        elsewhere=elsewhere,
    )


def experiment_results(store: RecordStore, config: ProgrammeConfig) -> tuple[ExperimentResult, ...]:
    """Each experiment's results, read from every member's journal in the store.

    Only the events an experiment counts are decoded (assignments, merges and the
    conversions' types); the others are passed over by their ``type`` tag.

    Args:
        store: a store with the record role (:class:`membercore.ports.RecordStore`).
        config: the programme whose experiments are reported.
    """
    if not config.experiments:
        return ()
    counts = ExperimentCounts(config)
    return results_from_journals(config, _journals(store, counts.wanted))


def _journals(store: RecordStore, wanted: frozenset[str]) -> Iterator[list[object]]:
    # Imported here: the results are the one place the experiments read stored JSON.
    from membercore.serialization import message_from_stored  # noqa: PLC0415

    for record in store.scan("member:"):
        yield [
            message_from_stored(stored.payload)
            for stored in store.events(record.key)
            if stored.type in wanted
        ]
