"""Bad input never stops the engine: each input is applied, a duplicate, or refused."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import cattrs
import pytest

import membercore
from membercore import (
    ChargeLine,
    ChargePaid,
    CheckedIn,
    DiagnosisRecorded,
    Engine,
    PatientRegistered,
    ReferralQualified,
    RefundIssued,
    VisitCompleted,
    households,
    reference_config,
)
from membercore.config import Plausibility
from membercore.errors import ImplausibleError, StorageError
from membercore.serialization import messages as serialization_messages
from membercore.serialization import records
from membercore.testing.clock import ManualClock

from .conftest import OpenEngine


def test_a_patient_id_with_slashes_takes_journeys_and_ticks_like_any_other(
    engine: Engine, clock: ManualClock
) -> None:
    ids = ["HIS/000123", "HIS|7:2/b", "P-1"]
    now = clock.now()
    report = engine.ingest(
        [
            *(PatientRegistered(fact_id=f"reg-{p}", patient_id=p, occurred_at=now) for p in ids),
            *(
                DiagnosisRecorded(
                    fact_id=f"dx-{p}", patient_id=p, occurred_at=now, icd10="E11.9", visit_id="v"
                )
                for p in ids
            ),
        ]
    )
    assert (report.applied, report.rejected) == (6, 0)
    for person in ids:
        assert "diabetes" in {journey.journey for journey in engine.journeys(person)}
    for day in range(1, 40):
        engine.tick(now + timedelta(days=day))
    assert engine.dead_letters() == []
    # The members with slashes went through the same steps as the one without.
    steps = {
        person: sorted(
            (instance.journey, instance.state)
            for instance in engine.member(person).journeys.instances.values()
        )
        for person in ids
    }
    assert steps["HIS/000123"] == steps["HIS|7:2/b"] == steps["P-1"]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("sqlite://", "names no database file"),
        ("sqlite:///", "names no database file"),
        ("sqlite:///a%00b.db", "not a usable file path"),
        ("sqlite:///x.db?mode=ro", "no query"),
    ],
)
def test_a_sqlite_url_that_would_keep_nothing_or_mislead_is_refused(
    open_engine: OpenEngine, clock: ManualClock, url: str, says: str
) -> None:
    with pytest.raises(StorageError, match=says):
        open_engine(url, clock)


def test_a_sqlite_path_is_percent_decoded(
    open_engine: OpenEngine, clock: ManualClock, tmp_path: Path
) -> None:
    with open_engine(f"sqlite:///{tmp_path}/two%20words.db", clock) as engine:
        engine.ingest([PatientRegistered(fact_id="r", patient_id="P", occurred_at=clock.now())])
    assert (tmp_path / "two words.db").exists()


@pytest.mark.parametrize("schema", ["public", "information_schema", "pg_catalog", "mc%0Atest"])
def test_a_postgres_schema_shared_or_misspelt_is_refused(postgres_url: str, schema: str) -> None:
    from membercore_adapters.stores.postgres import PostgresStore  # noqa: PLC0415

    with pytest.raises(StorageError, match=r"schema|control character"):
        PostgresStore.open(f"{postgres_url}?schema={schema}")
    newline = f"{postgres_url}?schema=mc\\ntest".replace("\\n", "\n")
    with pytest.raises(StorageError, match="control character"):
        PostgresStore.open(newline)


def test_the_public_schema_is_used_when_asked_for_by_name(postgres_url: str) -> None:
    import psycopg  # noqa: PLC0415
    from psycopg import sql  # noqa: PLC0415

    from membercore_adapters.stores.postgres import PostgresStore  # noqa: PLC0415

    # A database of the test's own, so that its public schema is nobody else's.
    database = f"mc_public_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    try:
        url = f"{postgres_url.rsplit('/', 1)[0]}/{database}?schema=public&shared_schema=yes"
        store = PostgresStore.open(url)
        try:
            assert store.schema == "public"
        finally:
            store.close()
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))


# -- every input is applied, a duplicate, or a dead letter: neighbours never pay ----------


def _neighbours(clock: ManualClock, n: int) -> tuple[CheckedIn, CheckedIn]:
    now = clock.now()
    return (
        CheckedIn(fact_id=f"before-{n}", patient_id="P-1", occurred_at=now),
        CheckedIn(fact_id=f"after-{n}", patient_id="P-2", occurred_at=now),
    )


def _registered(engine: Engine, clock: ManualClock) -> None:
    now = clock.now()
    engine.ingest(
        [
            PatientRegistered(fact_id=f"reg-{p}", patient_id=p, occurred_at=now)
            for p in ("P-1", "P-2")
        ]
    )


def _deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


def _deep_value(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = {"v": value}
    return value


_CHECK_IN = {"type": "checked_in", "fact_id": "bad", "patient_id": "P-1"}
_WHEN = "2026-03-02T10:00:00+08:00"
_BAD_INPUTS = {
    "json nested 100,000 deep": _deep_json(100_000),
    "a value nested 5,000 deep": {**_CHECK_IN, "occurred_at": _WHEN, "channel": _deep_value(5_000)},
    "a 5,000-digit number in JSON": '{"type": "checked_in", "fact_id": "bad", "n": '
    + "9" * 5_000
    + "}",
    "a 5,000-digit number in a dict": {**_CHECK_IN, "occurred_at": _WHEN, "n": 10**5_000},
    "an instant in year 1": {**_CHECK_IN, "occurred_at": "0001-01-01T00:00:00+00:00"},
    "an instant in year 9999": {**_CHECK_IN, "occurred_at": "9999-12-31T23:59:59+00:00"},
    "a lone surrogate in an id": {**_CHECK_IN, "patient_id": "S\ud800", "occurred_at": _WHEN},
    "a control character in an id": {**_CHECK_IN, "patient_id": "P\x00-1", "occurred_at": _WHEN},
    "a bidirectional control in an id": {
        **_CHECK_IN,
        "patient_id": "P\u202e-1",
        "occurred_at": _WHEN,
    },
    "text where a list is meant": {
        "type": "charge_paid",
        "fact_id": "bad",
        "patient_id": "P-1",
        "occurred_at": _WHEN,
        "charge_id": "c",
        "lines": "x" * 40_000,
    },
    "text where a table is meant": {
        "type": "charge_paid",
        "fact_id": "bad",
        "patient_id": "P-1",
        "occurred_at": _WHEN,
        "charge_id": "c",
        "lines": ["x"],
    },
    "a ten-megabyte name": {
        "type": "patient_registered",
        "fact_id": "bad",
        "patient_id": "P-9",
        "occurred_at": _WHEN,
        "name": "林" * 10_000_000,
    },
    "not an object": "[1, 2, 3]",
    "not JSON": "{'type': 'checked_in'",
    "a naive instant in a pair": (datetime(2026, 3, 2, 10, 0), {**_CHECK_IN, "occurred_at": _WHEN}),  # noqa: DTZ001
}


@pytest.mark.parametrize("bad", list(_BAD_INPUTS), ids=list(_BAD_INPUTS))
def test_a_malformed_input_is_a_bounded_dead_letter_and_costs_its_neighbours_nothing(
    engine: Engine, clock: ManualClock, bad: str
) -> None:
    _registered(engine, clock)
    before, after = _neighbours(clock, 1)
    report = engine.ingest([before, _BAD_INPUTS[bad], after])
    assert (report.applied, report.duplicates, report.rejected) == (2, 0, 1)
    (letter,) = engine.dead_letters()
    limits = engine.limits
    assert len(letter.reason) <= limits.max_reason + 60
    assert len(letter.payload) <= limits.max_payload + 60
    assert "unknown error" not in letter.reason
    assert engine.member("P-1").profile.interactions  # the neighbours were taken
    assert engine.member("P-2").profile.interactions


def test_the_reason_names_the_field_and_the_limit(engine: Engine, clock: ManualClock) -> None:
    _registered(engine, clock)
    engine.ingest(
        [_BAD_INPUTS["text where a list is meant"], _BAD_INPUTS["a 5,000-digit number in a dict"]]
    )
    reasons = [letter.reason for letter in engine.dead_letters()]
    assert "lines" in reasons[0]
    assert "40000 characters, more than 4000" in reasons[0]
    assert ".n" in reasons[1]
    assert "digits, more than 20" in reasons[1]


def test_json_text_with_a_number_past_the_limits_is_refused_naming_its_type_and_field(
    engine: Engine, clock: ManualClock
) -> None:
    _registered(engine, clock)
    digits = "1" * 30
    text = (
        '{"type": "charge_paid", "fact_id": "c-big", "patient_id": "P-1", '
        f'"occurred_at": "{clock.now().isoformat()}", "charge_id": "c-big", '
        '"lines": [{"department": "outpatient", "category": "exam", '
        f'"amount_fen": {digits}}}]}}'
    )
    report = engine.ingest([text])
    assert report.rejected == 1
    (letter,) = engine.dead_letters()
    assert letter.reason.startswith(f"charge_paid.lines[0].amount_fen = '{digits}'")
    assert letter.reason.endswith("a number of 30 digits, more than 20")


def test_text_where_a_list_is_meant_is_refused_even_when_short(
    engine: Engine, clock: ManualClock
) -> None:
    _registered(engine, clock)
    short = {**_BAD_INPUTS["text where a list is meant"], "lines": "xyz"}
    engine.ingest([short])
    (letter,) = engine.dead_letters()
    assert "lines" in letter.reason
    assert "expected a list, got text 'xyz'" in letter.reason


# -- plausibility: what could not have happened is refused with the bound -----------------


def _charge(fact_id: str, fen: int, clock: ManualClock, charge_id: str = "c-1") -> ChargePaid:
    line = ChargeLine(department="dental", category="treatment", amount_fen=fen)
    return ChargePaid(
        fact_id=fact_id,
        patient_id="P-1",
        occurred_at=clock.now(),
        charge_id=charge_id,
        lines=[line],
    )


def _refund(fact_id: str, fen: int, clock: ManualClock, charge_id: str = "c-1") -> RefundIssued:
    return RefundIssued(
        fact_id=fact_id,
        patient_id="P-1",
        occurred_at=clock.now(),
        charge_id=charge_id,
        amount_fen=fen,
    )


def _reasons(engine: Engine) -> list[str]:
    return [letter.reason for letter in engine.dead_letters()]


def test_absurd_amounts_points_and_instants_are_refused_naming_the_bound(
    engine: Engine, clock: ManualClock
) -> None:
    _registered(engine, clock)
    now = clock.now()
    report = engine.ingest(
        [
            _charge("huge", 10**30 // 10**12, clock),  # 10^18 fen
            CheckedIn(fact_id="old", patient_id="P-1", occurred_at=now.replace(year=1900)),
            PatientRegistered(
                fact_id="born-later", patient_id="P-3", occurred_at=now, birth_date=date(9999, 1, 1)
            ),
            PatientRegistered(
                fact_id="born-long-ago",
                patient_id="P-4",
                occurred_at=now,
                birth_date=date(1850, 1, 1),
            ),
        ]
    )
    assert (report.applied, report.rejected) == (0, 4)
    reasons = _reasons(engine)
    assert "lines[0].amount_fen" in reasons[0]
    assert "plausibility.max_line_fen" in reasons[0]
    assert "plausibility.history_days" in reasons[1]
    assert "birth_date" in reasons[2]
    assert "after the fact" in reasons[2]
    assert "plausibility.max_age_years" in reasons[3]
    with pytest.raises(ImplausibleError, match=r"plausibility\.max_points"):
        engine.adjust_points("P-1", 10**9, key="k", operator="s", reason="r")


def test_a_refund_of_an_unknown_charge_or_above_its_charge_is_refused(
    engine: Engine, clock: ManualClock
) -> None:
    _registered(engine, clock)
    engine.ingest([_charge("ch", 10_000, clock)])
    report = engine.ingest(
        [
            _refund("r-unknown", 100, clock, charge_id="c-never"),
            _refund("r-1", 6_000, clock),
            _refund("r-2", 5_000, clock),  # only 4,000 fen are left
            _refund("r-3", 4_000, clock),
        ]
    )
    assert (report.applied, report.rejected) == (2, 2)
    unknown, above = _reasons(engine)
    assert "c-never" in unknown
    assert "send the refund after its charge" in unknown
    assert "more than is left of charge c-1 (4000 of 10000 fen)" in above


def test_the_bounds_are_configuration(clock: ManualClock, open_engine: OpenEngine) -> None:
    config = reference_config()
    tight = attrs.evolve(config, plausibility=Plausibility(max_line_fen=1_000))
    with Engine.open("memory://", config=tight, clock=clock) as engine:
        _registered(engine, clock)
        assert engine.ingest([_charge("ch", 1_001, clock)]).rejected == 1
        assert engine.ingest([_charge("ch2", 1_000, clock)]).applied == 1


def test_inputs_are_not_kept_alive_once_the_engine_has_taken_or_refused_them(
    engine: Engine, clock: ManualClock
) -> None:
    import gc  # noqa: PLC0415
    import weakref  # noqa: PLC0415

    _registered(engine, clock)
    now = clock.now()
    taken = [CheckedIn(fact_id=f"ci-{n}", patient_id="P-1", occurred_at=now) for n in range(50)]
    refused = [{"type": "charge_paid", "lines": "x" * 200_000} for _ in range(50)]
    watched = [weakref.ref(fact) for fact in taken]
    report = engine.ingest([*taken, *refused])
    assert (report.applied, report.rejected) == (50, 50)
    del taken, refused
    gc.collect()
    assert all(ref() is None for ref in watched)
    assert max(len(letter.payload) for letter in engine.dead_letters()) < 21_000


# -- facts and commands built in code are held to the same types ---------------------------


def _built_badly(now: datetime) -> dict[str, object]:
    line = ChargeLine(department="d", category="treatment", amount_fen=12_345.67)  # type: ignore[arg-type]
    return {
        "a decimal amount": ChargePaid(
            fact_id="x1", patient_id="P-1", occurred_at=now, charge_id="c", lines=[line]
        ),
        "text for the lines": ChargePaid(
            fact_id="x2",
            patient_id="P-1",
            occurred_at=now,
            charge_id="c",
            lines="dental",  # type: ignore[arg-type]
        ),
        "dicts for the lines": ChargePaid(
            fact_id="x3",
            patient_id="P-1",
            occurred_at=now,
            charge_id="c",
            lines=[{"department": "d", "category": "t", "amount_fen": 100}],  # type: ignore[list-item]
        ),
        "text for a birth date": PatientRegistered(
            fact_id="x4",
            patient_id="P-1",
            occurred_at=now,
            birth_date="2020-02-30",  # type: ignore[arg-type]
        ),
        "bytes for an id": CheckedIn(fact_id=b"HIS-1", patient_id="P-1", occurred_at=now),  # type: ignore[arg-type]
        "a number for a channel": CheckedIn(
            fact_id="x6",
            patient_id="P-1",
            occurred_at=now,
            channel=5,  # type: ignore[arg-type]
        ),
        "a number for a name": PatientRegistered(
            fact_id="x7",
            patient_id="P-1",
            occurred_at=now,
            name=5,  # type: ignore[arg-type]
        ),
    }


@pytest.mark.parametrize(
    "bad", list(_built_badly(datetime.now(UTC))), ids=list(_built_badly(datetime.now(UTC)))
)
def test_a_fact_built_in_code_with_a_wrong_type_is_refused_and_never_stored(
    engine: Engine, clock: ManualClock, bad: str
) -> None:
    _registered(engine, clock)
    before, after = _neighbours(clock, 7)
    report = engine.ingest([before, _built_badly(clock.now())[bad], after])
    assert (report.applied, report.rejected) == (2, 1)
    engine._records = type(engine._records)(1)  # forget every decoded record
    assert engine.points("P-1").available >= 0  # the record reads as stored
    assert engine.member("P-2").profile.interactions


def test_a_command_built_in_code_with_a_wrong_type_is_refused_naming_the_field(
    engine: Engine, clock: ManualClock
) -> None:
    _registered(engine, clock)
    engine.execute(households.FormHousehold(key="h", household_id="h", head_id="P-1"))
    wrong = households.AddDependent(
        key="a",
        household_id="h",
        member_id="P-2",
        relationship=5,  # type: ignore[arg-type]
    )
    with pytest.raises(membercore.InvalidFactError, match="relationship"):
        engine.execute(wrong)
    assert engine.household("h") is not None


def test_one_charge_sent_again_under_another_message_id_is_refused_naming_the_first(
    engine: Engine, clock: ManualClock
) -> None:
    _registered(engine, clock)
    report = engine.ingest([_charge("HIS-0", 9_000_000, clock), _charge("HIS-1", 10_000, clock)])
    assert (report.applied, report.rejected) == (1, 1)
    (letter,) = engine.dead_letters()
    assert letter.fact_id == "HIS-1"
    assert "taken before as fact HIS-0" in letter.reason
    member = engine.member("P-1")
    assert member.ledger.lots  # the first, and only the first, earned
    assert [c.fact_id for c in member.profile.charges.values()] == ["HIS-0"]


def test_a_referral_of_oneself_earns_nothing(engine: Engine, clock: ManualClock) -> None:
    _registered(engine, clock)
    now = clock.now()
    # A referral pays only for a patient whose first visit the programme knows.
    engine.ingest(
        [
            PatientRegistered(fact_id="reg-P-2", patient_id="P-2", occurred_at=now),
            VisitCompleted(
                fact_id="visit-P-2",
                patient_id="P-2",
                occurred_at=now,
                visit_id="v",
                first_visit=True,
            ),
        ]
    )
    referrals = [
        ReferralQualified(
            fact_id=f"ref-{who}",
            patient_id="P-1",
            occurred_at=now,
            referred_patient_id=who,
            visit_id="v",
        )
        for who in ("P-1", "P-2")
    ]
    report = engine.ingest(referrals)
    assert (report.applied, report.rejected) == (1, 1)
    (themselves,) = (letter.reason for letter in engine.dead_letters())
    assert "refers themselves" in themselves


def test_a_charge_of_many_lines_is_bounded_as_a_whole(engine: Engine, clock: ManualClock) -> None:
    _registered(engine, clock)
    line = ChargeLine(department="d", category="treatment", amount_fen=100_000_000)
    huge = ChargePaid(
        fact_id="big",
        patient_id="P-1",
        occurred_at=clock.now(),
        charge_id="c",
        lines=[line] * 1_000,
    )
    assert engine.ingest([huge]).rejected == 1
    (letter,) = engine.dead_letters()
    assert "plausibility.max_charge_fen" in letter.reason


@pytest.mark.parametrize(
    "look_alike", [" P-1", "P-1 ", "P\u200b-1", "P\u00a0-1", "P\ufeff-1", "P\u2028-1"]
)
def test_an_id_that_only_looks_like_another_is_refused(
    engine: Engine, clock: ManualClock, look_alike: str
) -> None:
    report = engine.ingest(
        [PatientRegistered(fact_id="r", patient_id=look_alike, occurred_at=clock.now())]
    )
    assert report.rejected == 1
    (letter,) = engine.dead_letters()
    assert "patient_id" in letter.reason


def test_a_postgres_url_without_a_host_in_its_authority_works(postgres_url: str) -> None:
    from urllib.parse import urlsplit  # noqa: PLC0415

    from membercore_adapters.stores.postgres import PostgresStore  # noqa: PLC0415

    parts = urlsplit(postgres_url)
    host, user = parts.hostname or "127.0.0.1", parts.username or "postgres"
    schema = f"mc_test_{uuid.uuid4().hex[:12]}"
    query = f"host={host}&port={parts.port or 5432}&user={user}&schema={schema}"
    url = f"postgresql://{parts.path}?{query}"
    store = PostgresStore.open(url)
    try:
        assert store.schema == schema
    finally:
        store.close()
        import psycopg  # noqa: PLC0415
        from psycopg import sql  # noqa: PLC0415

        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def test_a_postgres_url_naming_its_schema_twice_is_refused(postgres_url: str) -> None:
    from membercore_adapters.stores.postgres import PostgresStore  # noqa: PLC0415

    with pytest.raises(StorageError, match="schema 2 times"):
        PostgresStore.open(f"{postgres_url}?schema=a&schema=b")


def test_a_command_without_a_key_is_applied_not_a_duplicate(
    engine: Engine, clock: ManualClock
) -> None:
    _registered(engine, clock)
    report = engine.ingest(
        [
            {"type": "expire_due", "member_id": "P-1"},
            {"type": "review_tier", "member_id": "P-1"},
            {"type": "refresh_profile", "member_id": "P-1"},
            {"type": "advance_subscriptions", "member_id": "P-1"},
        ]
    )
    assert (report.applied, report.duplicates) == (4, 0)


@pytest.mark.parametrize(
    "url",
    ["sqlite:///%20", "sqlite:///%ZZ.db", "sqlite:///dir/%20.db", "memory:// ", "memory:///foo"],
)
def test_a_store_url_with_an_unusable_name_is_refused(
    open_engine: OpenEngine, clock: ManualClock, url: str
) -> None:
    with pytest.raises(StorageError):
        open_engine(url, clock)


def test_a_value_outside_a_fixed_set_is_refused_listing_the_set(
    engine: Engine, clock: ManualClock
) -> None:
    engine.ingest(
        [
            {
                "type": "patient_registered",
                "fact_id": "r",
                "patient_id": "P-1",
                "occurred_at": clock.now().isoformat(),
                "sex": "X",
            }
        ]
    )
    (letter,) = engine.dead_letters()
    assert "expected one of 'female', 'male', got 'X'" in letter.reason
    assert "typing" not in letter.reason


def test_json_text_giving_a_key_twice_is_refused(engine: Engine, clock: ManualClock) -> None:
    _registered(engine, clock)
    text = (
        '{"type": "checked_in", "fact_id": "k", "patient_id": "P-1", '
        f'"occurred_at": "{clock.now().isoformat()}", "patient_id": "P-2"}}'
    )
    assert engine.ingest([text]).rejected == 1
    (letter,) = engine.dead_letters()
    assert "patient_id" in letter.reason
    assert "a key given twice in one object" in letter.reason


class _Gathering:
    """A converter that fails as cattrs does: what a field raised, gathered in a group."""

    def __init__(self, raised: Exception) -> None:
        self.raised = raised

    def structure(self, data: object, kind: type[Any]) -> Any:
        raise cattrs.errors.ClassValidationError(
            f"While structuring {kind.__name__}", [self.raised], kind
        )


def test_a_fault_of_the_machine_while_reading_an_input_stops_the_call_refusing_nothing(
    engine: Engine, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    registration = {
        "type": "patient_registered",
        "fact_id": "reg-m",
        "patient_id": "M1",
        "occurred_at": clock.now().isoformat(),
    }
    # No memory left (or an interruption a signal handler raised) is not the input's fault.
    monkeypatch.setattr(serialization_messages, "converter", lambda: _Gathering(MemoryError()))
    with pytest.raises(MemoryError):
        engine.ingest([registration])
    assert engine.dead_letters() == []
    # A bad value gathered the same way is the input's: refused, with the reason.
    monkeypatch.setattr(serialization_messages, "converter", lambda: _Gathering(ValueError("x")))
    assert engine.ingest([registration]).rejected == 1
    assert "not a valid value" in engine.dead_letters()[0].reason
    monkeypatch.undo()
    assert engine.ingest([registration]).applied == 1


def test_a_fault_of_the_machine_while_reading_a_stored_record_is_not_called_damage(
    tmp_path: Path, clock: ManualClock, open_engine: OpenEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    with open_engine(url, clock) as engine:
        _registered(engine, clock)
    with open_engine(url, clock) as engine:  # nothing decoded yet
        monkeypatch.setattr(records, "stored_converter", lambda: _Gathering(MemoryError()))
        with pytest.raises(MemoryError):
            engine.member("P-1")
        monkeypatch.setattr(records, "stored_converter", lambda: _Gathering(KeyError("x")))
        with pytest.raises(StorageError, match="could not be read back"):
            engine.member("P-1")
