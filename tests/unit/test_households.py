from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore import (
    CheckedIn,
    IdempotencyConflictError,
    MergeMembers,
    TransferNotAllowedError,
    TransferPoints,
    reference_config,
)
from membercore import households as h
from membercore.errors import GuardianRequiredError, HouseholdMembershipError
from membercore.testing import Book

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 5, 10, 9, 0, tzinfo=SHANGHAI)
HOME = "hh-wang"


def _apply(
    state: h.HouseholdState, command: h.HouseholdCommand, now: datetime = NOW
) -> h.HouseholdState:
    for event in h.decide(command, state, now, SHANGHAI):
        state = h.evolve(state, event)
    return state


def _formed() -> h.HouseholdState:
    return _apply(
        h.HouseholdState(household_id=HOME),
        h.FormHousehold(key="k-form", household_id=HOME, head_id="p-wang"),
    )


def _add(member: str, relationship: h.Relationship, **extra: object) -> h.AddDependent:
    return h.AddDependent(
        key=f"k-{member}",
        household_id=HOME,
        member_id=member,
        relationship=relationship,
        **extra,  # type: ignore[arg-type]
    )


def test_a_household_has_a_head_and_dependents() -> None:
    state = _formed()
    state = _apply(state, _add("p-li", "spouse"))
    state = _apply(state, _add("p-mother", "parent", birth_date=date(1950, 1, 1)))
    assert h.members(state) == {"p-wang", "p-li", "p-mother"}
    assert state.dependents["p-li"].relationship == "spouse"


def test_a_child_needs_an_adult_guardian_of_the_household() -> None:
    state = _apply(_formed(), _add("p-li", "spouse"))
    with pytest.raises(GuardianRequiredError) as refusal:
        _apply(state, _add("p-xiaoming", "child", birth_date=date(2018, 6, 1)))
    assert refusal.value.member_id == "p-xiaoming"
    assert "adult guardian" in str(refusal.value)
    state = _apply(
        state, _add("p-xiaoming", "child", birth_date=date(2018, 6, 1), guardian_id="p-li")
    )
    assert h.is_minor(state.dependents["p-xiaoming"], NOW, SHANGHAI)


def test_a_minor_cannot_be_the_guardian_of_another() -> None:
    state = _apply(
        _formed(), _add("p-big", "child", birth_date=date(2012, 1, 1), guardian_id="p-wang")
    )
    with pytest.raises(GuardianRequiredError):
        _apply(state, _add("p-small", "child", birth_date=date(2020, 1, 1), guardian_id="p-big"))


def test_a_child_of_unknown_age_is_treated_as_a_minor() -> None:
    with pytest.raises(GuardianRequiredError):
        _apply(_formed(), _add("p-kid", "child"))


def test_the_only_guardian_of_a_minor_cannot_leave_while_the_minor_stays() -> None:
    state = _apply(_formed(), _add("p-li", "spouse"))
    state = _apply(
        state, _add("p-xiaoming", "child", birth_date=date(2018, 6, 1), guardian_id="p-li")
    )
    leave = h.RemoveDependent(key="k-rm", household_id=HOME, member_id="p-li", reason="离婚")
    with pytest.raises(GuardianRequiredError) as refusal:
        _apply(state, leave)
    assert (refusal.value.member_id, refusal.value.guardian_id) == ("p-xiaoming", "p-li")
    assert refusal.value.leaving
    assert "p-xiaoming" in str(refusal.value)
    # once the child has left (or come of age), the guardian may leave too
    state = _apply(
        state,
        h.RemoveDependent(key="k-rm-kid", household_id=HOME, member_id="p-xiaoming", reason="x"),
    )
    assert h.members(_apply(state, leave)) == {"p-wang"}


def test_a_guardian_whose_ward_has_come_of_age_may_leave() -> None:
    state = _apply(_formed(), _add("p-li", "spouse"))
    state = _apply(state, _add("p-son", "child", birth_date=date(2008, 6, 1), guardian_id="p-li"))
    leave = h.RemoveDependent(key="k-rm", household_id=HOME, member_id="p-li", reason="离婚")
    with pytest.raises(GuardianRequiredError):
        _apply(state, leave)
    grown = datetime(2026, 6, 1, 9, 0, tzinfo=SHANGHAI)  # eighteen that morning
    assert h.wards(state, "p-li", grown, SHANGHAI) == []
    assert h.members(_apply(state, leave, grown)) == {"p-wang", "p-son"}


def test_an_adult_child_needs_no_guardian() -> None:
    state = _apply(_formed(), _add("p-son", "child", birth_date=date(1998, 3, 3)))
    assert not h.is_minor(state.dependents["p-son"], NOW, SHANGHAI)


def test_someone_turns_eighteen_at_local_midnight() -> None:
    dependent = h.Dependent(
        member_id="p-kid",
        relationship="child",
        birth_date=date(2008, 5, 11),
        guardian_id="p-wang",
        joined_at=NOW,
    )
    eve = datetime(2026, 5, 10, 23, 59, tzinfo=SHANGHAI)  # 15:59 UTC
    birthday = datetime(2026, 5, 11, 0, 0, tzinfo=SHANGHAI)  # still 10 May in UTC
    assert h.is_minor(dependent, eve, SHANGHAI)
    assert not h.is_minor(dependent, birthday, SHANGHAI)


def test_a_leap_day_birthday_comes_on_the_first_of_march() -> None:
    born = date(2012, 2, 29)
    assert h.age_on(born, date(2030, 2, 28)) == 17
    assert h.age_on(born, date(2030, 3, 1)) == 18
    assert h.age_on(born, date(2032, 2, 29)) == 20


def test_membership_mistakes_are_refused_naming_the_member() -> None:
    state = _apply(_formed(), _add("p-li", "spouse"))
    with pytest.raises(HouseholdMembershipError, match="p-li"):
        _apply(
            state,
            h.AddDependent(
                key="k-again", household_id=HOME, member_id="p-li", relationship="other"
            ),
        )
    with pytest.raises(HouseholdMembershipError, match="p-wang"):
        _apply(
            state,
            h.RemoveDependent(key="k-rm-head", household_id=HOME, member_id="p-wang", reason="x"),
        )
    with pytest.raises(HouseholdMembershipError, match="not formed"):
        _apply(h.HouseholdState(household_id=HOME), _add("p-li", "spouse"))
    with pytest.raises(HouseholdMembershipError, match="exists"):
        _apply(state, h.FormHousehold(key="k-form-2", household_id=HOME, head_id="p-li"))


def test_commands_are_idempotent_and_keys_are_not_reused() -> None:
    state = _apply(_formed(), _add("p-li", "spouse"))
    assert h.decide(_add("p-li", "spouse"), state, NOW, SHANGHAI) == []
    with pytest.raises(IdempotencyConflictError):
        h.decide(_add("p-li", "parent"), state, NOW, SHANGHAI)


def test_a_removed_dependent_leaves_and_the_household_replays() -> None:
    events: list[h.HouseholdEvent] = []
    state = h.HouseholdState(household_id=HOME)
    for command in (
        h.FormHousehold(key="k-form", household_id=HOME, head_id="p-wang"),
        _add("p-li", "spouse"),
        h.RemoveDependent(key="k-rm", household_id=HOME, member_id="p-li", reason="离婚"),
    ):
        new = h.decide(command, state, NOW, SHANGHAI)
        for event in new:
            state = h.evolve(state, event)
        events.extend(new)
    assert h.members(state) == {"p-wang"}
    assert h.replay(HOME, events) == state


def test_points_are_pooled_to_the_head_only_within_the_household() -> None:
    state = _apply(_formed(), _add("p-li", "spouse"))
    book = Book(reference_config())
    for day in range(3):
        at = NOW + timedelta(days=day)
        book.apply(CheckedIn(fact_id=f"ci-{day}", patient_id="p-li", occurred_at=at), at)
    later = NOW + timedelta(days=5)
    pool = TransferPoints(
        key="pool-1", member_id="p-li", target_id="p-wang", points=3, reason="积分归集"
    )
    book.transfer(pool, later, household=h.members(state))
    assert book.balances("p-wang", later).available == 3
    stranger = TransferPoints(key="pool-2", member_id="p-wang", target_id="p-zhao", points=1)
    with pytest.raises(TransferNotAllowedError):
        book.transfer(stranger, later, household=h.members(state))


people = st.sampled_from(["p-li", "p-mother", "p-son", "p-aunt"])


@given(st.lists(st.tuples(st.booleans(), people), max_size=20))
def test_the_household_is_always_its_head_and_those_added_and_not_removed(
    steps: list[tuple[bool, str]],
) -> None:
    state = _formed()
    events: list[h.HouseholdEvent] = []
    expected = {"p-wang"}
    for n, (adding, member) in enumerate(steps):
        command: h.HouseholdCommand
        if adding:
            command = h.AddDependent(
                key=f"k{n}", household_id=HOME, member_id=member, relationship="other"
            )
        else:
            command = h.RemoveDependent(
                key=f"k{n}", household_id=HOME, member_id=member, reason="x"
            )
        try:
            new = h.decide(command, state, NOW, SHANGHAI)
        except HouseholdMembershipError:
            assert (member in expected) == adding  # refused exactly when it makes no sense
            continue
        for event in new:
            state = h.evolve(state, event)
        events.extend(new)
        (expected.add if adding else expected.discard)(member)
        assert h.members(state) == expected
    replayed = h.replay(
        HOME,
        [
            *h.decide(
                h.FormHousehold(key="k-form", household_id=HOME, head_id="p-wang"),
                h.HouseholdState(household_id=HOME),
                NOW,
                SHANGHAI,
            ),
            *events,
        ],
    )
    assert replayed == state


def _merge(survivor: str, duplicate: str) -> MergeMembers:
    return MergeMembers(
        key=f"merge-{duplicate}",
        member_id=survivor,
        duplicate_id=duplicate,
        operator="s",
        reason="同一人",
    )


def test_a_merged_head_is_replaced_by_the_survivor() -> None:
    state = _apply(
        _formed(), _add("p-kid", "child", birth_date=date(2019, 1, 1), guardian_id="p-wang")
    )
    for event in h.decide_merge(_merge("p-wang-2", "p-wang"), state, NOW):
        state = h.evolve(state, event)
    assert state.head_id == "p-wang-2"
    assert state.dependents["p-kid"].guardian_id == "p-wang-2"
    assert h.members(state) == {"p-wang-2", "p-kid"}


def test_a_merged_dependent_keeps_their_relationship_under_the_survivors_id() -> None:
    state = _apply(_formed(), _add("p-li", "spouse"))
    for event in h.decide_merge(_merge("p-li-2", "p-li"), state, NOW):
        state = h.evolve(state, event)
    assert state.dependents["p-li-2"].relationship == "spouse"
    assert "p-li" not in state.dependents


def test_two_records_in_one_household_become_one() -> None:
    state = _apply(_apply(_formed(), _add("p-li", "spouse")), _add("p-li-2", "other"))
    for event in h.decide_merge(_merge("p-li-2", "p-li"), state, NOW):
        state = h.evolve(state, event)
    assert h.members(state) == {"p-wang", "p-li-2"}
    # a dependent merged into the head leaves the dependents
    state = _apply(state, _add("p-wang-old", "other"))
    for event in h.decide_merge(_merge("p-wang", "p-wang-old"), state, NOW):
        state = h.evolve(state, event)
    assert h.members(state) == {"p-wang", "p-li-2"}


def test_a_merge_of_someone_outside_the_household_changes_nothing() -> None:
    assert h.decide_merge(_merge("p-x", "p-y"), _formed(), NOW) == []


_ADULTS, _CHILDREN = ("p-li", "p-mother"), ("p-son", "p-kid")
_STEP = st.one_of(
    st.tuples(st.just("add_adult"), st.sampled_from(_ADULTS), st.integers(0, 2)),
    st.tuples(st.just("add_minor"), st.sampled_from(_CHILDREN), st.integers(0, 2)),
    st.tuples(st.just("remove"), st.sampled_from(_ADULTS + _CHILDREN), st.just(0)),
)


@given(st.lists(_STEP, max_size=25))
def test_no_minor_is_ever_left_in_the_household_without_its_guardian(
    steps: list[tuple[str, str, int]],
) -> None:
    state = _formed()
    for n, (kind, member, pick) in enumerate(steps):
        command: h.HouseholdCommand
        if kind == "remove":
            command = h.RemoveDependent(
                key=f"k{n}", household_id=HOME, member_id=member, reason="x"
            )
        else:
            minor = kind == "add_minor"
            adults = sorted(
                {"p-wang"}
                | {m for m, d in state.dependents.items() if not h.is_minor(d, NOW, SHANGHAI)}
            )
            command = h.AddDependent(
                key=f"k{n}",
                household_id=HOME,
                member_id=member,
                relationship="child" if minor else "other",
                birth_date=date(2019, 1, 1) if minor else None,
                guardian_id=adults[pick % len(adults)] if minor else None,
            )
        try:
            state = _apply(state, command)
        except (HouseholdMembershipError, GuardianRequiredError):
            continue
        everyone = h.members(state)
        for dependent in state.dependents.values():
            if h.is_minor(dependent, NOW, SHANGHAI):
                assert dependent.guardian_id in everyone
