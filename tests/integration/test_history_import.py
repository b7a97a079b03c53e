"""Loading a hospital's history: the same records as running live, and nothing sent.

``tests/fixtures/history/three-patients.jsonl`` holds four years of three patients as a
HIS exports them, one patient after another: a type-2 diabetic with HbA1c rechecks, a
pregnancy, delivery and post-partum rehabilitation, and a knee replacement with its
rehabilitation. Imported at once, they end in the same points, tiers, journeys,
programmes, offers and tags as the same facts fed live with hourly ticks; no message or
task dated before the import reaches anyone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest

from membercore import journeys, ledger, reference_config, segments, tiers
from membercore.consent import GrantConsent, Purpose
from membercore.facts import Discharged, Fact, PatientRegistered
from membercore.plugins import make_plugin_manager
from membercore.serialization import message_from_dict, message_from_json
from membercore.service.engine import Engine
from membercore.service.history import in_time_order
from membercore.service.ingestion import ingest_batch
from membercore.service.member import Member
from membercore.service.recording import member_key
from membercore.testing.clock import ManualClock
from membercore_adapters.cli import main
from membercore_adapters.stores import memory, sqlite

SH = ZoneInfo("Asia/Shanghai")
HISTORY = Path(__file__).parent.parent / "fixtures" / "history" / "three-patients.jsonl"
CUTOFF = datetime(2025, 6, 1, 10, 0, tzinfo=SH)  # the import's start
PATIENTS = ("p-chen", "p-lin", "p-wang")


def _facts() -> list[Fact]:
    lines = HISTORY.read_text(encoding="utf-8").splitlines()
    facts = [message_from_dict(json.loads(line)) for line in lines]
    assert all(isinstance(fact, Fact) for fact in facts)
    return sorted(facts, key=lambda fact: fact.occurred_at)  # type: ignore[union-attr]


def _consents() -> list[tuple[datetime, GrantConsent]]:
    """Each patient's consent to care and marketing, given a minute after registering."""
    registered = {
        fact.patient_id: fact.occurred_at for fact in _facts() if fact.TYPE == "patient_registered"
    }
    purposes: tuple[Purpose, ...] = ("care", "marketing")
    return [
        (
            at + timedelta(minutes=1),
            GrantConsent(
                key=f"consent-{patient}-{purpose}",
                member_id=patient,
                purpose=purpose,
                channels=("wecom", "sms"),
                given_by=patient,
                source="app",
            ),
        )
        for patient, at in registered.items()
        for purpose in purposes
    ]


def _open(url: str) -> Engine:
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite])
    return Engine.open(
        url, config=reference_config(), clock=ManualClock(CUTOFF), plugin_manager=manager
    )


@pytest.fixture(params=["memory", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/history.db"


@pytest.fixture
def imported(url: str) -> Iterator[Engine]:
    with _open(url) as engine:
        inputs = [*_facts(), *_consents()]
        report = engine.ingest(in_time_order(inputs), history=True)
        assert (report.applied, report.rejected) == (len(inputs), 0)
        yield engine


def _hourly(engine: Engine, until: datetime) -> None:
    """Tick on the hour whenever something is due, up to ``until`` (hourly ticks)."""
    while due := engine.store.due(until, 1):
        hour = due[0][1].replace(minute=0, second=0, microsecond=0)
        hour += timedelta(hours=1) if hour < due[0][1] else timedelta(0)
        if hour > until:
            return
        engine.tick(hour)


def _live(engine: Engine, *, consents: bool = True) -> None:
    inputs = sorted(
        [(fact.occurred_at, fact) for fact in _facts()] + (_consents() if consents else []),  # type: ignore[operator]
        key=lambda pair: pair[0],
    )
    for at, message in inputs:
        _hourly(engine, at)
        engine.ingest([message], now=at)
    _hourly(engine, CUTOFF)
    engine.tick(CUTOFF)


def _state(member: Member) -> dict[str, Any]:
    config = reference_config()
    points = ledger.balances(member.ledger, config, CUTOFF)
    return {
        "points": (points.available, points.pending),
        "lots": sorted(
            (lot.lot.rule_id, lot.lot.points, lot.remaining) for lot in member.ledger.lots.values()
        ),
        "tier": tiers.tier_of(member.tier, config),
        "tier_history": [(c.at, c.from_tier, c.to_tier) for c in tiers.history(member.tier)],
        "journeys": {
            i.instance_id: (i.journey, i.state, i.ended, dict(i.steps), dict(i.counters), i.timers)
            for i in member.journeys.instances.values()
        },
        "programmes": sorted(member.programmes.programmes),
        "offers": sorted(
            (o.plan_key, o.made_at, o.expires_at) for o in member.offers.offers.values()
        ),
        "tags": sorted(segments.tags(member.profile)),
        "segment": segments.segment_of(member.profile),
    }


def _events(engine: Engine, patient: str) -> list[Any]:
    return [message_from_json(e.payload) for e in engine.store.events(member_key(patient))]


def test_an_imported_history_ends_where_running_live_with_hourly_ticks_ends(
    imported: Engine, url: str, tmp_path: Path
) -> None:
    live_url = "memory://" if url == "memory://" else f"sqlite:///{tmp_path}/live.db"
    with _open(live_url) as live:
        _live(live)
        for patient in PATIENTS:
            assert _state(imported.member(patient)) == _state(live.member(patient)), patient
        # Live, the programme reached people; the history reaches no one.
        assert list(live.store.outbox())
        assert list(live.store.tasks(None))


def test_nothing_dated_before_the_import_reaches_anyone(imported: Engine) -> None:
    assert list(imported.store.outbox()) == []
    assert list(imported.store.tasks(None)) == []
    skipped = [
        event
        for patient in PATIENTS
        for event in _events(imported, patient)
        if isinstance(event, journeys.JourneyActionSkipped)
    ]
    assert skipped
    assert {event.reason for event in skipped} == {"historical"}
    assert all(event.at < CUTOFF for event in skipped)
    issued = [
        event
        for patient in PATIENTS
        for event in _events(imported, patient)
        if isinstance(event, journeys.JourneyActionIssued)
        and event.action.name in ("send_message", "create_task")
    ]
    assert {event.key for event in issued} == {event.key for event in skipped}


def test_rule_a_fires_at_the_diagnosis_not_at_the_import(imported: Engine) -> None:
    diagnosis = next(
        f for f in _facts() if f.TYPE == "diagnosis_recorded" and f.patient_id == "p-chen"
    )
    started = next(
        e
        for e in _events(imported, "p-chen")
        if isinstance(e, journeys.JourneyStarted) and e.journey == "diabetes"
    )
    assert started.at == diagnosis.occurred_at
    enrolled = next(e for e in _events(imported, "p-chen") if e.TYPE == "programme_enrolled")
    assert enrolled.at == diagnosis.occurred_at
    assert "diabetes" in imported.member("p-chen").programmes.programmes


def test_time_goes_on_after_the_import_and_reaches_people_again(imported: Engine) -> None:
    # On his birthday the next year, the diabetic patient's greeting goes out.
    imported.tick(datetime(2026, 5, 20, 9, 30, tzinfo=SH))
    queued = [e for e in _events(imported, "p-chen") if e.TYPE == "message_queued"]
    assert [e.template_key for e in queued if e.template_key == "birthday"]
    assert all(e.decided_at >= CUTOFF for e in queued)


def test_membercore_import_loads_the_file_and_says_what_it_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path}/cli.db"
    assert main(["import", str(HISTORY), "--store", store, "--cutoff", CUTOFF.isoformat()]) == 0
    lines = len(HISTORY.read_text(encoding="utf-8").splitlines())
    assert f"{lines} 条已应用，0 条重复，0 条被拒" in capsys.readouterr().out
    with _open(store) as engine, _open("memory://") as live:
        assert list(engine.store.outbox()) == []
        assert list(engine.store.tasks(None)) == []
        chen = engine.member("p-chen")
        assert "diabetes" in chen.programmes.programmes
        (instance,) = journeys.active(chen.journeys, "diabetes")
        assert instance.started_at < CUTOFF - timedelta(days=3 * 365)
        # The same file fed live, fact by fact with hourly ticks, ends the same.
        _live(live, consents=False)
        for patient in PATIENTS:
            assert _state(engine.member(patient)) == _state(live.member(patient)), patient


def test_hba1c_rechecks_follow_the_last_value(imported: Engine) -> None:
    """Three months on while above 7 %, six once below; each from the result's instant."""
    labs = {f.fact_id: f for f in _facts() if f.TYPE == "lab_result_recorded"}
    moves = [
        e
        for e in _events(imported, "p-chen")
        if isinstance(e, journeys.JourneyMoved) and e.trigger_id in labs
    ]
    assert len(moves) == len(labs)
    for move in moves:
        lab = labs[move.trigger_id]
        above = float(lab.value) >= 7.0  # type: ignore[attr-defined]
        months = 3 if above else 6
        assert move.target == ("monitoring" if above else "at_target"), lab
        assert move.at == lab.occurred_at
        local = lab.occurred_at.astimezone(SH)
        month = local.month - 1 + months
        due = local.replace(year=local.year + month // 12, month=month % 12 + 1)
        assert sorted(t.due_at for t in move.timers) == [due, due], lab  # miss or second miss


def test_an_old_diagnosis_ingested_live_counts_from_when_it_was_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path}/late.db"
    lines = [line for line in HISTORY.read_text(encoding="utf-8").splitlines() if "p-chen" in line]
    feed = tmp_path / "chen.jsonl"
    feed.write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")  # registration, visit, E11
    assert main(["ingest", str(feed), "--store", store]) == 0
    assert "3 条已应用" in capsys.readouterr().out
    with _open(store) as engine:
        (diabetes,) = journeys.active(engine.member("p-chen").journeys, "diabetes")
        assert diabetes.started_at == datetime(2021, 3, 1, 10, 5, tzinfo=SH)
        # The intro course of 2021 is not sent years later; the programme says why.
        skipped = [
            e for e in _events(engine, "p-chen") if isinstance(e, journeys.JourneyActionSkipped)
        ]
        assert ("entry", "stale") in {(e.step, e.reason) for e in skipped}
        assert list(engine.store.outbox()) == []


def test_commands_in_a_history_file_go_with_the_facts_before_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registered = datetime(2025, 1, 1, 9, 0, tzinfo=SH)
    lines = [
        {"type": "patient_registered", "fact_id": "r-1", "patient_id": "p-x",
         "occurred_at": registered.isoformat(), "name": "许先生"},
        # A consent written after the registration it follows: given then.
        {"type": "grant_consent", "key": "g-1", "member_id": "p-x", "purpose": "care",
         "channels": ["wecom"], "given_by": "p-x", "source": "app"},
        # A command paired with its own instant.
        [(registered + timedelta(days=30)).isoformat(),
         {"type": "withdraw_consent", "key": "w-1", "member_id": "p-x", "purpose": "care"}],
    ]  # fmt: skip
    feed = tmp_path / "x.jsonl"
    other = {"type": "patient_registered", "fact_id": "r-0", "patient_id": "p-y",
             "occurred_at": (registered + timedelta(days=60)).isoformat()}  # fmt: skip
    shuffled = [other, *lines]  # another patient's export first: lines go by their instants
    feed.write_text("\n".join(json.dumps(line) for line in shuffled) + "\n", "utf-8")
    store = f"sqlite:///{tmp_path}/x.db"
    assert main(["import", str(feed), "--store", store, "--cutoff", CUTOFF.isoformat()]) == 0
    assert "4 条已应用，0 条重复，0 条被拒" in capsys.readouterr().out
    with _open(store) as engine:
        events = _events(engine, "p-x")
        granted = next(e for e in events if e.TYPE == "consent_granted")
        withdrawn = next(e for e in events if e.TYPE == "consent_withdrawn")
        assert granted.at == registered
        assert withdrawn.at == registered + timedelta(days=30)
        assert engine.member("p-x").as_of < CUTOFF  # the journal never goes back in time


def test_an_import_run_again_after_a_crash_still_ends_at_its_cutoff(url: str) -> None:
    with _open(url) as engine:
        inputs = in_time_order([*_facts(), *_consents()])
        # The batches were taken, then the process died before the end of the import.
        ctx = attrs.evolve(engine.context, history=True, cutoff=CUTOFF, imported_at=CUTOFF)
        ingest_batch(engine, inputs, CUTOFF, ctx)
        again = engine.ingest(inputs, history=True)
        assert again.duplicates == len(inputs)
        engine.tick(CUTOFF + timedelta(days=1))  # the first live tick sends nothing old
        assert list(engine.store.outbox()) == []
        assert list(engine.store.tasks(None)) == []


def test_facts_alone_imported_again_after_a_crash_end_as_an_import_run_through() -> None:
    """Members whose facts were all taken before the crash are brought up to the cutoff
    by the import run again, although every one of their facts is now a duplicate."""
    inputs = in_time_order(_facts())
    with _open("memory://") as through:
        through.ingest(inputs, history=True)
        expected = {patient: _state(through.member(patient)) for patient in PATIENTS}
        journals = {patient: len(_events(through, patient)) for patient in PATIENTS}
    with _open("memory://") as engine:
        ctx = attrs.evolve(engine.context, history=True, cutoff=CUTOFF, imported_at=CUTOFF)
        ingest_batch(engine, inputs, CUTOFF, ctx)  # taken, then the process died
        again = engine.ingest(inputs, history=True)
        assert again.duplicates == len(inputs)
        assert {patient: _state(engine.member(patient)) for patient in PATIENTS} == expected
        assert {patient: len(_events(engine, patient)) for patient in PATIENTS} == journals


def test_steps_after_an_early_cutoff_are_stale_as_they_would_be_live(url: str) -> None:
    with _open(url) as engine:
        discharged_at = CUTOFF - timedelta(days=6)
        registered = PatientRegistered(
            fact_id="r-z", patient_id="p-z", occurred_at=discharged_at - timedelta(days=1)
        )
        care = _consents()[0][1]
        discharge = Discharged(
            fact_id="d-z",
            patient_id="p-z",
            occurred_at=discharged_at,
            visit_id="ip",
            department="ortho",
        )
        inputs = [
            registered,
            attrs.evolve(care, member_id="p-z", key="c-z", given_by="p-z"),
            discharge,
        ]
        engine.ingest(
            in_time_order(inputs), history=True, cutoff=discharged_at - timedelta(hours=1)
        )
        engine.tick(CUTOFF)
        skipped = {
            (e.step, e.reason)
            for e in _events(engine, "p-z")
            if isinstance(e, journeys.JourneyActionSkipped)
        }
        # After the cutoff, but learnt of six days on: as stale as it would be live.
        assert {("entry", "stale"), ("day_1_call", "stale")} <= skipped
        assert list(engine.store.tasks(None)) == []


def test_an_export_patient_by_patient_with_commands_keeps_each_where_its_member_put_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def at(y: int, m: int, d: int, h: int = 9) -> str:
        return datetime(y, m, d, h, 0, tzinfo=SH).isoformat()

    mother, child = "p-mo", "p-ch"
    lines: list[object] = [
        # The child's block first, though she came later.
        {"type": "patient_registered", "fact_id": "r-2", "patient_id": child,
         "occurred_at": at(2025, 9, 1), "birth_date": "2025-08-20"},
        {"type": "checked_in", "fact_id": "c-2", "patient_id": child,
         "occurred_at": at(2025, 10, 1)},
        # The mother's block: her record, her consent, her household with the child in
        # it (placed after both were registered), her plan paid later.
        {"type": "patient_registered", "fact_id": "r-1", "patient_id": mother,
         "occurred_at": at(2024, 1, 10)},
        {"type": "grant_consent", "key": "g-1", "member_id": mother, "purpose": "care",
         "channels": ["wecom"], "given_by": mother, "source": "app"},
        {"type": "form_household", "key": "form", "household_id": "hh", "head_id": mother},
        {"type": "add_dependent", "key": "add", "household_id": "hh", "member_id": child,
         "relationship": "child", "guardian_id": mother},
        {"type": "charge_paid", "fact_id": "ch-1", "patient_id": mother,
         "occurred_at": at(2024, 3, 1), "charge_id": "c-1",
         "lines": [{"department": "internal", "category": "exam", "amount_fen": 10000}]},
        {"type": "subscribe", "key": "sub", "member_id": mother, "subscription_id": "s-1",
         "plan_key": "annual_599"},
        {"type": "record_payment", "key": "pay", "member_id": mother, "subscription_id": "s-1",
         "amount_fen": 59900, "paid_at": at(2024, 3, 1, 10)},
        {"type": "checked_in", "fact_id": "c-1", "patient_id": mother,
         "occurred_at": at(2025, 6, 3)},
    ]  # fmt: skip
    feed = tmp_path / "by-patient.jsonl"
    feed.write_text("\n".join(json.dumps(line) for line in lines) + "\n", "utf-8")
    store = f"sqlite:///{tmp_path}/n.db"
    assert main(["import", str(feed), "--store", store, "--cutoff", CUTOFF.isoformat()]) == 0
    assert f"{len(lines)} 条已应用，0 条重复，0 条被拒" in capsys.readouterr().out
    with _open(store) as engine:
        kinds = {e.TYPE: e for e in _events(engine, mother)}
        assert kinds["consent_granted"].at == datetime.fromisoformat(at(2024, 1, 10))
        assert kinds["subscription_activated"].at == datetime.fromisoformat(at(2024, 3, 1, 10))
        assert engine.member(child).household_id == "hh"
