"""Data that lasts: fingerprints of the canonical stored form, schema versions, upcasters.

Fingerprints digest a message's fields as stored, without those left at their default,
so that a fact sent again after its type gained an optional field is still a duplicate;
those release 0.1.0 stored (a digest of ``repr``) are still accepted. Stored events,
records and snapshots are upcast from their schema version and read with tolerance of
keys this release does not know; inputs are read strictly.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore import ledger, reference_config
from membercore.errors import (
    IdempotencyConflictError,
    InvalidFactError,
    SchemaVersionError,
)
from membercore.facts import ChargeLine, ChargePaid, CheckedIn, PatientRegistered
from membercore.idempotency import (
    MARK,
    fingerprint,
    legacy_fingerprint,
    matches,
    replayed,
    seen_in,
)
from membercore.ledger import LedgerState
from membercore.ledger.commands import AdjustPoints, Redeem
from membercore.ledger.events import Posting
from membercore.outreach import RequestMessage
from membercore.ports import Commit, InboxEntry
from membercore.serialization import (
    canonical_form,
    canonical_json,
    message_from_dict,
    message_from_json,
    message_from_stored,
    message_to_dict,
    message_to_json,
    record_from_json,
    record_to_json,
    snapshot_from_dict,
    snapshot_to_dict,
)
from membercore.service.engine import Engine, IngestReport
from membercore.service.member import Member
from membercore.service.recording import member_key
from membercore.testing import Book
from membercore.testing import strategies as mst
from membercore.testing.clock import ManualClock
from membercore.upcasting import UPCASTERS, VERSION_KEY, Upcasters, schema_version
from membercore_adapters.stores.packing import pack_events, unpack_events

SH = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
CONFIG = reference_config()
ME = "p-lin"

messages = st.one_of(
    mst.facts(),
    mst.ledger_commands(),
    mst.transfers(),
    mst.tier_overrides(),
    mst.household_commands(),
)


def _paid(fact_id: str = "f-1", yuan: int = 1_200, charge_id: str = "ch-1") -> ChargePaid:
    return ChargePaid(
        fact_id=fact_id,
        patient_id=ME,
        occurred_at=T0,
        charge_id=charge_id,
        lines=(
            ChargeLine(
                department="internal", category="exam", amount_fen=yuan * 100, insurance_fen=20_000
            ),
            ChargeLine(department="internal", category="drug", amount_fen=8_000),
        ),
    )


def _registration(patient: str = ME) -> PatientRegistered:
    return PatientRegistered(fact_id=f"reg-{patient}", patient_id=patient, occurred_at=T0)


def _digest(data: dict[str, Any]) -> str:
    """The fingerprint rule, written out: the canonical JSON of the stored form, digested."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return MARK + hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


# -- fingerprints of the canonical stored form --------------------------------------------


def test_a_fingerprint_digests_the_stored_form_with_sorted_keys_and_without_defaults() -> None:
    paid = _paid()
    stored = message_to_dict(paid)
    del stored["lines"][1]["insurance_fen"]  # 0, its default
    assert canonical_form(paid) == stored
    assert canonical_json(paid) == json.dumps(
        stored, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert fingerprint(paid) == _digest(stored)
    assert fingerprint(paid).startswith(MARK)


def test_fingerprints_stay_what_they_are_across_processes_and_releases() -> None:
    # Pinned: a change here would make every fact stored so far look like other content.
    assert fingerprint(_paid()) == "w1:423dea557a427830e958"
    request = RequestMessage(
        key="ask-1",
        member_id=ME,
        template_key="annual_welcome",
        purpose="care",
        variables={"name": "林女士", "amount": "599"},
        reason="staff",
    )
    assert fingerprint(request) == "w1:5f5c307fd3790eb18745"


def test_the_offset_an_instant_was_given_in_does_not_change_a_fingerprint() -> None:
    in_shanghai = CheckedIn(fact_id="f-1", patient_id=ME, occurred_at=T0)
    in_utc = CheckedIn(fact_id="f-1", patient_id=ME, occurred_at=T0.astimezone(UTC))
    assert fingerprint(in_shanghai) == fingerprint(in_utc)


@attrs.frozen(kw_only=True)
class _LineBefore:
    amount_fen: int


@attrs.frozen(kw_only=True)
class _LineAfter:
    amount_fen: int
    ward: str | None = None


@attrs.frozen(kw_only=True)
class _Before:
    """A message type as one release has it."""

    TYPE: ClassVar[str] = "probe"
    fact_id: str
    at: datetime
    lines: tuple[_LineBefore, ...]


@attrs.frozen(kw_only=True)
class _After:
    """The same type a release later: optional fields with defaults, at two levels."""

    TYPE: ClassVar[str] = "probe"
    fact_id: str
    at: datetime
    lines: tuple[_LineAfter, ...]
    channel: str = "app"
    tags: tuple[str, ...] = attrs.field(factory=tuple)


def test_adding_an_optional_field_with_a_default_keeps_the_fingerprints() -> None:
    before = _Before(fact_id="f-1", at=T0, lines=(_LineBefore(amount_fen=100),))
    after = _After(fact_id="f-1", at=T0, lines=(_LineAfter(amount_fen=100),))
    assert fingerprint(after) == fingerprint(before)
    # Set to something else than its default, the new field is content.
    assert fingerprint(attrs.evolve(after, channel="kiosk")) != fingerprint(before)
    assert fingerprint(attrs.evolve(after, tags=("vip",))) != fingerprint(before)
    other_line = (_LineAfter(amount_fen=100, ward="7"),)
    assert fingerprint(attrs.evolve(after, lines=other_line)) != fingerprint(before)


def test_the_fingerprint_of_a_message_no_longer_held_is_not_kept_for_another() -> None:
    digests = {fingerprint(_paid(f"f-{n}", yuan=200 + n)) for n in range(50)}
    assert len(digests) == 50


@given(messages)
def test_a_message_read_back_from_its_stored_form_has_the_same_fingerprint(message: Any) -> None:
    text = message_to_json(message)
    assert fingerprint(message_from_json(text)) == fingerprint(message)
    assert fingerprint(message_from_stored(text)) == fingerprint(message)


@given(messages)
def test_the_canonical_form_is_the_stored_form_less_the_fields_at_their_default(
    message: Any,
) -> None:
    stored, canonical = message_to_dict(message), canonical_form(message)
    for key, value in canonical.items():
        if not isinstance(value, list | dict):  # nested messages leave their defaults out too
            assert stored[key] == value
    for key in stored.keys() - canonical.keys():
        default = attrs.fields_dict(type(message))[key].default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = default.factory()
        assert getattr(message, key) == default


# -- fingerprints stored by release 0.1.0 --------------------------------------------------


def test_a_stored_fingerprint_matches_its_message_whether_new_or_from_0_1_0() -> None:
    paid, other = _paid(), _paid(yuan=900)
    assert matches(fingerprint(paid), paid)
    assert matches(legacy_fingerprint(paid), paid)
    assert not matches(fingerprint(other), paid)
    assert not matches(legacy_fingerprint(other), paid)
    # A marked fingerprint is never taken for a repr digest, nor the other way round.
    assert not matches(MARK + legacy_fingerprint(paid), paid)
    assert not matches(fingerprint(paid).removeprefix(MARK), paid)


def test_a_key_decided_under_a_0_1_0_fingerprint_is_a_replay_of_the_same_message_only() -> None:
    redeem = Redeem(key="redeem-1", member_id=ME, points=100)
    keys = {"redeem-1": legacy_fingerprint(redeem)}
    assert replayed(keys, "redeem-1", redeem, owner=ME)
    assert not replayed(keys, "redeem-2", redeem, owner=ME)
    with pytest.raises(IdempotencyConflictError):
        replayed(keys, "redeem-1", attrs.evolve(redeem, points=200), owner=ME)
    assert seen_in(frozenset(keys.values()), redeem)
    assert seen_in(frozenset({fingerprint(redeem)}), redeem)
    assert not seen_in(frozenset({"other"}), redeem)


def test_the_ledger_takes_a_command_again_under_its_0_1_0_fingerprint_as_a_replay() -> None:
    book = Book(CONFIG)
    book.apply(_paid(), T0)
    adjust = AdjustPoints(key="adjust-1", member_id=ME, points=100, operator="s", reason="r")
    state = book.state(ME)
    (posting,) = ledger.decide(adjust, state, CONFIG, T0)
    as_0_1_0 = attrs.evolve(posting, fingerprint=legacy_fingerprint(adjust))
    state = ledger.evolve(state, as_0_1_0)
    assert ledger.decide(adjust, state, CONFIG, T0 + timedelta(days=1)) == []
    with pytest.raises(IdempotencyConflictError):
        ledger.decide(attrs.evolve(adjust, points=50), state, CONFIG, T0)


def _taken_before(engine: Engine, fact_id: str, digest: str) -> None:
    entry = InboxEntry(fact_id=fact_id, key=member_key(ME), fingerprint=digest, at=T0)
    engine.store.commit(Commit(inbox=[entry]))


def test_a_fact_sent_again_with_a_field_added_since_at_its_default_is_a_duplicate(
    engine: Engine,
) -> None:
    engine.ingest([_registration()])
    # What a release without ``channel`` stored for the fact, and the same fact now.
    at = T0.astimezone(UTC).isoformat()
    before = {"type": "checked_in", "fact_id": "f-1", "patient_id": ME, "occurred_at": at}
    _taken_before(engine, "f-1", _digest(before))
    assert engine.ingest([{**before, "channel": "app"}]) == IngestReport(duplicates=1)
    assert engine.ingest([json.dumps(before)]) == IngestReport(duplicates=1)
    report = engine.ingest([{**before, "channel": "kiosk"}])
    assert (report.duplicates, report.rejected) == (0, 1)
    (letter,) = engine.store.dead_letters()
    assert "taken before with other content" in letter.reason


def test_a_fact_taken_under_its_0_1_0_fingerprint_is_a_duplicate_when_sent_again(
    engine: Engine,
) -> None:
    engine.ingest([_registration()])
    paid = _paid()
    _taken_before(engine, paid.fact_id, legacy_fingerprint(paid))
    assert engine.ingest([paid]) == IngestReport(duplicates=1)
    assert engine.ingest([message_to_dict(paid)]) == IngestReport(duplicates=1)
    assert engine.ingest([_paid(yuan=900)]).rejected == 1
    assert paid.fact_id not in engine.member(ME).ledger.keys


def test_the_inbox_keeps_marked_fingerprints(engine: Engine) -> None:
    paid = _paid()
    engine.ingest([_registration(), paid])
    assert engine.store.seen([paid.fact_id]) == {paid.fact_id: fingerprint(paid)}


# -- schema versions and upcasters ----------------------------------------------------------


def _renamed(old: str, new: str) -> Any:
    def upcast(data: dict[str, Any]) -> dict[str, Any]:
        data[new] = data.pop(old)
        return data

    return upcast


def test_upcasters_are_added_in_order_and_applied_in_order() -> None:
    registry = (
        Upcasters()
        .add("probe", 1, _renamed("a", "b"))
        .add("probe", 2, _renamed("b", "c"))
        .add("other", 1, _renamed("x", "y"))
    )
    assert (registry.latest("probe"), registry.latest("other"), registry.latest("none")) == (
        3,
        2,
        1,
    )
    assert registry.upcast("probe", {"a": 1}, 1, 3) == {"c": 1}
    assert registry.upcast("probe", {"b": 1}, 2, 3) == {"c": 1}
    assert registry.upcast("probe", {"c": 1}, 3, 3) == {"c": 1}
    # Data a later release wrote is left as it is.
    assert registry.upcast("probe", {"d": 1}, 4, 3) == {"d": 1}
    with pytest.raises(SchemaVersionError, match="reads version 3"):
        registry.add("probe", 4, _renamed("c", "d"))
    with pytest.raises(SchemaVersionError, match="reads version 1"):
        Upcasters().add("probe", 2, _renamed("c", "d"))
    assert UPCASTERS.steps == {}


def test_a_missing_or_failing_upcaster_is_an_error_naming_the_kind_and_version() -> None:
    registry = Upcasters().add("probe", 1, _renamed("a", "b"))
    with pytest.raises(SchemaVersionError, match="no upcaster to version 3") as missing:
        registry.upcast("probe", {"a": 1}, 1, 3)
    assert (missing.value.kind, missing.value.version) == ("probe", 2)
    with pytest.raises(SchemaVersionError, match="upcaster to version 2 failed"):
        registry.upcast("probe", {"z": 1}, 1, 2)
    wrong = Upcasters().add("probe", 1, lambda data: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(SchemaVersionError, match="returned"):
        wrong.upcast("probe", {}, 1, 2)
    for version in (0, "1", True, None):
        with pytest.raises(SchemaVersionError):
            registry.upcast("probe", {"a": 1}, version, 2)


def test_a_class_without_a_schema_version_is_at_version_1() -> None:
    assert schema_version(ChargePaid) == 1
    assert schema_version(Member) == 1

    class Declared:
        SCHEMA_VERSION = 0

    with pytest.raises(SchemaVersionError, match="Declared"):
        schema_version(Declared)


@given(messages)
def test_messages_at_version_1_are_written_without_a_version(message: Any) -> None:
    assert VERSION_KEY not in message_to_dict(message)


# ChargePaid a release later: ``charge_id`` renamed ``bill_id`` in version 1's data.
def _charge_v1(paid: ChargePaid) -> dict[str, Any]:
    data = message_to_dict(paid)
    data.pop(VERSION_KEY, None)
    data["bill_id"] = data.pop("charge_id")
    return data


@pytest.fixture
def charge_paid_v2(monkeypatch: pytest.MonkeyPatch) -> Upcasters:
    """``ChargePaid`` at version 2, whose version 1 named ``charge_id`` ``bill_id``."""
    monkeypatch.setattr(ChargePaid, "SCHEMA_VERSION", 2, raising=False)
    return Upcasters().add("charge_paid", 1, _renamed("bill_id", "charge_id"))


def test_an_input_of_an_earlier_version_is_upcast_before_it_is_read(
    charge_paid_v2: Upcasters,
) -> None:
    paid, old = _paid(), _charge_v1(_paid())
    assert message_from_dict(old, upcasters=charge_paid_v2) == paid
    assert message_from_dict({**old, "v": 1}, upcasters=charge_paid_v2) == paid
    assert message_to_dict(paid)[VERSION_KEY] == 2
    assert message_from_dict(message_to_dict(paid), upcasters=charge_paid_v2) == paid
    with pytest.raises(InvalidFactError, match="up to version 2") as later:
        message_from_dict({**message_to_dict(paid), "v": 3}, upcasters=charge_paid_v2)
    assert (later.value.field, later.value.value) == ("v", 3)
    with pytest.raises(InvalidFactError) as odd:
        message_from_dict({**message_to_dict(paid), "v": "2"}, upcasters=charge_paid_v2)
    assert odd.value.field == "v"
    # Without the upcaster, version 1's data cannot be read.
    with pytest.raises(InvalidFactError) as missing:
        message_from_dict(old)
    assert missing.value.field == "v"


def test_stored_data_of_an_earlier_version_is_upcast_and_of_a_later_one_read_as_it_is(
    charge_paid_v2: Upcasters,
) -> None:
    paid, old = _paid(), _charge_v1(_paid())
    assert message_from_stored(json.dumps(old), upcasters=charge_paid_v2) == paid
    later = {**message_to_dict(paid), "v": 3, "kiosk": "K-2"}
    assert message_from_stored(later, upcasters=charge_paid_v2) == paid
    with pytest.raises(SchemaVersionError):
        message_from_stored(old)


def test_an_old_event_shape_in_a_store_is_upcast_when_the_record_is_read(
    tmp_path: Path, open_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    with open_engine(url, ManualClock(T0), snapshot_every=100) as engine:
        engine.ingest([_registration()])  # the record's first commit, snapshotted
        engine.ingest([_paid("f-1"), _paid("f-2", yuan=300, charge_id="ch-2")])  # its journal
        written = engine.member(ME)
    # The store as a release that named a posting's ``points`` ``amount`` wrote it.
    with sqlite3.connect(tmp_path / "m.db") as db:
        for key, version, packed in db.execute("SELECT key, version, events FROM journal"):
            events = [
                (type_, at, _renamed("points", "amount")(json.loads(payload)))
                if type_ == "points_posted"
                else (type_, at, json.loads(payload))
                for type_, at, payload in unpack_events(packed)
            ]
            repacked = pack_events((t, at, json.dumps(p)) for t, at, p in events)
            db.execute(
                "UPDATE journal SET events = ? WHERE key = ? AND version = ?",
                (repacked, key, version),
            )
    monkeypatch.setattr(Posting, "SCHEMA_VERSION", 2, raising=False)
    upcasters = Upcasters().add("points_posted", 1, _renamed("amount", "points"))
    monkeypatch.setattr("membercore.upcasting.UPCASTERS", upcasters)
    with open_engine(url, ManualClock(T0)) as engine:
        assert engine.member(ME) == written
        journal = [e for e in engine.store.events(member_key(ME)) if e.version > 1]
        assert "points_posted" in [e.type for e in journal]
        engine.ingest([_paid("f-3", yuan=400, charge_id="ch-3")])
        (last,) = [e for e in engine.store.events(member_key(ME)) if e.type == "points_posted"][-1:]
        assert json.loads(last.payload)[VERSION_KEY] == 2


def test_an_old_record_shape_is_upcast_when_read(monkeypatch: pytest.MonkeyPatch) -> None:
    book = Book(CONFIG)
    book.apply(_paid(), T0)
    state = book.state(ME)
    old = snapshot_to_dict(state)
    old["owner"] = old.pop("member_id")
    monkeypatch.setattr(LedgerState, "SCHEMA_VERSION", 2, raising=False)
    upcasters = Upcasters().add("ledger", 1, _renamed("owner", "member_id"))
    assert snapshot_from_dict(old, upcasters=upcasters) == state
    assert snapshot_to_dict(state)[VERSION_KEY] == 2
    assert snapshot_from_dict(snapshot_to_dict(state), upcasters=upcasters) == state


def test_an_old_member_record_is_upcast_when_read(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.ingest([_registration(), _paid()])
    member = engine.member(ME)
    old = json.loads(record_to_json(member))
    old["patient_id"] = old.pop("member_id")
    monkeypatch.setattr(Member, "SCHEMA_VERSION", 2, raising=False)
    upcasters = Upcasters().add("member", 1, _renamed("patient_id", "member_id"))
    assert record_from_json(json.dumps(old), Member, upcasters=upcasters) == member
    text = record_to_json(member)
    assert text.startswith('{"v":2,')
    assert record_from_json(text, Member, upcasters=upcasters) == member


# -- tolerance of stored data, strictness of inputs ----------------------------------------


def _with_unknown_keys(data: dict[str, Any]) -> dict[str, Any]:
    data = json.loads(json.dumps(data))
    data["ward"] = "7"
    data["lines"][0]["colour"] = "red"
    return data


def test_unknown_keys_in_a_stored_event_are_ignored() -> None:
    paid = _paid()
    stored = _with_unknown_keys(message_to_dict(paid))
    assert message_from_stored(stored) == paid
    assert message_from_stored(json.dumps(stored)) == paid


def test_unknown_keys_in_an_input_are_refused_naming_the_key() -> None:
    data = _with_unknown_keys(message_to_dict(_paid()))
    with pytest.raises(InvalidFactError, match="unknown key 'colour'") as refused:
        message_from_dict(data)
    assert refused.value.field == "lines[0].colour"
    assert "unknown key 'ward'" in str(refused.value)
    with pytest.raises(InvalidFactError, match="unknown key"):
        message_from_json(json.dumps(data))


def test_an_input_with_an_unknown_key_is_a_dead_letter_naming_it(engine: Engine) -> None:
    engine.ingest([_registration()])
    data = {**message_to_dict(_paid()), "ward": "7"}
    assert engine.ingest([data]).rejected == 1
    (letter,) = engine.store.dead_letters()
    assert "unknown key 'ward'" in letter.reason
    assert "f-1" not in engine.member(ME).ledger.keys


def test_unknown_keys_in_stored_records_and_snapshots_are_ignored(engine: Engine) -> None:
    engine.ingest([_registration(), _paid()])
    member = engine.member(ME)
    record = json.loads(record_to_json(member))
    record["nickname"] = "Lin"
    record["ledger"]["vault"] = {}
    assert record_from_json(json.dumps(record), Member) == member
    snapshot = {**snapshot_to_dict(member.ledger), "vault": {}}
    assert snapshot_from_dict(snapshot) == member.ledger


@given(messages)
def test_every_message_survives_a_round_trip_through_the_stored_form(message: Any) -> None:
    assert message_from_stored(message_to_json(message)) == message
    assert message_from_stored(message_to_dict(message)) == message
