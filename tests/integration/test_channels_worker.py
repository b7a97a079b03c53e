"""``membercore worker`` with WeCom and SMS configured, against the stand-in providers.

The programme is the reference one with ``[channels.wecom]`` (membercore-wecom) and
``[channels.sms]`` (membercore-sms, Tencent Cloud), credentials in the environment. Four
patients meet the reference journeys (a type-2 diabetes diagnosis, a discharge); the
worker, a process of its own, ticks and dispatches on the wall clock:

- a patient who is a health manager's WeCom contact gets the diabetes course by WeCom;
  the manager's confirmation is read back and noted as delivered;
- a patient reachable by SMS only gets it by SMS, with the provider template and its
  parameters; the delivery report is noted;
- a patient whose WeCom id is nobody's contact: WeCom refuses, and the message falls
  back to SMS;
- a patient pleased with a dental implant gets the referral invitation by SMS (a
  marketing template carrying the opt-out); their reply ``TD`` withdraws marketing
  consent by SMS, and care goes on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
import tomli_w

from membercore import Engine, reference_config
from membercore.config import ProgrammeConfig
from membercore.consent import GrantConsent, Purpose, allows
from membercore.facts import (
    ChargeLine,
    ChargePaid,
    DiagnosisRecorded,
    Discharged,
    PatientRegistered,
    SurveyAnswered,
)
from membercore.serialization import dump_config, load_config, message_from_stored
from membercore_sms.testing import TencentServer
from membercore_wecom.testing import WeComServer

SECRET_ID = "AKIDworkerTestSecretId0123456789"
SECRET_KEY = "worker-test-key-0123456789abcdef"
SDK_APP = "1400008888"
SIGN = "仁和医院"
MANAGER = "zhanghua"  # the health manager whose WeCom contacts the patients are
CONTACT = "wmWorkerPatientA"


def _sms_templates(config: ProgrammeConfig) -> dict[str, dict[str, Any]]:
    """A Tencent template for every programme template that may go by SMS."""
    return {
        template.key: {
            "id": str(2000 + n),
            "params": list(template.variables),
            **({"opt_out": True} if template.purpose == "marketing" else {}),
        }
        for n, template in enumerate(config.outreach.templates)
        if "sms" in template.channels
    }


def _programme(wecom: WeComServer, tencent: TencentServer) -> ProgrammeConfig:
    reference = reference_config()
    quiet_free = attrs.evolve(reference.outreach, quiet_start="00:00", quiet_end="00:00")
    tables = {
        "wecom": {
            "use": "wecom",
            "corp_id": wecom.corp_id,
            "secret_env": "WORKER_WECOM_SECRET",
            "default_sender": MANAGER,
            "base_url": wecom.base_url,
        },
        "sms": {
            "use": "tencent-sms",
            "secret_id_env": "WORKER_TENCENT_ID",
            "secret_key_env": "WORKER_TENCENT_KEY",
            "sdk_app_id": SDK_APP,
            "sign_name": SIGN,
            "endpoint": tencent.url,
            "templates": _sms_templates(reference),
        },
    }
    data = {**dump_config(attrs.evolve(reference, outreach=quiet_free)), "channels": tables}
    return load_config(data)


@pytest.fixture
def providers() -> Iterator[tuple[WeComServer, TencentServer]]:
    templates = {
        spec["id"]: len(spec["params"]) for spec in _sms_templates(reference_config()).values()
    }
    tencent = TencentServer(
        SECRET_ID, SECRET_KEY, sdk_app_id=SDK_APP, sign_name=SIGN, templates=templates
    )
    tencent.start()
    with WeComServer({MANAGER: (CONTACT,)}) as wecom:
        yield wecom, tencent
    tencent.stop()


def _patients(engine: Engine, at: datetime) -> None:
    def register(patient: str, **contact: str) -> PatientRegistered:
        return PatientRegistered(
            fact_id=f"reg-{patient}", patient_id=patient, occurred_at=at, name="王女士", **contact
        )

    engine.ingest(
        [
            register("A", wecom=CONTACT, phone="13800000001"),
            register("B", phone="13800000002"),
            register("C", wecom="wmNobodysContact", phone="13800000003"),
            register("D", phone="13800000004"),
        ],
        now=at,
    )
    grants: list[tuple[str, Purpose, tuple[Any, ...]]] = [
        ("A", "care", ("wecom", "sms")),
        ("B", "care", ("sms",)),
        ("C", "care", ("wecom", "sms")),
        ("D", "care", ("sms",)),
        ("D", "marketing", ("sms",)),
    ]
    for patient, purpose, channels in grants:
        engine.execute(
            GrantConsent(
                key=f"grant-{patient}-{purpose}",
                member_id=patient,
                purpose=purpose,
                channels=channels,
                given_by=patient,
                source="front desk",
            ),
            now=at,
        )
    later = at + timedelta(minutes=1)
    engine.ingest(
        [
            *(
                DiagnosisRecorded(
                    fact_id=f"dx-{p}", patient_id=p, occurred_at=later, icd10="E11.9", visit_id=p
                )
                for p in "ABC"
            ),
            Discharged(
                fact_id="out-D",
                patient_id="D",
                occurred_at=later,
                visit_id="ZY1",
                department="ortho",
            ),
            ChargePaid(
                fact_id="pay-D",
                patient_id="D",
                occurred_at=later,
                charge_id="F1",
                lines=[ChargeLine(department="dental", category="implant", amount_fen=1_200_000)],
            ),
            SurveyAnswered(
                fact_id="survey-D", patient_id="D", occurred_at=later, visit_id="ZY1", score=10
            ),
        ],
        now=later,
    )


def _without_nulls(data: Any) -> Any:
    """The programme as TOML holds it: a key left at None is a key left out."""
    if isinstance(data, dict):
        return {k: _without_nulls(v) for k, v in data.items() if v is not None}
    if isinstance(data, list):
        return [_without_nulls(v) for v in data]
    return data


def _until(what: str, done: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, f"the worker did not {what} in {seconds} s"
        time.sleep(0.2)


def _journal(engine: Engine, patient: str) -> list[Any]:
    return [message_from_stored(e.payload) for e in engine.store.events(f"member:{patient}")]


def test_the_worker_sends_by_wecom_and_sms_notes_what_came_back_and_takes_a_td(
    providers: tuple[WeComServer, TencentServer], tmp_path: Path
) -> None:
    wecom, tencent = providers
    config = _programme(wecom, tencent)
    programme = tmp_path / "programme.toml"
    programme.write_text(tomli_w.dumps(_without_nulls(dump_config(config))), encoding="utf-8")
    store = f"sqlite:///{tmp_path}/hospital.db"
    started = datetime.now(UTC) - timedelta(minutes=10)
    with Engine.open(store, config=config) as engine:
        _patients(engine, started)
    env = {
        **os.environ,
        "WORKER_WECOM_SECRET": wecom.contact_secret,
        "WORKER_TENCENT_ID": SECRET_ID,
        "WORKER_TENCENT_KEY": SECRET_KEY,
    }
    command = [sys.executable, "-m", "membercore_adapters.cli", "worker", "--store", store]
    command += ["--config", str(programme), "--tick-every", "1", "--dispatch-every", "0.5"]
    command += ["--reports-every", "0.5"]
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(command, env=env, stderr=log, text=True)
    try:
        # WeCom takes A's course; C's is refused (not a contact) and falls back to SMS.
        _until("hand A's and C's messages to WeCom", lambda: len(wecom.requests) >= 3)
        _until("send B's, C's and D's SMS", lambda: len(tencent.records) >= 5)
        (task,) = wecom.tasks
        assert task.customers == [CONTACT]
        assert task.sender == MANAGER
        # The manager confirms in WeCom; the provider reports the SMS delivered; D replies.
        wecom.set_status(task.msgid, CONTACT, 1, sent_at=int(time.time()))
        for record in tencent.records:
            tencent.report(record["SessionContext"], delivered=True)
        tencent.reply("+8613800000004", "TD")
        with Engine.open(store, config=config) as engine:

            def noted() -> bool:
                journals = {p: _journal(engine, p) for p in "ABCD"}
                delivered = [
                    p for p, j in journals.items() if any(e.TYPE == "message_delivered" for e in j)
                ]
                withdrawn = any(e.TYPE == "consent_withdrawn" for e in journals["D"])
                return sorted(delivered) == ["A", "B", "C", "D"] and withdrawn

            _until("note the reports and the reply", noted)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
        log.close()
    text = (tmp_path / "worker.log").read_text(encoding="utf-8")
    for secret in (wecom.contact_secret, SECRET_KEY, *wecom.planned_tokens):
        assert secret not in text
    with Engine.open(store, config=config) as engine:
        by_sms = {r["PhoneNumber"]: r for r in tencent.records}
        # B's course by SMS, with the provider template and its parameters.
        b = by_sms["+8613800000002"]
        course = _sms_templates(config)["diabetes_intro"]
        assert b["TemplateId"] == course["id"]
        assert b["TemplateParamSet"] == ["王女士"] * len(course["params"])
        # C's course fell back from WeCom to SMS.
        c = _journal(engine, "C")
        failed = [e for e in c if e.TYPE == "message_delivery_failed"]
        assert [f.channel for f in failed] == ["wecom"]
        fallback = [e for e in c if e.TYPE == "message_queued" and e.falls_back_from]
        assert [(e.channel, e.falls_back_from) for e in fallback] == [("sms", failed[0].message_id)]
        # D's referral invitation by SMS, through a template carrying the opt-out (with
        # the care messages of the discharge and the treatment); TD withdrew marketing.
        invitation = _sms_templates(config)["referral_invitation"]
        to_d = [r["TemplateId"] for r in tencent.records if r["PhoneNumber"] == "+8613800000004"]
        assert invitation["id"] in to_d
        assert invitation["opt_out"]
        consent = engine.member("D").consent
        assert not allows(consent, "marketing", "sms")
        assert allows(consent, "care", "sms")
