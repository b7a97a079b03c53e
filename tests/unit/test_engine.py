"""The engine over a real store: ingestion, dead letters, commands and views.

Engines are opened with a plugin manager holding the first-party stores only, so that
what a test sees is the reference programme's doing and not that of whichever plugin
distribution happens to be installed. The pipeline and households through the engine
are in test_engine_pipeline.py, store failures and version conflicts in
test_engine_failures.py, properties over generated feeds in test_engine_properties.py.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from membercore import ledger, reference_config
from membercore.consent import ConsentGranted, GrantConsent, Purpose
from membercore.errors import (
    InsufficientPointsError,
    UnknownMemberError,
    UnknownStoreError,
)
from membercore.facts import ChargeLine, ChargePaid, CheckedIn, DiagnosisRecorded, PatientRegistered
from membercore.identity import CommandTaken
from membercore.ledger.commands import AdjustPoints, Redeem
from membercore.ports import Store
from membercore.serialization import message_from_json, message_to_dict
from membercore.service.engine import Engine, IngestReport
from membercore.service.recording import member_key
from membercore.testing.clock import ManualClock

SH = ZoneInfo("Asia/Shanghai")
# A Monday morning in Shanghai, outside quiet hours.
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
FAR = datetime(2100, 1, 1, tzinfo=UTC)
CONFIG = reference_config()
ME = "p-lin"


def _registration(patient: str = ME) -> PatientRegistered:
    return PatientRegistered(fact_id=f"reg-{patient}", patient_id=patient, occurred_at=T0)


def _charge(yuan: int, *, fact_id: str, patient: str = ME) -> ChargePaid:
    """An exam paid out of pocket; the charge id is ``ch-<fact id>``."""
    line = ChargeLine(department="internal", category="exam", amount_fen=yuan * 100)
    return ChargePaid(
        fact_id=fact_id,
        patient_id=patient,
        occurred_at=T0,
        charge_id=f"ch-{fact_id}",
        lines=(line,),
    )


def _check_in(fact_id: str) -> CheckedIn:
    return CheckedIn(fact_id=fact_id, patient_id=ME, occurred_at=T0)


def _consent(purpose: Purpose = "care") -> GrantConsent:
    return GrantConsent(
        key=f"consent-{purpose}",
        member_id=ME,
        purpose=purpose,
        channels=("wecom", "sms"),
        given_by=ME,
        source="app",
    )


def _stored(store: Store, *members: str) -> dict[str, Any]:
    """Everything the store holds about ``members``, and its shared listings."""
    keys = [member_key(member) for member in members]
    return {
        "records": {key: (r.version, r.snapshot) for key, r in store.load(keys).items()},
        "events": {key: store.events(key) for key in keys},
        "outbox": list(store.outbox()),
        "dead_letters": list(store.dead_letters()),
        "tasks": list(store.tasks(None)),
        "due": store.due(FAR, 1000),
    }


def _points(engine: Engine, member: str = ME, at: datetime = T0) -> ledger.Balances:
    return ledger.balances(engine.member(member).ledger, CONFIG, at)


def _journal(engine: Engine, member: str = ME) -> list[Any]:
    return [message_from_json(event.payload) for event in engine.store.events(member_key(member))]


# -- ingestion: counts, duplicates, conflicting content ----------------------------------


def test_a_batch_reports_what_it_applied_what_was_a_duplicate_and_what_it_refused(
    engine: Engine,
) -> None:
    paid = _charge(100, fact_id="f-1")
    report = engine.ingest(
        [_registration(), paid, paid, _charge(7, fact_id="f-1"), {"type": "nonsense"}]
    )
    refusals = (
        (3, "fact id 'f-1' was taken before with other content"),
        (4, "nonsense.type = 'nonsense': unknown message type"),
    )
    assert report == IngestReport(applied=2, duplicates=1, rejected=2, commits=1, refusals=refusals)
    assert _points(engine).lifetime_earned == 100
    assert len(list(engine.store.dead_letters())) == 2


def test_a_report_places_each_duplicate_among_the_inputs_across_batches(
    engine: Engine,
) -> None:
    paid = _charge(100, fact_id="f-1")
    engine.ingest([_registration(), paid])
    bonus = AdjustPoints(key="a-1", member_id=ME, points=5, operator="s-1", reason="活动")
    engine.execute(bonus)
    small = Engine(
        engine.store, engine.config, clock=engine.clock, plugins=engine.plugins, batch_size=2
    )
    report = small.ingest([_charge(5, fact_id="f-2"), paid, bonus, _check_in("f-3"), paid])
    assert report.duplicated == (1, 2, 4)  # a fact and a command taken before, a fact again
    assert (report.applied, report.duplicates) == (2, 3)


def test_the_same_facts_in_a_later_batch_are_duplicates_and_change_nothing(
    engine: Engine, clock: ManualClock
) -> None:
    engine.ingest([_registration()])
    engine.execute(_consent())
    feed = [
        _charge(300, fact_id="f-1"),
        _check_in("f-2"),
        DiagnosisRecorded(
            fact_id="f-3", patient_id=ME, occurred_at=T0, icd10="E11.9", visit_id="v"
        ),
    ]
    first = engine.ingest(feed)
    assert (first.applied, first.duplicates) == (3, 0)
    before = _stored(engine.store, ME)
    clock.advance(timedelta(days=3))
    again = engine.ingest([*feed, feed[0]])
    assert again == IngestReport(duplicates=4)
    assert _stored(engine.store, ME) == before


def test_a_fact_id_taken_before_with_other_content_is_refused_and_nothing_of_it_applies(
    engine: Engine,
) -> None:
    engine.ingest([_registration(), _charge(100, fact_id="f-1")])
    before = _stored(engine.store, ME)
    report = engine.ingest([_charge(900, fact_id="f-1")])
    (letter,) = engine.store.dead_letters()
    assert report == IngestReport(rejected=1, commits=1, refusals=((0, letter.reason),))
    assert (letter.fact_id, letter.fact_type) == ("f-1", "charge_paid")
    assert "'f-1'" in letter.reason
    assert json.loads(letter.payload)["lines"][0]["amount_fen"] == 90_000
    after = _stored(engine.store, ME)
    assert (after["records"], after["events"]) == (before["records"], before["events"])
    assert _points(engine).lifetime_earned == 100


def test_a_fact_id_repeated_with_other_content_in_one_batch_keeps_the_first(
    engine: Engine,
) -> None:
    report = engine.ingest(
        [_registration(), _charge(100, fact_id="f-1"), _charge(900, fact_id="f-1")]
    )
    assert (report.applied, report.rejected) == (2, 1)
    (letter,) = engine.store.dead_letters()
    assert "'f-1'" in letter.reason
    assert _points(engine).lifetime_earned == 100


def test_two_different_inputs_refused_under_one_fact_id_are_both_kept(engine: Engine) -> None:
    engine.ingest([_registration(), _charge(100, fact_id="f-1")])
    report = engine.ingest([_charge(200, fact_id="f-1"), _charge(300, fact_id="f-1")])
    assert report.rejected == 2
    # Bad input is never silently dropped: each refused input keeps its own dead letter.
    amounts = sorted(
        json.loads(letter.payload)["lines"][0]["amount_fen"]
        for letter in engine.store.dead_letters()
    )
    assert amounts == [20_000, 30_000]


# -- ingestion: dead letters --------------------------------------------------------------


_GOOD = message_to_dict(_charge(50, fact_id="f-bad"))


def _without(data: dict[str, Any], field: str) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key != field}


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        pytest.param(_without(_GOOD, "charge_id"), "charge_id", id="missing-field"),
        pytest.param({**_GOOD, "type": "heart_rate_measured"}, "unknown message type", id="tag"),
        pytest.param('{"type": "checked_in", "fact_id": ', "not JSON", id="bad-json"),
        pytest.param({**_GOOD, "occurred_at": "2026-03-02T10:00:00"}, "timezone", id="naive"),
        pytest.param(
            json.dumps({**_GOOD, "lines": []}), "at least one line", id="json-text-invalid"
        ),
        pytest.param(42, "not a fact or a command", id="not-a-message"),
    ],
)
def test_a_malformed_input_goes_to_the_dead_letters_and_the_rest_of_the_batch_applies(
    engine: Engine, raw: object, says: str
) -> None:
    report = engine.ingest([_registration(), raw, _charge(100, fact_id="f-ok")])
    assert (report.applied, report.rejected) == (2, 1)
    (letter,) = engine.store.dead_letters()
    assert says in letter.reason
    if isinstance(raw, str):
        assert letter.payload == raw
    elif isinstance(raw, dict):
        assert json.loads(letter.payload) == raw
    assert _points(engine).lifetime_earned == 100


def test_a_fact_about_an_unknown_patient_is_refused_and_taken_once_they_register(
    engine: Engine,
) -> None:
    early = _charge(100, fact_id="f-early", patient="p-new")
    report = engine.ingest([early, _registration("p-other")])
    assert (report.applied, report.rejected) == (1, 1)
    (letter,) = engine.store.dead_letters()
    assert letter.fact_id == "f-early"
    assert "p-new" in letter.reason
    with pytest.raises(UnknownMemberError):
        engine.member("p-new")
    # A refused fact was never taken: sent again after the registration, it applies.
    again = engine.ingest([_registration("p-new"), early])
    assert (again.applied, again.duplicates) == (2, 0)
    assert _points(engine, "p-new").lifetime_earned == 100


def test_without_required_registration_a_fact_opens_the_record(
    clock: ManualClock, open_engine: Callable[..., Engine]
) -> None:
    with open_engine("memory://", clock, require_registration=False) as engine:
        assert engine.ingest([_charge(100, fact_id="f-1", patient="p-x")]).applied == 1
        assert _points(engine, "p-x").lifetime_earned == 100


def test_a_command_a_part_refuses_goes_to_the_dead_letters_and_the_rest_applies(
    engine: Engine,
) -> None:
    engine.ingest([_registration(), _charge(100, fact_id="f-1")])
    too_many = Redeem(key="redeem-1", member_id=ME, points=50)  # the 100 points still vest
    report = engine.ingest([too_many, _check_in("f-2")])
    assert (report.applied, report.rejected) == (1, 1)
    (letter,) = engine.store.dead_letters()
    assert (letter.fact_id, letter.fact_type) == ("redeem-1", "redeem")
    assert "insufficient points" in letter.reason
    assert _points(engine).lifetime_earned == 101
    # Once the refund window is over the points vest and the same redemption is taken.
    after = T0 + timedelta(days=8)
    assert engine.ingest([too_many], now=after).applied == 1
    assert _points(engine, at=after).redeemed == 50


# -- execute ------------------------------------------------------------------------------


def test_a_refused_command_raises_the_domain_error_and_stores_nothing(engine: Engine) -> None:
    engine.ingest([_registration(), _charge(100, fact_id="f-1")])
    before = _stored(engine.store, ME)
    with pytest.raises(InsufficientPointsError) as refused:
        engine.execute(Redeem(key="redeem-1", member_id=ME, points=500), now=T0 + timedelta(days=8))
    assert (refused.value.requested, refused.value.available) == (500, 100)
    assert _stored(engine.store, ME) == before


def test_a_command_for_an_unknown_member_raises_unknown_member_error(engine: Engine) -> None:
    with pytest.raises(UnknownMemberError):
        engine.execute(Redeem(key="redeem-1", member_id="p-nobody", points=1))
    with pytest.raises(UnknownMemberError):
        engine.member("p-nobody")
    assert list(engine.store.scan()) == []


def test_execute_returns_exactly_the_events_it_stored(engine: Engine) -> None:
    engine.ingest([_registration()])
    stored_before = len(engine.store.events(member_key(ME)))
    events = engine.execute(_consent("care"))
    assert list(events) == _journal(engine)[stored_before:]
    # The command's key is spent on the record, whatever the command made.
    assert [type(event) for event in events] == [ConsentGranted, CommandTaken]


def test_the_same_command_twice_changes_nothing_the_second_time(engine: Engine) -> None:
    engine.ingest([_registration()])
    engine.execute(_consent("care"))
    before = _stored(engine.store, ME)
    assert engine.execute(_consent("care")) == ()
    assert _stored(engine.store, ME) == before


# -- views and stores ---------------------------------------------------------------------


def test_members_are_streamed_in_id_order(engine: Engine) -> None:
    engine.ingest([_registration(p) for p in ("p-b", "p-c", "p-a")])
    assert [m.member_id for m in engine.members()] == ["p-a", "p-b", "p-c"]
    assert engine.household("hh-none") is None


def test_a_url_no_plugin_serves_is_an_unknown_store(
    clock: ManualClock, open_engine: Callable[..., Engine]
) -> None:
    with pytest.raises(UnknownStoreError) as unknown:
        open_engine("mongodb://localhost/members", clock)
    assert "mongodb" in str(unknown.value)


def test_an_engine_reopened_on_its_sqlite_file_carries_on_where_it_left_off(
    tmp_path: Path, clock: ManualClock, open_engine: Callable[..., Engine]
) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    feed = [_registration(), _charge(300, fact_id="f-1"), _check_in("f-2")]
    with open_engine(url, clock) as first:
        first.ingest(feed)
        record = first.member(ME)
    with open_engine(url, clock) as again:
        assert again.member(ME) == record
        assert again.ingest(feed) == IngestReport(duplicates=3)
        assert [m.member_id for m in again.members()] == [ME]


# -- the garbage collector -----------------------------------------------------------------


@pytest.mark.parametrize("pause_gc", [True, False])
@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_paused_during_a_unit_of_work_only_when_asked_and_restored(
    clock: ManualClock, open_engine: Callable[..., Engine], pause_gc: bool, enabled: bool
) -> None:
    seen: list[bool] = []
    was = gc.isenabled()
    try:
        if not enabled:
            gc.disable()
        options = {"observers": [lambda _events: seen.append(gc.isenabled())]}
        with open_engine("memory://", clock, pause_gc=pause_gc, **options) as engine:
            engine.ingest([_registration()])
            engine.execute(_consent())
            assert gc.isenabled() is enabled  # as it was, after each unit of work
    finally:
        if was:
            gc.enable()
    # ingest and execute each commit once, the observer inside the unit of work
    assert len(seen) == 2
    assert set(seen) == {enabled and not pause_gc}


def _day_of_work(engine: Engine, patient: str) -> IngestReport:
    """Facts, a command a part refuses in the same batch (its changes undone), a tick."""
    report = engine.ingest(
        [
            _registration(patient),
            _charge(300, fact_id=f"{patient}-1", patient=patient),
            Redeem(key=f"{patient}-redeem", member_id=patient, points=10**6),
            _charge(200, fact_id=f"{patient}-2", patient=patient),
        ]
    )
    engine.tick(T0 + timedelta(days=400))
    return report


def test_a_unit_of_work_leaves_nothing_only_the_collector_could_free(
    clock: ManualClock, open_engine: Callable[..., Engine]
) -> None:
    """Records are freed by reference counting: nothing a unit of work made holds a cycle.

    What the collector would otherwise find after each unit of work (a record being
    worked on that held, through what its changes replaced, itself) is scanned in its
    passes over every record held, a large share of a long run's time.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        with open_engine("memory://", clock) as engine:
            _day_of_work(engine, "p-warm")  # converters and caches made once, on first use
            gc.collect()
            report = _day_of_work(engine, ME)
            assert report.applied == 3
            assert report.rejected == 1  # the undo path was taken
            assert gc.collect() == 0
    finally:
        if was:
            gc.enable()
