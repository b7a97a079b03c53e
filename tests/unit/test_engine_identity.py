"""Patient identity and source positions through the engine, on memory and SQLite.

Any of a patient's identifiers finds the member: a registration under a new id whose
identifiers name a known patient is theirs, never a second member; a fact under that id
reaches them, in the same batch or later; a merge takes the identifiers on to the
survivor. A source's position is committed with the facts of each batch, so a restart
resumes where the last commit ended.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest
from tests.unit.conftest import MONDAY, OpenEngine

from membercore import ledger
from membercore.errors import StorageError, UnknownMemberError
from membercore.facts import ChargeLine, ChargePaid, Identifier, PatientRegistered
from membercore.identity import MergeMembers
from membercore.ports import REACHED, Positioned
from membercore.service.engine import Engine
from membercore.service.history import in_time_order
from membercore.testing.clock import ManualClock

T0 = MONDAY


def _registered(
    patient: str, *identifiers: tuple[str, str], fact_id: str | None = None
) -> PatientRegistered:
    return PatientRegistered(
        fact_id=fact_id or f"reg-{patient}",
        patient_id=patient,
        occurred_at=T0,
        identifiers=[Identifier(system=system, value=value) for system, value in identifiers],
    )


def _paid(patient: str, yuan: int, fact_id: str) -> ChargePaid:
    line = ChargeLine(department="internal", category="exam", amount_fen=yuan * 100)
    return ChargePaid(
        fact_id=fact_id,
        patient_id=patient,
        occurred_at=T0 + timedelta(minutes=5),
        charge_id=f"ch-{fact_id}",
        lines=(line,),
    )


def _earned(engine: Engine, member: str) -> int:
    return ledger.balances(
        engine.member(member).ledger, engine.config, engine.now()
    ).lifetime_earned


def _members(engine: Engine) -> list[str]:
    return sorted(record.key for record in engine.store.scan("member:"))


def test_a_registration_under_a_new_id_whose_identifier_is_known_is_that_patients(
    engine: Engine,
) -> None:
    engine.ingest([_registered("A-1", ("CAMPUS-A", "A-1"), ("ID", "330102"))])
    report = engine.ingest(
        [_registered("B-9", ("CAMPUS-B", "B-9"), ("ID", "330102")), _paid("B-9", 100, "f-1")]
    )
    assert (report.applied, report.rejected) == (2, 0)
    assert _members(engine) == ["member:A-1"]
    assert _earned(engine, "A-1") == 100
    assert engine.identified("CAMPUS-B", "B-9") == "A-1"
    assert engine.identified("", "B-9") == "A-1"
    assert engine.identified("ID", "330102") == "A-1"
    assert engine.identified("ID", "nobody") is None
    assert engine.identifiers("A-1") == [
        ("", "B-9"),
        ("CAMPUS-A", "A-1"),
        ("CAMPUS-B", "B-9"),
        ("ID", "330102"),
    ]
    # Later facts under the new id, in a batch of their own, reach the same member.
    engine.ingest([_paid("B-9", 50, "f-2")])
    assert _earned(engine, "A-1") == 150
    assert _members(engine) == ["member:A-1"]


def test_a_new_identifier_and_its_facts_in_one_batch_reach_the_known_patient(
    engine: Engine,
) -> None:
    engine.ingest([_registered("A-1", ("ID", "330102"))])
    engine.ingest([_paid("B-9", 100, "f-0")])  # not registered: refused
    assert _earned(engine, "A-1") == 0
    report = engine.ingest(
        [_paid("B-9", 100, "f-1"), _registered("B-9", ("ID", "330102"), ("MR", "B-9"))]
    )
    # The registration is decided first (its instant is earlier), the charge after it.
    assert (report.applied, report.rejected) == (2, 0)
    assert _earned(engine, "A-1") == 100


def test_identifiers_naming_two_patients_refuse_the_registration_naming_both(
    engine: Engine,
) -> None:
    engine.ingest([_registered("A-1", ("ID", "330102")), _registered("A-2", ("INS", "77"))])
    report = engine.ingest([_registered("B-9", ("ID", "330102"), ("INS", "77"))])
    ((place, reason),) = report.refusals
    assert place == 0
    assert "A-1, A-2" in reason
    assert "merge them first" in reason
    assert _members(engine) == ["member:A-1", "member:A-2"]
    assert engine.identified("", "B-9") is None


def test_a_known_patients_registration_naming_anothers_identifier_is_refused(
    engine: Engine,
) -> None:
    engine.ingest([_registered("A-1", ("ID", "330102")), _registered("A-2")])
    report = engine.ingest([_registered("A-2", ("ID", "330102"), fact_id="reg-A-2-again")])
    ((_, reason),) = report.refusals
    assert "ID|330102 names patient A-1, not A-2" in reason
    assert _members(engine) == ["member:A-1", "member:A-2"]
    assert engine.identified("ID", "330102") == "A-1"
    assert engine.identifiers("A-2") == []


def test_after_a_merge_the_survivor_may_list_the_merged_away_identifiers(
    engine: Engine,
) -> None:
    engine.ingest([_registered("A-1", ("MR", "A-1")), _registered("D-1", ("MR", "D-1"))])
    engine.execute(
        MergeMembers(key="m-1", member_id="A-1", duplicate_id="D-1", operator="hr", reason="ID")
    )
    again = _registered("A-1", ("MR", "A-1"), ("MR", "D-1"), fact_id="reg-A-1-again")
    assert engine.ingest([again]).rejected == 0


def test_after_a_merge_the_merged_away_identifiers_name_the_survivor(engine: Engine) -> None:
    engine.ingest(
        [_registered("A-1", ("MR", "A-1")), _registered("D-1", ("MR", "D-1"), ("SS", "5"))]
    )
    engine.execute(
        MergeMembers(
            key="m-1", member_id="A-1", duplicate_id="D-1", operator="hr-1", reason="same ID card"
        )
    )
    assert engine.identified("SS", "5") == "A-1"
    engine.ingest([_paid("D-1", 80, "f-1")])
    assert _earned(engine, "A-1") == 80


def test_a_sources_position_is_committed_with_each_batch(
    clock: ManualClock, tmp_path: Any, open_engine: OpenEngine
) -> None:
    with open_engine(f"sqlite:///{tmp_path}/m.db", clock, batch_size=2) as engine:
        inputs = [
            Positioned(raw=fact, position=f"offset {n}")
            for n, fact in enumerate(
                [_registered("A-1"), _paid("A-1", 1, "f-1"), _paid("A-1", 2, "f-2")]
            )
        ]
        assert engine.position("file") is None
        engine.ingest(inputs, source="file")
        assert engine.position("file") == "offset 2"
        engine.ingest([], source="file")
        assert engine.position("file") == "offset 2"
        assert engine.position("other") is None


def test_a_position_reached_with_nothing_to_decide_is_committed_and_decides_nothing(
    clock: ManualClock, tmp_path: Any, open_engine: OpenEngine
) -> None:
    with open_engine(f"sqlite:///{tmp_path}/m.db", clock) as engine:
        inputs = [
            Positioned(raw=_registered("A-1"), position="entry 1"),
            Positioned(raw=REACHED, position="entry 9"),
        ]
        report = engine.ingest(inputs, source="file")
        assert (report.applied, report.duplicates, report.rejected) == (1, 0, 0)
        assert engine.position("file") == "entry 9"
        assert not list(engine.store.dead_letters())
        history = engine.ingest(in_time_order(inputs), history=True)
        assert (history.applied, history.duplicates, history.rejected) == (0, 1, 0)


def test_a_batch_that_fails_to_commit_leaves_the_position_of_the_last_commit(
    clock: ManualClock, tmp_path: Any, open_engine: OpenEngine
) -> None:
    with open_engine(f"sqlite:///{tmp_path}/m.db", clock, batch_size=2) as engine:
        inputs = [
            Positioned(raw=fact, position=f"message {n}")
            for n, fact in enumerate(
                [
                    _registered("A-1"),
                    _paid("A-1", 1, "f-1"),
                    _paid("A-1", 2, "f-2"),
                    _paid("A-1", 3, "f-3"),
                ]
            )
        ]
        real = engine.store.commit
        commits: list[int] = []

        def failing_second(commit: Any) -> None:
            commits.append(1)
            if len(commits) == 2:
                raise StorageError(engine.store.url, "disk full")
            real(commit)

        engine.store.commit = failing_second  # type: ignore[method-assign]
        with pytest.raises(StorageError):
            engine.ingest(inputs, source="file")
        engine.store.commit = real  # type: ignore[method-assign]
        assert engine.position("file") == "message 1"
        # Resuming after the position: the rest is taken once, nothing twice.
        engine.ingest(inputs[2:], source="file")
        assert engine.position("file") == "message 3"
        assert _earned(engine, "A-1") == 1 + 2 + 3  # a point a yuan, each charge once


def test_refusals_are_placed_among_all_the_calls_inputs_across_batches(
    clock: ManualClock, open_engine: OpenEngine
) -> None:
    with open_engine("memory://", clock, batch_size=2) as engine:
        report = engine.ingest(
            [
                _registered("A-1"),
                {"type": "nonsense"},
                _paid("A-1", 1, "f-1"),
                _paid("nobody", 1, "f-2"),
                "not json",
            ]
        )
    assert [place for place, _ in report.refusals] == [1, 3, 4]
    assert "nobody" in report.refusals[1][1]


def test_a_merged_away_record_has_nothing_left_going(engine: Engine) -> None:
    born = MONDAY.date().replace(year=1980, day=20)
    engine.ingest(
        [
            _registered("A-1"),
            PatientRegistered(fact_id="reg-D-1", patient_id="D-1", occurred_at=T0, birth_date=born),
        ]
    )
    running = [i for i in engine.member("D-1").journeys.instances.values() if i.ended is None]
    assert running  # the birthday journey, waiting for the day
    engine.execute(
        MergeMembers(key="m-1", member_id="A-1", duplicate_id="D-1", operator="hr-1", reason="ID")
    )
    duplicate = engine.member("D-1")
    assert {i.ended for i in duplicate.journeys.instances.values()} == {"merged_into:A-1"}
    engine.clock.advance(timedelta(days=400))  # type: ignore[attr-defined]
    engine.tick()
    assert _earned(engine, "D-1") == 0
    assert [m for m in engine.pending_outbox() if m.key == "member:D-1"] == []


def test_merging_a_record_never_held_is_refused_unless_its_id_is_to_be_retired(
    engine: Engine,
) -> None:
    engine.ingest([_registered("A-1")])
    merge = MergeMembers(
        key="m-1", member_id="A-1", duplicate_id="OLD-9", operator="his", reason="A40"
    )
    with pytest.raises(UnknownMemberError):
        engine.execute(merge)
    engine.execute(attrs.evolve(merge, key="m-2", retire_unknown=True))
    assert engine.identified("", "OLD-9") == "A-1"
    engine.ingest([_paid("OLD-9", 30, "f-1")])
    assert _earned(engine, "A-1") == 30
    assert _members(engine) == ["member:A-1"]
    with pytest.raises(UnknownMemberError) as raised:
        engine.member("OLD-9")  # a retired number names no record: the error says whose it is
    assert raised.value.identifier_of == ("A-1",)
    assert str(raised.value) == "member 'OLD-9' is not known; it is an identifier of member 'A-1'"
    with pytest.raises(UnknownMemberError) as raised:
        engine.member("NOBODY")
    assert raised.value.identifier_of == ()


def _merge(engine: Engine, key: str, survivor: str, duplicate: str) -> None:
    engine.execute(
        MergeMembers(
            key=key, member_id=survivor, duplicate_id=duplicate, operator="hr", reason="ID"
        )
    )


def test_a_new_id_whose_identifier_names_a_merged_away_record_reaches_the_survivor(
    engine: Engine,
) -> None:
    engine.ingest([_registered("A", ("MR", "A1")), _registered("B", ("MR", "B1"))])
    _merge(engine, "m-1", "B", "A")
    report = engine.ingest([_registered("OTHER", ("MR", "Z9")), _registered("A-NEW", ("MR", "A1"))])
    assert (report.applied, report.rejected) == (2, 0)
    assert engine.identified("", "A-NEW") == "B"
    assert "member:OTHER" in _members(engine)


def test_a_refused_registration_teaches_the_batch_nothing(engine: Engine) -> None:
    unborn = attrs.evolve(
        _registered("P-OLD", ("MR", "X1")), birth_date=MONDAY.date().replace(year=2030)
    )
    report = engine.ingest([unborn, _registered("P-NEW", ("MR", "X1"))])
    assert [place for place, _ in report.refusals] == [0]
    assert _members(engine) == ["member:P-NEW"]
    assert engine.identified("MR", "X1") == "P-NEW"


def test_a_registration_taken_again_lifts_the_refusal_of_the_facts_after_it(
    engine: Engine,
) -> None:
    engine.ingest([_registered("A", ("MR", "A1")), _registered("B", ("MR", "B1"))])
    wrong = _registered("B", ("MR", "B1"), ("MR", "A1"), fact_id="reg-B-wrong")
    right = _registered("B", ("MR", "B1"), fact_id="reg-B-right")
    refused = engine.ingest([wrong, _paid("B", 1, "f-1")])
    assert [place for place, _ in refused.refusals] == [0, 1]  # the charge sent with it too
    report = engine.ingest([wrong, _paid("B", 1, "f-1"), right, _paid("B", 2, "f-2")])
    # Registrations are decided first at an instant: the corrected one, taken, lifts the
    # refusal of the charges after it.
    assert [place for place, _ in report.refusals] == [0]
    assert _earned(engine, "B") == 1 + 2


def test_identifiers_follow_merges_one_after_another(engine: Engine) -> None:
    engine.ingest(
        [
            _registered("A", ("MR", "A1")),
            _registered("B", ("MR", "B1")),
            _registered("C", ("MR", "C1")),
        ]
    )
    _merge(engine, "m-1", "B", "A")
    _merge(engine, "m-2", "C", "B")
    assert engine.identified("MR", "A1") == "C"
    again = _registered("C", ("MR", "C1"), ("MR", "A1"), ("MR", "B1"), fact_id="reg-C-all")
    assert engine.ingest([again]).rejected == 0
    engine.ingest([_paid("A", 5, "f-A")])
    assert _earned(engine, "C") == 5


def test_a_registration_older_than_the_history_kept_is_taken_and_older_facts_are_not(
    clock: ManualClock, open_engine: OpenEngine
) -> None:
    with open_engine("memory://", clock) as engine:
        kept = engine.config.plausibility.history_days
        born = clock.now() - timedelta(days=kept + 400)
        old = PatientRegistered(fact_id="r-1", patient_id="A-1", occurred_at=born)
        report = engine.ingest([old, _paid("A-1", 100, "f-1")])
        assert (report.applied, report.rejected) == (2, 0)
        assert _earned(engine, "A-1") > 0
        ancient = attrs.evolve(_paid("A-1", 100, "f-2"), occurred_at=born)
        refused = engine.ingest([ancient])
        assert refused.rejected == 1
        assert "plausibility.history_days" in refused.refusals[0][1]


def _card(card: str, fact_id: str) -> PatientRegistered:
    """A row's registration of the card it names its patient by (another name, only)."""
    return PatientRegistered(
        fact_id=fact_id,
        patient_id=f"CARD|{card}",
        occurred_at=T0,
        identifiers=[Identifier(system="CARD", value=card)],
        known_only=True,
    )


def test_a_card_registration_finds_its_patient_by_the_card_alone(engine: Engine) -> None:
    engine.ingest([_registered("C-777"), _registered("P001", ("CARD", "100234"))])
    # A card no patient holds, though a member's id reads the same: refused with its fact.
    stranger = engine.ingest([_card("C-777", "k-1"), _paid("CARD|C-777", 50, "f-1")])
    assert stranger.rejected == 2
    assert "name no known patient" in stranger.refusals[0][1]
    assert _earned(engine, "C-777") == 0
    assert engine.identified("CARD", "C-777") is None
    # P001's card: the row reaches P001; their record keeps no registration of the name.
    known = engine.ingest([_card("100234", f"k-{n}") for n in range(5)])
    assert known.applied == 5
    assert len(engine.member("P001").profile.registrations) == 1
    engine.ingest([_paid("CARD|100234", 80, "f-2")])
    assert _earned(engine, "P001") == 80
    # A patient whose own id reads as P001's card number is another person.
    engine.ingest([_registered("100234")])
    assert "member:100234" in _members(engine)
    assert engine.identified("CARD", "100234") == "P001"


def test_a_new_patients_facts_dated_before_their_registration_are_taken_after_it(
    engine: Engine, clock: ManualClock
) -> None:
    clock.advance(timedelta(days=1))
    registered = attrs.evolve(_registered("P006"), occurred_at=T0 + timedelta(hours=1))
    earlier = _paid("P006", 100, "f-early")  # paid five minutes past T0: before it
    report = engine.ingest([earlier, registered])
    assert (report.applied, report.rejected) == (2, 0), report.refusals
    assert _earned(engine, "P006") == 100
    # Of a patient known already, nothing moves: a fact before their record is refused as ever.
    later = attrs.evolve(
        _registered("P006", fact_id="reg-again"), occurred_at=T0 + timedelta(hours=2)
    )
    unknown = attrs.evolve(_paid("P007", 10, "f-other"), occurred_at=T0 + timedelta(hours=1))
    again = engine.ingest([unknown, later])
    assert again.rejected == 1
    assert "P007" in again.refusals[0][1]
