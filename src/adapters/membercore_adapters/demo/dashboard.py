"""What a demo run shows: a progress bar while it runs, and the dashboard of its figures."""

from __future__ import annotations

import sys
import time
from datetime import datetime

from membercore import reference_config
from membercore.analytics import per_mille
from membercore.config import ProgrammeConfig
from membercore.dates import add_months
from membercore_adapters.demo.hospital import HospitalSpec
from membercore_adapters.demo.runner import DemoResult

__all__ = ["ProgressBar", "dashboard"]


class ProgressBar:
    """A progress bar on standard error, by simulated time."""

    def __init__(self, spec: HospitalSpec, width: int = 30) -> None:
        self.start = spec.start
        self.span = add_months(spec.start, spec.months, reference_config().tz) - spec.start
        self.width = width
        self.began = time.perf_counter()
        self.shown = 0.0

    def __call__(self, count: int, at: datetime) -> None:
        """Redraw the bar (at most ten times a second)."""
        now = time.perf_counter()
        if now - self.shown < 0.1:
            return
        self.shown = now
        done = min(max((at - self.start) / self.span, 0.0), 1.0)
        filled = int(done * self.width)
        rate = count / max(now - self.began, 1e-9)
        bar = "█" * filled + "░" * (self.width - filled)
        sys.stderr.write(f"\r{bar} {done:4.0%} {at.date()} · {count:,} facts · {rate:,.0f}/s   ")
        sys.stderr.flush()

    def close(self) -> None:
        """End the bar's line."""
        sys.stderr.write("\n")
        sys.stderr.flush()


def _yuan(fen: int) -> str:
    return f"¥{fen // 100:,}"


def dashboard(result: DemoResult, config: ProgrammeConfig) -> str:
    """The figures of a demo run as text."""
    lines = _headline(result)
    lines += _members(result, config)
    lines += _outreach(result)
    return "\n".join(lines)


def _headline(result: DemoResult) -> list[str]:
    seconds = result.seconds
    return [
        f"仁和医院 demo hospital · {result.spec.patients:,} patients · "
        f"{result.spec.months} months · seed {result.spec.seed}",
        f"{result.messages:,} facts and commands in {seconds:.1f} s "
        f"({result.messages / max(seconds, 1e-9):,.0f}/s): "
        f"{result.report.applied:,} applied, {result.report.duplicates:,} duplicates, "
        f"{result.report.rejected:,} rejected",
        "",
    ]


def _members(result: DemoResult, config: ProgrammeConfig) -> list[str]:
    fig = result.figures
    labels = {level.key: level.label for level in config.tiers.levels}
    plan_labels = {plan.key: plan.label for plan in config.plans.plans}
    lines = ["Members by tier"]
    lines += [
        f"  {key} {labels[key]:<4} {fig.by_tier.get(key, 0):>8,}" for key in config.tiers.keys
    ]
    lines.append("Paid members by plan (in force)")
    lines += [
        f"  {plan_labels.get(key, key):<12} {count:>8,}"
        for key, count in sorted(fig.paid_by_plan.items())
    ] or ["  none"]
    return [
        *lines,
        f"Renewal rate          {fig.renewal_per_mille / 10:5.1f}%  "
        f"({fig.renewed:,} of {fig.terms_ended:,} first terms ended)",
        "Loyalty ladder        "
        f"first visit {fig.first_visits:,} → member {fig.became_members:,} "
        f"({per_mille(fig.became_members, fig.first_visits) / 10:.1f}%) → family "
        f"{fig.became_family:,} ({per_mille(fig.became_family, fig.became_members) / 10:.1f}%)",
        f"Yearly spend          members {_yuan(fig.average_spend_fen(members=True))} · "
        f"non-members {_yuan(fig.average_spend_fen(members=False))} (out of pocket)",
        f"Points                issued {fig.points.get('earned', 0):,} · redeemed "
        f"{fig.points.get('redeemed', 0):,} · expired {fig.points.get('expired', 0):,} · "
        f"outstanding liability {fig.points.get('balance', 0):,}",
    ]


def _outreach(result: DemoResult) -> list[str]:
    tally = result.tally
    lines = ["Messages by channel and purpose"]
    lines += [
        f"  {channel:<6} {purpose:<10} {count:>8,}"
        for (channel, purpose), count in sorted(tally.messages.items())
    ] or ["  none"]
    lines.append(
        f"  deferred by quiet hours {tally.deferred:,} · cancelled on withdrawal "
        f"{tally.cancelled:,}"
    )
    refused = ", ".join(f"{reason} {count:,}" for reason, count in tally.refused.most_common())
    lines.append(f"  refused: {refused or 'none'}")
    tasks = ", ".join(f"{kind} {count:,}" for kind, count in tally.tasks.most_common())
    lines.append(f"Staff tasks by kind   {tasks or 'none'}")
    if result.rejected:
        lines.append("Rejected inputs (dead letters) by reason")
        lines += [f"  {count:>6,} {reason}" for reason, count in result.rejected.most_common(8)]
    return lines
