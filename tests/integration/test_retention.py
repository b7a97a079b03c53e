"""Retention through ``Engine.retain``, on every first-party store.

A member is sent messages and a fact about them is refused; past the programme's
retention periods the message bodies (in the outbox and the journal), the addresses and
the raw payload go, while ids, statuses, outcomes, reasons and every figure stay; a
message still waiting keeps its body; a second pass finds nothing more.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import attrs

from membercore import Engine, reference_config
from membercore.config import Retention
from membercore.facts import Discharged, PatientRegistered
from membercore.ports import OutboxMessage
from membercore.privacy import EXPIRED
from membercore.service.recording import member_key
from membercore.service.retention import RetentionReport
from membercore.testing.clock import ManualClock

AT = datetime(2026, 3, 2, 2, tzinfo=UTC)
ME = "P-1"
PHONE = "+8613900001111"


class _Collecting:
    name = "sms"

    def send(self, message: OutboxMessage) -> str:
        return f"receipt-{len(message.message_id)}"


def _story(engine: Engine) -> None:
    engine.ingest(
        [PatientRegistered(fact_id="reg", patient_id=ME, occurred_at=AT, name="王芳", phone=PHONE)]
    )
    engine.record_consent(ME, "care", ["sms"], key="k-1", given_by=ME, source="app")
    engine.ingest(
        [
            Discharged(
                fact_id="dis",
                patient_id=ME,
                occurred_at=AT + timedelta(minutes=5),
                visit_id="ZY-1",
                department="surgery",
            ),
            {"type": "charge_paid", "fact_id": "bad", "patient_id": ME, "lines": "诊断 I10"},
        ]
    )
    engine.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    report = engine.dispatch({"sms": _Collecting()})
    assert report.delivered >= 1


def _bodies(engine: Engine) -> list[str]:
    events = engine.store.events(member_key(ME))
    return [json.loads(e.payload)["text"] for e in events if e.type == "message_queued"]


def test_details_past_their_period_go_and_the_figures_stay(store_url: str) -> None:
    clock = ManualClock(AT)
    with Engine.open(store_url, config=reference_config(), clock=clock) as engine:
        _story(engine)
        delivered = list(engine.store.outbox("delivered"))
        assert delivered
        assert {m.address for m in delivered} == {PHONE.removeprefix("+86")}
        assert all(text and text != EXPIRED for text in _bodies(engine))
        (letter,) = engine.store.dead_letters()
        assert "诊断 I10" in letter.payload
        pending = list(engine.store.outbox("pending"))
        at = engine.now()
        before = engine.measure(now=at)

        assert engine.retain(now=at + timedelta(days=30)) == RetentionReport()

        report = engine.retain(now=at + timedelta(days=400))
        assert report == RetentionReport(
            messages=len(delivered), journals=1, deliveries=len(delivered), dead_letters=1
        )
        kept = {m.message_id: m for m in engine.store.outbox()}
        for message in delivered:
            now_kept = kept[message.message_id]
            assert (now_kept.status, now_kept.receipt, now_kept.address) == (
                "delivered",
                message.receipt,
                None,
            )
            body = json.loads(now_kept.payload)
            assert body["text"] == EXPIRED
            assert set(body["variables"].values()) <= {EXPIRED}
            assert body["purpose"] == json.loads(message.payload)["purpose"]
        for message in pending:
            assert kept[message.message_id].payload == message.payload
        texts = _bodies(engine)
        assert texts.count(EXPIRED) == len(delivered)
        (gone,) = engine.store.dead_letters()
        assert attrs.evolve(gone, payload=letter.payload, reason=letter.reason) == letter
        assert gone.payload.startswith(EXPIRED)
        assert "I10" in letter.reason
        assert "I10" not in gone.payload + gone.reason
        assert gone.reason.startswith("charge_paid.")
        assert engine.measure(now=at) == before
        assert engine.member(ME).ledger == engine.member(ME).ledger

        assert engine.retain(now=at + timedelta(days=401)) == RetentionReport()


def test_a_period_of_zero_keeps_its_details_for_good(store_url: str) -> None:
    config = attrs.evolve(
        reference_config(), retention=Retention(message_days=0, delivery_days=0, dead_letter_days=0)
    )
    with Engine.open(store_url, config=config, clock=ManualClock(AT)) as engine:
        _story(engine)
        held = list(engine.store.outbox()), list(engine.store.dead_letters())
        assert engine.retain(now=AT + timedelta(days=10_000)) == RetentionReport()
        assert (list(engine.store.outbox()), list(engine.store.dead_letters())) == held
