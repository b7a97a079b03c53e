"""Only a minor's guardian consents for them; an adult consents for themself only.

Through the engine on memory and SQLite: the age comes from whatever the programme
knows — the member's registration, else the household's record of them.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from membercore import households
from membercore.consent import GrantConsent
from membercore.errors import GuardianConsentRequiredError, OwnConsentRequiredError
from membercore.facts import PatientRegistered
from membercore.service.engine import Engine
from membercore.testing.clock import ManualClock

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
HEAD, WIFE, HUSBAND, CHILD = "p-head", "p-wife", "p-husband", "p-child"


def _register(engine: Engine, member: str, birth_date: date | None) -> None:
    fact = PatientRegistered(
        fact_id=f"reg-{member}", patient_id=member, occurred_at=T0, birth_date=birth_date
    )
    engine.ingest([fact], now=T0)


def _grant(member: str, given_by: str, key: str) -> GrantConsent:
    return GrantConsent(
        key=key,
        member_id=member,
        purpose="care",
        channels=("wecom",),
        given_by=given_by,
        source="front_desk",
    )


@pytest.fixture
def family(engine: Engine) -> Engine:
    """A wife heading a household with her husband (an adult) and a child of 9."""
    _register(engine, WIFE, date(1988, 1, 1))
    _register(engine, HUSBAND, date(1986, 1, 1))
    _register(engine, CHILD, None)  # registered without a birth date
    engine.execute(households.FormHousehold(key="form", household_id="hh", head_id=WIFE), now=T0)
    engine.execute(
        households.AddDependent(
            key="add-h", household_id="hh", member_id=HUSBAND, relationship="spouse"
        ),
        now=T0,
    )
    engine.execute(
        households.AddDependent(
            key="add-c",
            household_id="hh",
            member_id=CHILD,
            relationship="child",
            birth_date=date(2017, 1, 1),  # the household knows the child is 9
            guardian_id=WIFE,
        ),
        now=T0,
    )
    return engine


def test_the_head_cannot_consent_for_an_adult_dependent(family: Engine) -> None:
    with pytest.raises(OwnConsentRequiredError, match="consents for themself"):
        family.execute(_grant(HUSBAND, WIFE, "g-1"), now=T0)
    assert "care" not in family.member(HUSBAND).consent.granted  # nothing written
    family.execute(_grant(HUSBAND, HUSBAND, "g-2"), now=T0)  # his own: taken
    assert family.member(HUSBAND).consent.granted["care"] == {"wecom"}


def test_a_child_the_household_knows_is_nine_cannot_consent_alone(family: Engine) -> None:
    with pytest.raises(GuardianConsentRequiredError):
        family.execute(_grant(CHILD, CHILD, "g-1"), now=T0)
    family.execute(_grant(CHILD, WIFE, "g-2"), now=T0)  # the guardian's: taken
    assert family.member(CHILD).consent.granted["care"] == {"wecom"}


def test_someone_outside_the_household_cannot_consent_for_a_child(family: Engine) -> None:
    with pytest.raises(GuardianConsentRequiredError):
        family.execute(_grant(CHILD, HEAD, "g-1"), now=T0)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def test_the_head_cannot_consent_for_a_spouse_whose_birth_date_nobody_gave(
    engine: Engine,
) -> None:
    _register(engine, WIFE, date(1988, 1, 1))
    _register(engine, HUSBAND, None)
    engine.execute(households.FormHousehold(key="form", household_id="hh", head_id=WIFE), now=T0)
    engine.execute(
        households.AddDependent(
            key="add-h", household_id="hh", member_id=HUSBAND, relationship="spouse"
        ),
        now=T0,
    )
    with pytest.raises(OwnConsentRequiredError):
        engine.execute(_grant(HUSBAND, WIFE, "g-1"), now=T0)
