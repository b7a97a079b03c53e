"""The ward the console's browser tests work in: staff who sign in, patients, their tasks.

Three members of staff have accounts (two health managers and a nurse, as on the reference
programme's roster). 林女士 (P-1) was diagnosed with type-2 diabetes in March and missed
two HbA1c rechecks: on 3 September the programme asks her health manager to call, due
the next morning; her birthday greeting that day was refused (no marketing consent) and
an appointment reminder went to WeCom. 陈先生 (P-2) has a call that is overdue and was
escalated; 张女士 (P-3) a visit for the nurse. The tests see the ward on the morning of
4 September, when the call is due.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from membercore import Engine, reference_config
from membercore.consent import GrantConsent
from membercore.outreach import RequestMessage
from membercore.plugins import make_plugin_manager
from membercore.ports import AccountStore
from membercore.serialization import message_from_dict
from membercore.staff.tasks import AssignTask, CreateTask, EscalateTask
from membercore.testing.clock import ManualClock
from membercore_adapters.access import new_staff_account
from membercore_adapters.stores import memory, sqlite

__all__ = ["CONFIG", "PASSWORD", "SH", "STAFF", "T0", "THE_DAY", "open_ward", "opener"]

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
#: The morning the tests see: 林女士's call is due at 10:00.
THE_DAY = datetime(2026, 9, 4, 8, 30, tzinfo=SH)
CONFIG = reference_config()
PASSWORD = "晨光-Ward7-随访!"
#: The staff with accounts: id, name, role.
STAFF = (
    ("hm-01", "王健康", "health_manager"),
    ("hm-02", "李管家", "health_manager"),
    ("rn-01", "陈护士", "nurse"),
)


def opener(url: str, clock: ManualClock) -> Callable[[], Engine]:
    """Opens the ward's engine on ``url``, with the staff's accounts made."""
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite])

    def open_engine() -> Engine:
        engine = Engine.open(url, config=CONFIG, clock=clock, plugin_manager=manager)
        accounts = engine.store
        assert isinstance(accounts, AccountStore)
        for staff_id, name, role in STAFF:
            if accounts.staff_account(staff_id) is None:
                accounts.save_staff_account(new_staff_account(staff_id, name, role, PASSWORD, T0))
        return engine

    return open_engine


def _fact(kind: str, fact_id: str, patient: str, **fields: Any) -> Any:
    return message_from_dict(
        {
            "type": kind,
            "fact_id": fact_id,
            "patient_id": patient,
            "occurred_at": T0.isoformat(),
            **fields,
        }
    )


def _registered(patient: str, name: str, **fields: Any) -> Any:
    return _fact("patient_registered", f"reg-{patient}", patient, name=name, **fields)


def open_ward(engine: Engine, clock: ManualClock) -> None:
    """Bring the ward to the morning of :data:`THE_DAY` (on the engine's thread)."""
    clock.set(T0)
    paid = [{"department": "endocrinology", "category": "consult", "amount_fen": 68_000}]
    engine.ingest(
        [
            _registered("P-1", "林女士", birth_date="1968-09-03", sex="female"),
            _fact("charge_paid", "chg-P-1", "P-1", charge_id="C-1", lines=paid),
            _fact("diagnosis_recorded", "dx-P-1", "P-1", icd10="E11.9", visit_id="V-1"),
            _registered("P-2", "陈先生"),
            _registered("P-3", "张女士"),
        ]
    )
    engine.execute(
        GrantConsent(
            key="consent-P-1",
            member_id="P-1",
            purpose="care",
            channels=("wecom", "sms"),
            given_by="P-1",
            source="paper form",
        )
    )
    clock.set(datetime(2026, 9, 3, 10, 0, tzinfo=SH))
    engine.tick()  # the second recheck missed: a call for 林女士's health manager
    engine.execute(
        RequestMessage(
            key="reminder-P-1",
            member_id="P-1",
            template_key="appointment_reminder",
            purpose="care",
            variables={"name": "林女士", "date": "9月10日", "department": "内分泌科"},
            reason="门诊预约提醒",
        )
    )
    _overdue_call(engine)
    engine.execute(
        CreateTask(
            key="visit-P-3",
            member_id="P-3",
            kind="visit",
            role="nurse",
            due_at=datetime(2026, 9, 4, 15, 0, tzinfo=SH),
            reason="术后回访",
        )
    )
    clock.set(THE_DAY)


def _overdue_call(engine: Engine) -> None:
    """陈先生's call: given to hm-01, then escalated with a due time already past."""
    engine.execute(
        CreateTask(
            key="call-P-2",
            member_id="P-2",
            kind="call",
            role="health_manager",
            due_at=datetime(2026, 9, 3, 12, 0, tzinfo=SH),
            reason="复诊未到，电话了解原因",
        )
    )
    engine.execute(
        AssignTask(
            key="assign-P-2", member_id="P-2", task_key="call-P-2", staff_id="hm-01", by="hm-01"
        )
    )
    engine.execute(
        EscalateTask(
            key="escalate-P-2",
            member_id="P-2",
            task_key="call-P-2",
            due_at=datetime(2026, 9, 4, 8, 0, tzinfo=SH),
            reason="逾期未联系",
        )
    )
