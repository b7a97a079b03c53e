"""Erasure (PIPL Art. 47) through ``Engine.erase_member``, on every first-party store.

A member with a name, contact details, identifiers, a household, a referral, messages,
a task, a refused fact and a look-up is erased; then every row of every table of the
store is searched (packed columns unpacked) for their id, name, phone, e-mail, WeCom id,
identifier and date of birth, and none is found, while the points and the figures are
what they were and later facts about them are refused.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from membercore import Engine, reference_config
from membercore.errors import MemberErasedError, UnknownMemberError
from membercore.facts import (
    ChargeLine,
    ChargePaid,
    Discharged,
    Identifier,
    PatientRegistered,
    ReferralQualified,
    VisitCompleted,
)
from membercore.households import AddDependent, FormHousehold
from membercore.identity import MergeMembers
from membercore.ledger.commands import AdjustPoints
from membercore.outreach import RequestMessage
from membercore.ports import DeliveryReport, ErasureStore, Lookup, OutboxMessage
from membercore.service import delivery
from membercore.testing.clock import ManualClock
from membercore_adapters.stores.memory import MemoryStore
from membercore_adapters.stores.packing import unpack
from membercore_adapters.stores.postgres.urls import split_schema

AT = datetime(2026, 3, 2, 2, tzinfo=UTC)
ME = "P-1"
CHILD = "P-2"
FRIEND = "P-3"
#: What the store must not hold of the person once erased.
PERSONAL = (
    "王芳",
    "+8613900001111",
    "13900001111",  # the phone as the outbox keeps an address
    "wang.fang@example.cn",
    "wmWANGFANG01",
    "MR-556677",
)
BORN = "1980-05-06"
_ME = re.compile(r"(?<![0-9A-Za-z])P-1(?![0-9A-Za-z])")


class _Collecting:
    name = "sms"

    def send(self, message: OutboxMessage) -> str:
        return f"r-{message.message_id}"


def _story(engine: Engine) -> None:
    """A year of a member's life: every kind of row the store keeps about them."""
    later = AT + timedelta(minutes=5)
    engine.ingest(
        [
            PatientRegistered(
                fact_id="reg-1",
                patient_id=ME,
                occurred_at=AT,
                name="王芳",
                birth_date=date(1980, 5, 6),
                phone="+8613900001111",
                email="wang.fang@example.cn",
                wecom="wmWANGFANG01",
                identifiers=[Identifier(system="MR", value="MR-556677")],
            ),
            PatientRegistered(fact_id="reg-2", patient_id=CHILD, occurred_at=AT, name="小明"),
            PatientRegistered(fact_id="reg-3", patient_id=FRIEND, occurred_at=AT, name="李雷"),
        ]
    )
    engine.execute(FormHousehold(key="hh", household_id="H-1", head_id=ME))
    engine.execute(
        AddDependent(
            key="dep",
            household_id="H-1",
            member_id=CHILD,
            relationship="child",
            birth_date=date(2015, 1, 1),
            guardian_id=ME,
        )
    )
    engine.record_consent(ME, "care", ["sms", "wecom"], key="k-1", given_by=ME, source="app")
    engine.record_consent(ME, "marketing", ["sms"], key="k-2", given_by=ME, source="app")
    engine.ingest(
        [
            VisitCompleted(
                fact_id="v-1",
                patient_id=ME,
                occurred_at=later,
                visit_id="V-1",
                department="surgery",
            ),
            ChargePaid(
                fact_id="c-1",
                patient_id=ME,
                occurred_at=later,
                charge_id="C-1",
                lines=[ChargeLine(department="surgery", category="treatment", amount_fen=880_00)],
            ),
            Discharged(
                fact_id="dis-1",
                patient_id=ME,
                occurred_at=later,
                visit_id="V-1",
                department="surgery",
            ),
            VisitCompleted(
                fact_id="v-3",
                patient_id=FRIEND,
                occurred_at=later,
                visit_id="V-3",
                first_visit=True,
            ),
            ReferralQualified(
                fact_id="ref-1",
                patient_id=ME,
                occurred_at=later,
                referred_patient_id=FRIEND,
                visit_id="V-3",
            ),
        ]
    )
    # A fact refused, naming them: its raw payload is kept as a dead letter.
    bad = {"type": "charge_paid", "fact_id": "bad-1", "patient_id": ME, "lines": "lots"}
    engine.ingest([bad])
    engine.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    engine.dispatch({"sms": _Collecting(), "wecom": _Collecting()})
    engine.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    engine.tick()
    store = engine.store
    store.record_lookup(  # type: ignore[attr-defined]
        Lookup(at=engine.now(), who="hm-01", member_id=ME, purpose="follow-up call", via="api")
    )


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, (bytes, bytearray, memoryview)):
        yield unpack(bytes(value))
    elif value is not None:
        yield str(value)


def _everything(engine: Engine) -> list[tuple[str, str]]:
    """Every text in every row of every table of the store, with its table."""
    store = engine.store
    if isinstance(store, MemoryStore):
        return [(name, repr(held)) for name, held in vars(store).items()]
    if store.url.startswith("sqlite"):
        path = store.url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as db:
            tables = [
                t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            return [
                (table, text)
                for table in tables
                for row in db.execute(f"SELECT * FROM {table}")
                for value in row
                for text in _texts(value)
            ]
    libpq, schema, _ = split_schema(store.url)
    with psycopg.connect(libpq) as db:
        tables = [
            t
            for (t,) in db.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            )
        ]
        return [
            (table, text)
            for table in tables
            for row in db.execute(f'SELECT * FROM "{schema}"."{table}"')
            for value in row
            for text in _texts(value)
        ]


def test_an_erased_person_is_found_in_no_table_and_the_points_stay(store_url: str) -> None:
    clock = ManualClock(AT)
    with Engine.open(store_url, config=reference_config(), clock=clock) as engine:
        _story(engine)
        found = _everything(engine)
        assert any(_ME.search(text) for _, text in found)
        for value in (*PERSONAL, BORN):
            assert any(value in text for _, text in found), value
        before = engine.measure()
        balance = engine.member(ME).ledger.balance

        note = engine.erase_member(ME, "本人申请删除 (ticket 42)", by="dpo-01")

        assert (note.seq, note.by) == (1, "dpo-01")
        assert note.counts["records"] == 4  # theirs, their household, their child, their friend
        leaks = [
            (table, value)
            for table, text in _everything(engine)
            for value in (*PERSONAL, BORN)
            if value in text
        ] + [(table, ME) for table, text in _everything(engine) if _ME.search(text)]
        assert leaks == []
        assert isinstance(engine.store, ErasureStore)
        (kept,) = engine.store.erasures()
        assert kept.reason == "本人申请删除 (ticket 42)"
        assert len(kept.digests) == 2  # their id and their medical record number
        with pytest.raises(UnknownMemberError):
            engine.member(ME)
        after = engine.measure()
        assert after.liability == before.liability
        assert after == before
        pseudonymous = [m for m in engine.members() if m.member_id.startswith("erased-")]
        assert [m.ledger.balance for m in pseudonymous] == [balance]
        assert engine.member(FRIEND).identity.referred_by == pseudonymous[0].member_id


def test_later_facts_about_an_erased_person_are_refused_with_the_reason(store_url: str) -> None:
    clock = ManualClock(AT)
    with Engine.open(store_url, config=reference_config(), clock=clock) as engine:
        _story(engine)
        engine.erase_member(ME, "本人申请删除", by="dpo-01")
        later = engine.now()
        report = engine.ingest(
            [
                VisitCompleted(
                    fact_id="v-9",
                    patient_id=ME,
                    occurred_at=later,
                    visit_id="V-9",
                    department="surgery",
                ),
                PatientRegistered(
                    fact_id="reg-9",
                    patient_id="P-9",
                    occurred_at=later,
                    identifiers=[Identifier(system="MR", value="MR-556677")],
                ),
            ]
        )
        assert (report.applied, report.rejected) == (0, 2)
        reasons = [why for _, why in report.refusals]
        assert all("erased on 2026-03-05 (本人申请删除)" in why for why in reasons), reasons
        with pytest.raises(UnknownMemberError):
            engine.member("P-9")
        leaks = [
            table for table, text in _everything(engine) if _ME.search(text) or "MR-556677" in text
        ]
        assert leaks == []


@pytest.mark.parametrize("asked", [ME, "P-5"])
def test_a_person_merged_from_two_records_is_erased_whole_by_either_id(
    store_url: str, asked: str
) -> None:
    with Engine.open(store_url, config=reference_config(), clock=ManualClock(AT)) as engine:
        _story(engine)
        engine.ingest(
            [
                PatientRegistered(
                    fact_id="reg-5",
                    patient_id="P-5",
                    occurred_at=AT,
                    name="王芳（重复）",
                    phone="+8613600004444",
                    identifiers=[Identifier(system="MR", value="MR-555555")],
                )
            ]
        )
        engine.execute(
            MergeMembers(
                key="merge", member_id=ME, duplicate_id="P-5", operator="hm-01", reason="同一身份证"
            )
        )
        note = engine.erase_member(asked, "本人申请删除", by="dpo-01")
        assert note.counts["records"] >= 5  # both of theirs, and who names them
        five = re.compile(r"(?<![0-9A-Za-z])P-5(?![0-9A-Za-z])")
        values = (*PERSONAL, "王芳（重复）", "+8613600004444", "13600004444", "MR-555555")
        leaks = [(t, v) for t, text in _everything(engine) for v in values if v in text]
        leaks += [(t, "id") for t, text in _everything(engine) if _ME.search(text)]
        leaks += [(t, "P-5") for t, text in _everything(engine) if five.search(text)]
        assert leaks == []
        later = engine.now()
        report = engine.ingest(
            [
                VisitCompleted(fact_id="v-5", patient_id="P-5", occurred_at=later, visit_id="V-5"),
                PatientRegistered(
                    fact_id="reg-6",
                    patient_id="P-6",
                    occurred_at=later,
                    identifiers=[Identifier(system="MR", value="mr-555555")],
                ),
            ]
        )
        assert (report.applied, report.rejected) == (0, 2)


def test_commands_and_facts_naming_an_erased_person_or_their_pseudonym_are_refused(
    store_url: str,
) -> None:
    with Engine.open(store_url, config=reference_config(), clock=ManualClock(AT)) as engine:
        _story(engine)
        note = engine.erase_member(ME, "本人申请删除", by="dpo-01")
        assert note.counts["lookups"] == 1
        (pseudonym,) = [m.member_id for m in engine.members() if m.member_id.startswith("erased-")]
        with pytest.raises(MemberErasedError, match="erased on 2026-03-05"):
            engine.member(ME)
        with pytest.raises(MemberErasedError):
            engine.execute(
                AdjustPoints(key="adj", member_id=ME, points=5, reason="补偿", operator="cs-01")
            )
        with pytest.raises(MemberErasedError, match="pseudonymous record"):
            engine.erase_member(pseudonym, "again", by="dpo-01")
        later = engine.now()
        report = engine.ingest(
            [
                {
                    "type": "adjust_points",
                    "key": "adj-2",
                    "member_id": ME,
                    "points": 5,
                    "reason": "王芳 补偿",
                    "operator": "cs-01",
                },
                VisitCompleted(
                    fact_id="v-p", patient_id=pseudonym, occurred_at=later, visit_id="V-P"
                ),
                PatientRegistered(
                    fact_id="reg-7",
                    patient_id="P-7",
                    occurred_at=later,
                    identifiers=[Identifier(system="MR", value=" mr-556677 ")],
                ),
            ]
        )
        assert (report.applied, report.rejected) == (0, 3)
        reasons = [why for _, why in report.refusals]
        assert "erased on" in reasons[0]
        assert "nothing more is decided on it" in reasons[1]
        assert "erased on" in reasons[2]
        letters = [d for d in engine.store.dead_letters() if d.fact_id in ("adj-2", "v-p", "reg-7")]
        assert {d.payload for d in letters} == {"已删除"}


def test_a_household_whose_id_was_made_from_the_persons_moves_with_its_members(
    store_url: str,
) -> None:
    with Engine.open(store_url, config=reference_config(), clock=ManualClock(AT)) as engine:
        engine.ingest(
            [
                PatientRegistered(fact_id="r-1", patient_id=ME, occurred_at=AT, name="王芳"),
                PatientRegistered(fact_id="r-2", patient_id=CHILD, occurred_at=AT, name="小明"),
            ]
        )
        engine.execute(FormHousehold(key="hh", household_id="H-P-1", head_id=ME))
        engine.execute(
            AddDependent(key="dep", household_id="H-P-1", member_id=CHILD, relationship="spouse")
        )
        engine.erase_member(ME, "本人申请删除", by="dpo-01")
        household = engine.member(CHILD).household_id
        assert household is not None
        assert household.startswith("H-erased-")
        held = engine.household(household)
        assert held is not None
        assert held.household_id == household
        assert engine.household("H-P-1") is None
        leaks = [(t, "id") for t, text in _everything(engine) if _ME.search(text)]
        assert leaks == []


class _Erasing:
    """An SMS provider that takes every message; while it takes P-1's first, P-1 is erased.

    The erasure is another process's (a data protection officer's), committing while the
    dispatcher holds P-1's messages.
    """

    name = "sms"

    def __init__(self, other: Engine) -> None:
        self.other = other
        self.taken: list[str] = []

    def send(self, message: OutboxMessage) -> str:
        if message.key == f"member:{ME}" and not self.taken:
            self.other.erase_member(ME, "本人申请", by="dpo-01")
        self.taken.append(message.message_id)
        return f"r-{message.message_id}"


@pytest.mark.parametrize(("at_once", "taken"), [(delivery.CHECKED_AT_ONCE, 4), (1, 3)])
def test_an_erasure_while_the_persons_message_is_with_its_channel_stops_no_dispatch(
    store_url: str, monkeypatch: pytest.MonkeyPatch, at_once: int, taken: int
) -> None:
    monkeypatch.setattr(delivery, "CHECKED_AT_ONCE", at_once)
    clock = ManualClock(AT)
    config = reference_config()
    with (
        Engine.open(store_url, config=config, clock=clock) as engine,
        Engine.open(store_url, config=config, clock=clock) as other,
    ):
        # memory:// is one process's: the erasure runs in the channel's call all the same.
        eraser = engine if store_url.startswith("memory") else other
        for patient in (ME, FRIEND):
            engine.ingest(
                [PatientRegistered(fact_id=f"reg-{patient}", patient_id=patient, occurred_at=AT)]
            )
            engine.record_consent(
                patient, "care", ["sms"], key=f"k-{patient}", given_by=patient, source="app"
            )
            for n in range(2):
                engine.execute(_ask(patient, f"ask-{patient}-{n}"))
        channel = _Erasing(eraser)
        engine.dispatch({"sms": channel})
        # Checked at the hand-over before the erasure, P-1's messages of that part went to
        # the provider (what it said of them is nobody's to keep: the erasure cancelled
        # them); checked after it, P-1's second went nowhere. The friend's two were
        # delivered and recorded.
        assert len(channel.taken) == taken
        outbox = list(engine.store.outbox())
        assert [m.status for m in outbox if m.key == f"member:{FRIEND}"] == ["delivered"] * 2
        assert [m.status for m in outbox if m.key != f"member:{FRIEND}"] == ["cancelled"] * 2
        assert not any(ME in m.message_id for m in outbox if m.key != f"member:{FRIEND}")
        assert engine.store.pending_outbox(AT + timedelta(days=1), 10) == []


def _ask(patient: str, key: str) -> RequestMessage:
    """A care message asked for ``patient``: the HbA1c recheck."""
    return RequestMessage(
        key=key,
        member_id=patient,
        template_key="hba1c_recheck",
        purpose="care",
        variables={"name": "王"},
        reason="test",
    )


class _Undelivered:
    """An SMS provider that takes every message and later reports each undeliverable."""

    name = "sms"

    def send(self, message: OutboxMessage) -> str:
        return f"r-{message.message_id}"

    def reports(self, awaiting: Sequence[OutboxMessage], now: datetime) -> list[DeliveryReport]:
        return [
            DeliveryReport(message_id=m.message_id, delivered=False, at=now, detail="UNDELIV")
            for m in awaiting
        ]


def test_a_providers_late_word_on_an_erased_persons_message_makes_no_work(
    store_url: str,
) -> None:
    clock = ManualClock(AT)
    with Engine.open(store_url, config=reference_config(), clock=clock) as engine:
        engine.ingest(
            [PatientRegistered(fact_id="reg", patient_id=ME, occurred_at=AT, phone="13900001111")]
        )
        engine.record_consent(ME, "care", ["sms", "phone"], key="k", given_by=ME, source="app")
        engine.execute(_ask(ME, "ask"))
        channel = _Undelivered()
        assert engine.dispatch({"sms": channel}).delivered == 1
        clock.advance(timedelta(hours=1))
        engine.erase_member(ME, "本人申请", by="dpo-01")
        clock.advance(timedelta(hours=1))
        read = engine.read_reports({"sms": channel})
        # The report is read (and its outcome kept on the message), but the erased
        # person's record decides nothing more: no fallback message, no staff call.
        assert read.undeliverable == 1
        assert list(engine.store.tasks(None)) == []
        assert engine.store.pending_outbox(AT + timedelta(days=1), 10) == []
        assert [m.outcome for m in engine.store.outbox()] == ["undeliverable"]
