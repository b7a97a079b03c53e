"""Any split of ticks decides the same: records, messages and tasks, on memory and SQLite.

Two months of a patient's life under the reference journeys (a first visit, an abnormal
check-up, a delivery and discharge, charges, a survey, a birthday), fed as they happen,
ticked on random schedules with gaps of an hour to a day, end in the same record, outbox
and task list as ticking on the hour whenever something is due. (A gap longer than a
step's ``stale_after`` skips that step's messages: that is the point of it.)
"""

from __future__ import annotations

import tempfile
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from membercore import reference_config
from membercore.consent import GrantConsent, Purpose
from membercore.facts import (
    ChargeLine,
    ChargePaid,
    CheckupCompleted,
    DeliveryRecorded,
    Discharged,
    PatientRegistered,
    SurveyAnswered,
    VisitCompleted,
)
from membercore.plugins import make_plugin_manager
from membercore.service.engine import Engine
from membercore.testing.clock import ManualClock
from membercore_adapters.stores import memory, sqlite

from .conftest import consent

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 2, 9, 0, tzinfo=SH)
END = START + timedelta(days=60)
ME = "p-lin"


def _at(days: int, hour: int = 10, minute: int = 0) -> datetime:
    return (START + timedelta(days=days)).replace(hour=hour, minute=minute)


def _consent(purpose: Purpose) -> GrantConsent:
    return consent(ME, purpose)


def _charge(n: int, at: datetime, fen: int) -> ChargePaid:
    line = ChargeLine(department="obstetrics", category="exam", amount_fen=fen)
    return ChargePaid(
        fact_id=f"ch-{n}", patient_id=ME, occurred_at=at, charge_id=f"c-{n}", lines=(line,)
    )


def _story() -> list[tuple[datetime, object]]:
    """What the hospital tells, each paired with when it happened."""
    registered = _at(0, 9)
    story: list[tuple[datetime, object]] = [
        (
            registered,
            PatientRegistered(
                fact_id="reg",
                patient_id=ME,
                occurred_at=registered,
                name="林女士",
                birth_date=date(1994, 3, 20),
            ),
        ),
        (registered + timedelta(minutes=1), _consent("care")),
        (registered + timedelta(minutes=2), _consent("marketing")),
    ]
    facts = [
        VisitCompleted(
            fact_id="v-1", patient_id=ME, occurred_at=_at(0, 10), visit_id="v-1", first_visit=True
        ),
        CheckupCompleted(
            fact_id="ck-1", patient_id=ME, occurred_at=_at(1, 8, 30), visit_id="ck-1", abnormal=True
        ),
        DeliveryRecorded(fact_id="dl-1", patient_id=ME, occurred_at=_at(9, 3, 20), visit_id="ip-1"),
        Discharged(
            fact_id="dc-1",
            patient_id=ME,
            occurred_at=_at(12, 14),
            visit_id="ip-1",
            department="obstetrics",
        ),
        SurveyAnswered(
            fact_id="sv-1", patient_id=ME, occurred_at=_at(13, 20), visit_id="ip-1", score=10
        ),
        *(_charge(n, _at(7 * n, 11), 80_000 * n) for n in range(1, 8)),
    ]
    story += [(fact.occurred_at, fact) for fact in facts]
    return sorted(story, key=lambda pair: pair[0])


def _run(url: str, ticks: list[datetime]) -> dict[str, Any]:
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite])
    with Engine.open(
        url, config=reference_config(), clock=ManualClock(START), plugin_manager=manager
    ) as engine:
        pending = sorted(ticks)
        for at, message in _story():
            while pending and pending[0] < at:
                engine.tick(pending.pop(0))
            engine.ingest([message], now=at)
        for at in pending:
            engine.tick(at)
        engine.tick(END)
        member = engine.member(ME)
        return {
            "record": member,
            "journeys": {
                k: (i.state, i.ended, i.timers, dict(i.steps))
                for k, i in member.journeys.instances.items()
            },
            "outbox": [
                (m.message_id, m.channel, m.send_at, m.payload) for m in engine.store.outbox()
            ],
            "tasks": [
                (t.task_key, t.kind, t.role, t.assignee, t.due_at) for t in engine.store.tasks(None)
            ],
            "dead": list(engine.store.dead_letters()),
        }


def _hourly_when_due() -> list[datetime]:
    hours = int((END - START).total_seconds() // 3600)
    return [START + timedelta(hours=h) for h in range(1, hours + 1)]


@cache
def _baseline(kind: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        url = "memory://" if kind == "memory" else f"sqlite:///{folder}/base.db"
        return _run(url, _hourly_when_due())


def _schedule(gaps: list[int]) -> list[datetime]:
    """Ticks ``gaps`` minutes apart from the start, then daily to the end."""
    ticks, at = [], START
    for gap in gaps:
        at += timedelta(minutes=gap)
        if at >= END:
            break
        ticks.append(at)
    while at + timedelta(days=1) < END:
        at += timedelta(days=1)
        ticks.append(at)
    return ticks


@settings(max_examples=max(10, settings.default.max_examples // 20))
@given(
    kind=st.sampled_from(["memory", "sqlite"]),
    gaps=st.lists(st.integers(60, 24 * 60), max_size=120),
)
def test_any_split_of_ticks_makes_the_same_records_messages_and_tasks(
    kind: str, gaps: list[int]
) -> None:
    expected = _baseline(kind)
    # The story makes something of each kind: the property decides on real work.
    assert expected["outbox"]
    assert expected["tasks"]
    assert {"post_discharge", "postpartum_rehab", "checkup_follow_up", "birthday"} <= {
        instance.journey for instance in expected["record"].journeys.instances.values()
    }
    with tempfile.TemporaryDirectory() as folder:
        url = "memory://" if kind == "memory" else f"sqlite:///{folder}/split.db"
        got = _run(url, _schedule(gaps))
    assert got == expected
