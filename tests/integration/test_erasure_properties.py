"""Erasure as a property over the engine: whoever is erased, from whatever story.

Random members with names, phones and identifiers, some in a household, some referring
others, with charges and consents; one of them is erased. Then nothing of theirs is
anywhere in the store, every other member's points and the programme's figures are as
they were, and a later fact about them is refused.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore import Engine, reference_config
from membercore.facts import (
    ChargeLine,
    ChargePaid,
    Identifier,
    PatientRegistered,
    ReferralQualified,
    VisitCompleted,
)
from membercore.households import AddDependent, FormHousehold
from membercore.testing.clock import ManualClock

AT = datetime(2026, 3, 2, 2, tzinfo=UTC)
CONFIG = reference_config()
_SYLLABLES = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉"


@st.composite
def stories(draw: st.DrawFn) -> dict[str, Any]:
    size = draw(st.integers(min_value=2, max_value=5))
    names = draw(
        st.lists(
            st.text(alphabet=_SYLLABLES, min_size=4, max_size=4),
            min_size=size,
            max_size=size,
            unique=True,
        )
    )
    phones = draw(
        st.lists(
            st.integers(min_value=10_000_000, max_value=99_999_999),
            min_size=size,
            max_size=size,
            unique=True,
        )
    )
    members = [f"P-{n}" for n in range(1, size + 1)]
    pairs = st.tuples(st.sampled_from(members), st.sampled_from(members)).filter(
        lambda pair: pair[0] != pair[1]
    )
    return {
        "members": members,
        "names": [f"患者{name}" for name in names],
        "phones": [f"+86139{phone}" for phone in phones],
        "identified": draw(st.lists(st.booleans(), min_size=size, max_size=size)),
        "household": draw(st.lists(st.sampled_from(members[1:]), max_size=3, unique=True)),
        "referrals": draw(st.lists(pairs, max_size=3, unique_by=lambda pair: pair[1])),
        "charges": draw(
            st.lists(
                st.tuples(st.sampled_from(members), st.integers(min_value=100, max_value=99_999)),
                max_size=6,
            )
        ),
        "erased": draw(st.sampled_from(members)),
    }


def _run(engine: Engine, story: dict[str, Any]) -> None:
    members = story["members"]
    engine.ingest(
        [
            PatientRegistered(
                fact_id=f"reg-{member}",
                patient_id=member,
                occurred_at=AT,
                name=name,
                phone=phone,
                identifiers=[Identifier(system="MR", value=f"MR-{phone[-8:]}")] if known else [],
            )
            for member, name, phone, known in zip(
                members, story["names"], story["phones"], story["identified"], strict=True
            )
        ]
    )
    if story["household"]:
        engine.execute(FormHousehold(key="hh", household_id="H-1", head_id=members[0]))
        for relative in story["household"]:
            engine.execute(
                AddDependent(
                    key=f"dep-{relative}",
                    household_id="H-1",
                    member_id=relative,
                    relationship="spouse" if relative == members[1] else "other",
                )
            )
    later = AT + timedelta(hours=1)
    facts: list[Any] = []
    for place, (member, fen) in enumerate(story["charges"]):
        line = ChargeLine(department="internal", category="consult", amount_fen=fen)
        facts.append(
            ChargePaid(
                fact_id=f"c-{place}",
                patient_id=member,
                occurred_at=later,
                charge_id=f"C-{place}",
                lines=[line],
            )
        )
    for referrer, referred in story["referrals"]:
        visit = f"V-{referred}"
        facts.append(
            VisitCompleted(
                fact_id=f"v-{referred}",
                patient_id=referred,
                occurred_at=later,
                visit_id=visit,
                first_visit=True,
            )
        )
        facts.append(
            ReferralQualified(
                fact_id=f"ref-{referred}",
                patient_id=referrer,
                occurred_at=later,
                referred_patient_id=referred,
                visit_id=visit,
            )
        )
    engine.ingest(facts)


@pytest.mark.slow
@given(story=stories())
def test_whoever_is_erased_leaves_nothing_and_the_points_of_all_stay(
    story: dict[str, Any],
) -> None:
    with Engine.open("memory://", config=CONFIG, clock=ManualClock(AT)) as engine:
        _run(engine, story)
        erased = story["erased"]
        place = story["members"].index(erased)
        name, phone = story["names"][place], story["phones"][place]
        theirs = [name, phone, phone.removeprefix("+86"), f"MR-{phone[-8:]}"]
        word = re.compile(rf"(?<![0-9A-Za-z]){re.escape(erased)}(?![0-9A-Za-z])")
        others = {m: engine.member(m).ledger.balance for m in story["members"] if m != erased}
        theirs_balance = engine.member(erased).ledger.balance
        at = engine.now()
        before = engine.measure(now=at)

        engine.erase_member(erased, "本人申请", by="dpo")

        held = repr(vars(engine.store))
        assert not word.search(held)
        assert [value for value in theirs if value in held] == []
        # What others hold of themselves stays.
        for member, other_name in zip(story["members"], story["names"], strict=True):
            if member != erased:
                assert other_name in held
        assert {m: engine.member(m).ledger.balance for m in others} == others
        assert engine.measure(now=at) == before
        pseudonymous = [m for m in engine.members() if m.member_id.startswith("erased-")]
        assert [m.ledger.balance for m in pseudonymous] == [theirs_balance]
        report = engine.ingest(
            [PatientRegistered(fact_id="again", patient_id=erased, occurred_at=at, name=name)]
        )
        assert (report.applied, report.rejected) == (0, 1)
