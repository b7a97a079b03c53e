"""A store written by release 0.1.0 is read, replayed, re-fed and ticked by this release.

The store and the inputs that made it are in tests/fixtures (made by
tests/fixtures/make_store_v1.py): a handful of members with snapshots and journals after
them, a household, the inbox of the facts taken and the outbox.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from membercore import households, reference_config, segments
from membercore.facts import Fact
from membercore.identity import IdentityState
from membercore.plugins import make_plugin_manager
from membercore.serialization import (
    message_from_dict,
    message_from_stored,
    message_to_json,
    record_from_json,
    record_to_json,
)
from membercore.service.engine import Engine, IngestReport
from membercore.service.member import Member, clock_after, replay
from membercore.service.recording import member_key
from membercore.testing.clock import ManualClock
from membercore_adapters.stores import memory, sqlite

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
INPUTS = [
    json.loads(line)
    for line in (FIXTURES / "store-v1-inputs.jsonl").read_text(encoding="utf-8").splitlines()
]
LAST = max(datetime.fromisoformat(line["at"]) for line in INPUTS)
MEMBERS = ["p-chen", "p-lin", "p-wang", "p-zhao"]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine of this release over a copy of the 0.1.0 store."""
    shutil.copy(FIXTURES / "store-v1.db", tmp_path / "store.db")
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite])
    with Engine.open(
        f"sqlite:///{tmp_path / 'store.db'}",
        config=reference_config(),
        clock=ManualClock(LAST + timedelta(days=1)),
        plugin_manager=manager,
        snapshot_every=4,
    ) as opened:
        yield opened


def _journals(engine: Engine, without: str = "") -> dict[str, list[Any]]:
    return {
        record.key: [
            (e.type, e.payload) for e in engine.store.events(record.key) if e.type != without
        ]
        for record in engine.store.scan()
    }


def test_every_member_and_household_of_the_store_is_read(engine: Engine) -> None:
    members = list(engine.members())
    assert [member.member_id for member in members] == MEMBERS
    assert all(isinstance(member, Member) for member in members)
    (home,) = engine.households()
    assert home.head_id == "p-lin"
    assert households.members(home) == {"p-lin", "p-wang"}
    assert engine.member("p-wang").household_id == "hh-lin"


def test_the_store_holds_snapshots_with_journals_after_them(engine: Engine) -> None:
    records = {record.key: record for record in engine.store.scan()}
    behind = [key for key, record in records.items() if record.snapshot_version < record.version]
    assert "member:p-lin" in behind
    assert "household:hh-lin" in behind


def test_replaying_each_journal_from_the_start_makes_the_stored_record(engine: Engine) -> None:
    for record in engine.store.scan():
        journal = engine.store.events(record.key)
        events = [message_from_stored(event.payload) for event in journal]
        upto = [
            event
            for stored, event in zip(journal, events, strict=True)
            if stored.version <= record.snapshot_version
        ]
        kind, _, ident = record.key.partition(":")
        if kind == "member":
            assert record_from_json(record.snapshot, Member) == replay(ident, upto)
            assert engine.member(ident) == replay(ident, events)
        else:
            stored = record_from_json(record.snapshot, households.HouseholdState)
            assert stored == households.replay(ident, upto)
            assert engine.household(ident) == households.replay(ident, events)


def _keeps(old: object, new: object) -> bool:
    """Whether ``new`` holds everything ``old`` did, as it was (new keys may come beside)."""
    if isinstance(old, dict):
        return isinstance(new, dict) and all(k in new and _keeps(v, new[k]) for k, v in old.items())
    if isinstance(old, list):
        return (
            isinstance(new, list)
            and len(old) == len(new)
            and all(_keeps(a, b) for a, b in zip(old, new, strict=True))
        )
    return old == new


def test_this_release_writes_version_1_data_as_0_1_0_wrote_it(engine: Engine) -> None:
    for record in engine.store.scan():
        kind = Member if record.key.startswith("member:") else households.HouseholdState
        state = record_from_json(record.snapshot, kind)
        again = record_to_json(state)
        assert record_from_json(again, kind) == state
        # Written again, a record keeps every field 0.1.0 wrote, as it wrote it; fields
        # added since (with their defaults) come beside them.
        assert _keeps(json.loads(record.snapshot), json.loads(again))
        for event in engine.store.events(record.key):
            written = json.loads(message_to_json(message_from_stored(event.payload)))
            assert _keeps(json.loads(event.payload), written)


def test_every_input_sent_again_is_a_duplicate_or_changes_nothing(engine: Engine) -> None:
    before = _journals(engine)
    members = list(engine.members())
    inputs = [line for line in INPUTS if line["call"] != "tick"]
    for line in inputs:
        message = message_from_dict(line["message"])
        if line["call"] == "execute":
            # Its part knows the command: nothing happens but its key being spent on the
            # record, once (0.1.0 kept keys only in the parts).
            first = engine.execute(message)
            assert [type(event).__name__ for event in first] in ([], ["CommandTaken"])
            assert engine.execute(message) == ()
        elif isinstance(message, Fact):
            assert engine.ingest([line["message"]]) == IngestReport(duplicates=1)
        else:
            # A household command its household already took: a duplicate.
            assert engine.ingest([line["message"]]) == IngestReport(duplicates=1)
    # The same again as JSON text, all in one batch.
    facts = [json.dumps(line["message"]) for line in inputs if line["call"] == "ingest"]
    report = engine.ingest(facts)
    assert report.rejected == 0
    assert report.duplicates == len(facts)  # facts and commands alike
    assert _journals(engine, without="command_taken") == before
    assert [attrs.evolve(m, identity=IdentityState()) for m in engine.members()] == members
    assert list(engine.store.dead_letters()) == []


def test_the_members_managed_before_the_upgrade_count_in_case_loads(engine: Engine) -> None:
    # The store's migration reads each record's manager from its journal.
    managed = {m.member_id: m.work.health_manager for m in engine.members()}
    assert {member: hm for member, hm in managed.items() if hm} == {"p-lin": "hm-01"}
    assert engine.store.case_loads() == {"hm-01": 1}


def test_time_goes_on_for_the_stored_members(engine: Engine) -> None:
    report = engine.tick(LAST + timedelta(days=400))
    assert report.records >= 1
    assert [member.member_id for member in engine.members()] == MEMBERS


class _Channel:
    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []

    def send(self, message: Any) -> str:
        self.payloads.append(json.loads(message.payload))
        return f"r-{message.message_id}"


def test_the_outbox_0_1_0_queued_is_handed_over_checked_and_in_todays_shape(
    engine: Engine,
) -> None:
    pending = list(engine.store.outbox("pending"))
    assert pending  # the 0.1.0 store queued messages its dispatcher has not sent
    channel = _Channel()
    morning = (LAST + timedelta(days=1)).astimezone(reference_config().tz).replace(hour=10)
    report = engine.dispatch(dict.fromkeys(("wecom", "sms", "email"), channel), now=morning)
    assert report.delivered == len(channel.payloads)
    keys = {"channel", "language", "member_id", "message_id", "text", "variables"}
    keys |= {"template", "purpose"}  # the whole decision 0.1.0 queued names them
    reach = {"to", "manager"}  # the member's address and manager, when their record has them
    assert all(keys <= set(payload) <= keys | reach for payload in channel.payloads)
    # Whatever was not sent was cancelled by the check or given up saying why.
    left = {
        m.status for m in engine.store.outbox() if m.message_id in {p.message_id for p in pending}
    }
    assert left <= {"delivered", "cancelled", "failed"}


def test_a_record_of_the_earlier_release_takes_its_clock_from_its_journal(
    engine: Engine,
) -> None:
    for ident in MEMBERS:
        events = [message_from_stored(e.payload) for e in engine.store.events(member_key(ident))]
        assert engine.member(ident).as_of == clock_after(None, events)
    # Nothing decided on it goes back before what it had decided.
    chen = engine.member("p-chen")
    assert chen.as_of is not None
    made = engine.execute(segments.RefreshProfile(member_id="p-chen"))
    assert all(getattr(event, "at", chen.as_of) >= chen.as_of for event in made)
