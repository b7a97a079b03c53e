from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore import IdempotencyConflictError, InvalidFactError, MergeMembers
from membercore import consent as c
from membercore import households as h
from membercore.errors import GuardianConsentRequiredError
from membercore.serialization import message_from_dict, message_to_dict

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 5, 10, 9, 0, tzinfo=SH)
ME = "p-wang"


def _run(state: c.ConsentState, command: c.ConsentCommand, **context: object) -> c.ConsentState:
    for event in c.decide(command, state, NOW, **context):  # type: ignore[arg-type]
        state = c.evolve(state, event)
    return state


def _grant(
    purpose: c.Purpose, *channels: c.Channel, key: str = "g1", by: str = ME
) -> c.GrantConsent:
    return c.GrantConsent(
        key=key, member_id=ME, purpose=purpose, channels=channels, given_by=by, source="app"
    )


def test_consent_is_given_per_purpose_and_channel() -> None:
    state = _run(c.ConsentState(member_id=ME), _grant("care", "wecom", "sms"))
    assert c.allows(state, "care", "sms")
    assert not c.allows(state, "care", "email")
    assert not c.allows(state, "marketing", "wecom")  # care consent is not marketing consent
    assert c.channels_for(state, "care") == ("wecom", "sms")


def test_a_withdrawal_takes_effect_at_once_on_every_channel_or_some() -> None:
    state = _run(c.ConsentState(member_id=ME), _grant("marketing", "wecom", "sms", "email"))
    state = _run(
        state, c.WithdrawConsent(key="w1", member_id=ME, purpose="marketing", channels=("sms",))
    )
    assert c.channels_for(state, "marketing") == ("wecom", "email")
    state = _run(
        state, c.WithdrawConsent(key="w2", member_id=ME, purpose="marketing", reason="不想再收到")
    )
    assert c.channels_for(state, "marketing") == ()


def test_a_child_under_fourteen_consents_through_a_guardian_of_the_household() -> None:
    home = h.HouseholdState(household_id="hh")
    for command in (
        h.FormHousehold(key="k1", household_id="hh", head_id="p-mother"),
        h.AddDependent(
            key="k2",
            household_id="hh",
            member_id="p-kid",
            relationship="child",
            birth_date=date(2013, 5, 11),
            guardian_id="p-mother",
        ),
    ):
        for event in h.decide(command, home, NOW, SH):
            home = h.evolve(home, event)
    kid = home.dependents["p-kid"]
    assert kid.birth_date is not None
    age = h.age_on(kid.birth_date, NOW.astimezone(SH).date())
    assert age == 12
    guardians = {home.head_id} if home.head_id else set()
    state = c.ConsentState(member_id="p-kid")
    own = c.GrantConsent(
        key="g1",
        member_id="p-kid",
        purpose="care",
        channels=("wecom",),
        given_by="p-kid",
        source="app",
    )
    with pytest.raises(GuardianConsentRequiredError) as refusal:
        _run(state, own, age=age, guardians=guardians)
    assert "aged 12" in str(refusal.value)
    by_mother = c.GrantConsent(
        key="g2",
        member_id="p-kid",
        purpose="care",
        channels=("wecom",),
        given_by="p-mother",
        source="前台",
    )
    state = _run(state, by_mother, age=age, guardians=guardians)
    assert c.allows(state, "care", "wecom")


def test_from_fourteen_a_member_consents_alone_and_nobody_else_may() -> None:
    state = _run(c.ConsentState(member_id=ME), _grant("care", "sms"), age=14)
    assert c.allows(state, "care", "sms")
    with pytest.raises(GuardianConsentRequiredError):
        _run(state, _grant("marketing", "sms", key="g2", by="p-neighbour"), age=30, guardians=())


def test_consent_commands_are_idempotent_and_keys_are_not_reused() -> None:
    state = _run(c.ConsentState(member_id=ME), _grant("care", "sms"))
    assert c.decide(_grant("care", "sms"), state, NOW) == []
    with pytest.raises(IdempotencyConflictError):
        c.decide(_grant("care", "email"), state, NOW)


def test_unknown_or_repeated_channels_are_refused() -> None:
    with pytest.raises(InvalidFactError, match="channels"):
        _grant("care", "fax")  # type: ignore[arg-type]
    with pytest.raises(InvalidFactError):
        _grant("care", "sms", "sms")


def test_the_consent_history_is_the_audit_trail() -> None:
    events: list[c.ConsentEvent] = []
    state = c.ConsentState(member_id=ME)
    for command in (
        _grant("care", "wecom", "sms"),
        _grant("research", "email", key="g2"),
        c.WithdrawConsent(key="w1", member_id=ME, purpose="care", channels=("sms",)),
    ):
        new = c.decide(command, state, NOW)
        for event in new:
            state = c.evolve(state, event)
            assert message_from_dict(json.loads(json.dumps(message_to_dict(event)))) == event
        events.extend(new)
    assert c.replay(ME, events) == state
    assert [type(e).__name__ for e in events] == [
        "ConsentGranted",
        "ConsentGranted",
        "ConsentWithdrawn",
    ]


def test_on_a_merge_the_stricter_consent_wins() -> None:
    keep = _run(c.ConsentState(member_id=ME), _grant("care", "wecom", "sms"))
    keep = _run(keep, _grant("marketing", "wecom", key="g2"))
    dup = _run(
        c.ConsentState(member_id="p-dup"),
        c.GrantConsent(
            key="d1",
            member_id="p-dup",
            purpose="care",
            channels=("sms",),
            given_by="p-dup",
            source="app",
        ),
    )
    merge = MergeMembers(
        key="m1", member_id=ME, duplicate_id="p-dup", operator="s", reason="同一人"
    )
    events = c.decide_merge(merge, keep, dup, NOW)
    for event in events:
        keep = c.evolve(keep, event)
    assert c.channels_for(keep, "care") == ("sms",)
    assert c.channels_for(keep, "marketing") == ()
    assert all("p-dup" in (e.reason or "") for e in events if isinstance(e, c.ConsentWithdrawn))
    assert c.decide_merge(merge, keep, dup, NOW) == []


grants = st.dictionaries(
    st.sampled_from(c.PURPOSES), st.frozensets(st.sampled_from(c.CHANNELS)), max_size=3
)


@given(grants, grants)
def test_a_merged_record_never_holds_a_consent_either_record_lacked(
    ours: dict[str, frozenset[str]], theirs: dict[str, frozenset[str]]
) -> None:
    keep = c.ConsentState(member_id=ME, granted=ours)
    dup = c.ConsentState(member_id="p-dup", granted=theirs)
    merge = MergeMembers(
        key="m1", member_id=ME, duplicate_id="p-dup", operator="s", reason="同一人"
    )
    for event in c.decide_merge(merge, keep, dup, NOW):
        keep = c.evolve(keep, event)
    for purpose in c.PURPOSES:
        for channel in c.CHANNELS:
            both = channel in ours.get(purpose, ()) and channel in theirs.get(purpose, ())
            assert c.allows(keep, purpose, channel) == both
