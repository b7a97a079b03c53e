"""A further part of the report, beside the measurement: the experiments, a what-if."""

from __future__ import annotations

import attrs

from membercore_adapters.figures import Section
from membercore_adapters.report.charts import Chart

__all__ = ["Extra"]


@attrs.frozen(kw_only=True)
class Extra:
    """A further part of the report: its tables, charts and figures as plain rows."""

    sections: tuple[Section, ...] = ()
    charts: tuple[Chart, ...] = ()
    records: dict[str, list[dict[str, object]]] = attrs.field(factory=dict)
