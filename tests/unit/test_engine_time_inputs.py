"""What a hospital may get wrong about time, refused or handled with a clear reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import pytest

from membercore import plans, reference_config
from membercore.config.journeys import Delay
from membercore.consent import GrantConsent
from membercore.errors import ConfigError, EngineError
from membercore.facts import AppointmentBooked, PatientRegistered, VisitCompleted
from membercore.households import AddDependent, FormHousehold
from membercore.ledger.commands import AdjustPoints, TransferPoints
from membercore.serialization import dump_config, load_config, message_from_json
from membercore.service.engine import Engine
from membercore.service.recording import member_key
from membercore.text import brief, span

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)


def test_a_history_cannot_end_after_the_present(engine: Engine) -> None:
    with pytest.raises(EngineError, match="after now"):
        engine.ingest([], now=T0, history=True, cutoff=T0 + timedelta(days=30))


def test_a_step_that_is_stale_at_once_is_refused_at_load() -> None:
    config = reference_config()
    (first, *rest) = config.journeys
    data = dump_config(config)
    data["journeys"][0]["entry_stale_after"] = {"hours": 0}
    with pytest.raises(ConfigError, match=r"journeys\[0\].*entry_stale_after needs a length"):
        load_config(data)
    broken = attrs.evolve(first, entry_stale_after=Delay())
    with pytest.raises(ConfigError, match="entry_stale_after needs a length"):
        attrs.evolve(config, journeys=(broken, *rest))


def test_an_instant_in_a_refusal_is_written_as_people_write_it(engine: Engine) -> None:
    engine.ingest([PatientRegistered(fact_id="r-1", patient_id="p-1", occurred_at=T0)], now=T0)
    far = datetime(2080, 3, 1, 9, 0, tzinfo=SH)
    booked = AppointmentBooked(
        fact_id="a-1",
        patient_id="p-1",
        occurred_at=T0,
        appointment_id="ap-1",
        department="internal",
        scheduled_at=far,
    )
    assert engine.ingest([booked], now=T0).rejected == 1
    (letter,) = engine.store.dead_letters()
    assert far.astimezone(UTC).isoformat() in letter.reason
    assert "datetime.datetime" not in letter.reason
    assert brief(T0.date()) == "2026-03-02"


def test_a_household_command_goes_after_the_registration_of_the_member_it_adds(
    engine: Engine,
) -> None:
    head = PatientRegistered(fact_id="r-head", patient_id="p-mother", occurred_at=T0)
    child_at = T0 + timedelta(minutes=20)
    child = PatientRegistered(fact_id="r-child", patient_id="p-child", occurred_at=child_at)
    inputs: list[object] = [
        head,
        FormHousehold(key="form", household_id="hh-1", head_id="p-mother"),
        child,
        AddDependent(
            key="add",
            household_id="hh-1",
            member_id="p-child",
            relationship="child",
            guardian_id="p-mother",
        ),
    ]
    report = engine.ingest(inputs, now=T0 + timedelta(hours=1))
    assert (report.applied, report.rejected) == (4, 0)
    assert engine.member("p-child").household_id == "hh-1"


def test_a_live_command_is_decided_when_it_came_not_at_the_fact_before_it(
    engine: Engine,
) -> None:
    registered = PatientRegistered(fact_id="r-1", patient_id="p-1", occurred_at=T0)
    engine.ingest([registered], now=T0)
    engine.execute(
        plans.Subscribe(key="s", member_id="p-1", subscription_id="s-1", plan_key="annual_599"),
        now=T0 + timedelta(hours=1),
    )
    arrived = T0 + timedelta(days=1)
    visit = VisitCompleted(
        fact_id="v-1", patient_id="p-1", occurred_at=arrived - timedelta(hours=1), visit_id="v-1"
    )
    paid = plans.RecordPayment(
        key="pay",
        member_id="p-1",
        subscription_id="s-1",
        amount_fen=59_900,
        paid_at=arrived - timedelta(minutes=30),
    )
    consent = GrantConsent(
        key="c", member_id="p-1", purpose="care", channels=("sms",), given_by="p-1", source="app"
    )
    report = engine.ingest([visit, paid, consent], now=arrived)
    assert (report.applied, report.rejected) == (3, 0)
    stored = engine.store.events(member_key("p-1"))
    (granted,) = [message_from_json(e.payload) for e in stored if e.type == "consent_granted"]
    assert granted.at == arrived  # given when the programme was told, not back-dated


def test_an_instant_given_as_text_in_code_is_refused_saying_so(engine: Engine) -> None:
    registered = PatientRegistered(fact_id="r-1", patient_id="p-1", occurred_at=T0)
    report = engine.ingest([("2026-03-02T10:00:00+08:00", registered)], now=T0)  # type: ignore[list-item]
    assert report.rejected == 1
    (letter,) = engine.store.dead_letters()
    assert "timezone-aware datetime, not text" in letter.reason


def test_points_that_expired_before_a_transfer_expire_once(engine: Engine) -> None:
    head, wife = "p-head", "p-wife"
    people = [
        PatientRegistered(fact_id=f"r-{who}", patient_id=who, occurred_at=T0)
        for who in (head, wife)
    ]
    engine.ingest(people, now=T0)
    engine.execute(FormHousehold(key="form", household_id="hh", head_id=head), now=T0)
    engine.execute(
        AddDependent(key="add", household_id="hh", member_id=wife, relationship="spouse"), now=T0
    )
    engine.execute(
        AdjustPoints(key="adj", member_id=head, points=1_000, operator="s", reason="r"), now=T0
    )
    engine.execute(
        AdjustPoints(key="adj-2", member_id=head, points=300, operator="s", reason="r"),
        now=T0 + timedelta(days=450),
    )
    later = T0 + timedelta(days=800)  # the first points have expired since; no tick came
    engine.execute(TransferPoints(key="tr", member_id=head, target_id=wife, points=100), now=later)
    stored = [message_from_json(e.payload) for e in engine.store.events(member_key(head))]
    postings = [e.posting_id for e in stored if e.TYPE == "points_posted"]
    assert len(postings) == len(set(postings))  # no expiry stored twice
    held = engine.points(head)
    assert (held.expired, held.balance) == (1_000, 200)


@pytest.mark.parametrize(
    ("delta", "said"),
    [
        (timedelta(0), "0 seconds"),
        (timedelta(microseconds=400), "less than a millisecond"),
        (timedelta(seconds=1), "1 second"),
        (timedelta(minutes=5), "5 minutes"),
        (timedelta(minutes=5, milliseconds=500), "5 minutes 500 milliseconds"),
        (timedelta(hours=1, minutes=30, seconds=59), "1 hour 30 minutes"),
        (timedelta(days=3, hours=2, minutes=4), "3 days 2 hours"),
        (timedelta(days=3, minutes=4), "3 days 4 minutes"),
        (timedelta(days=400), "400 days"),
        (-timedelta(hours=2), "-2 hours"),
    ],
)
def test_a_length_of_time_is_said_in_its_two_largest_units(delta: timedelta, said: str) -> None:
    assert span(delta) == said


def test_a_fact_from_the_future_says_by_how_much_in_plain_units(engine: Engine) -> None:
    registered = PatientRegistered(fact_id="r-1", patient_id="p-1", occurred_at=T0)
    engine.ingest([registered], now=T0)
    ahead = VisitCompleted(
        fact_id="v-1",
        patient_id="p-1",
        occurred_at=T0 + timedelta(days=3, hours=2),
        visit_id="V-1",
    )
    assert engine.ingest([ahead], now=T0).rejected == 1
    (letter,) = engine.store.dead_letters()
    assert f"is 3 days 2 hours after the decision instant {T0.astimezone(UTC).isoformat()}" in (
        letter.reason
    )
    assert letter.reason.endswith("beyond the allowed clock skew of 5 minutes")
    assert "day," not in letter.reason  # not Python's "3 days, 2:00:00"
