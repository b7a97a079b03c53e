"""Refusals about members and the people around them: households, consent, tags, staff work."""

from __future__ import annotations

from datetime import datetime

import attrs

from membercore.errors.base import MembercoreError

__all__ = [
    "ConsentError",
    "GuardianConsentRequiredError",
    "GuardianRequiredError",
    "HouseholdError",
    "HouseholdMembershipError",
    "InvalidCodeError",
    "MemberDiedError",
    "NoDeathRecordedError",
    "NoStaffError",
    "OwnConsentRequiredError",
    "ReservedTagError",
    "SegmentError",
    "UnknownStaffError",
    "UnknownTaskError",
    "WorkError",
]


# --- households ---------------------------------------------------------------------------


@attrs.define(auto_exc=True, frozen=True, repr=False)
class HouseholdError(MembercoreError):
    """Root of the household's refusals.

    Attributes:
        household_id: the household concerned.
        member_id: the member concerned.
    """

    household_id: str
    member_id: str


@attrs.define(auto_exc=True, frozen=True, repr=False)
class HouseholdMembershipError(HouseholdError):
    """A household command does not fit who is in the household.

    Attributes:
        problem: what does not fit.
    """

    problem: str

    def __str__(self) -> str:
        return f"household {self.household_id}, member {self.member_id}: {self.problem}"


@attrs.define(auto_exc=True, frozen=True, repr=False)
class GuardianRequiredError(HouseholdError):
    """A minor would be in the household without an adult guardian of it.

    Either the minor was added without one, or their guardian was to leave the household
    while they stay (``member_id`` is the minor in both cases).

    Attributes:
        guardian_id: the guardian named, if any.
        leaving: the guardian was to leave the household.
    """

    guardian_id: str | None
    leaving: bool = attrs.field(default=False, kw_only=True)

    def __str__(self) -> str:
        if self.leaving:
            named = (
                f"{self.guardian_id}, their guardian, cannot leave while they stay: remove "
                f"{self.member_id} first, or add them again with another guardian"
            )
        elif self.guardian_id:
            named = f"{self.guardian_id} is not an adult of the household"
        else:
            named = "none named"
        return (
            f"household {self.household_id}: minor {self.member_id} needs an adult guardian "
            f"({named})"
        )


# --- consent ------------------------------------------------------------------------------


@attrs.define(auto_exc=True, frozen=True, repr=False)
class ConsentError(MembercoreError):
    """Root of consent's refusals.

    Attributes:
        member_id: the member concerned.
    """

    member_id: str


@attrs.define(auto_exc=True, frozen=True, repr=False)
class GuardianConsentRequiredError(ConsentError):
    """Consent for a minor under 14 came from someone who is not their guardian.

    Attributes:
        given_by: who tried to give it.
        age: the member's age, when known.
    """

    given_by: str
    age: int | None

    def __str__(self) -> str:
        aged = f"aged {self.age}" if self.age is not None else "of unknown age"
        return (
            f"member {self.member_id} ({aged}): consent given by {self.given_by} needs a "
            "guardian of the member's household"
        )


@attrs.define(auto_exc=True, frozen=True, repr=False)
class OwnConsentRequiredError(GuardianConsentRequiredError):
    """Someone else tried to consent for a member who is not a minor.

    A kind of :class:`GuardianConsentRequiredError` (nobody may consent for the member
    but the one who may): ``age`` is the member's, 14 or more.
    """

    def __str__(self) -> str:
        return (
            f"member {self.member_id} (aged {self.age}) consents for themself only: "
            f"consent given by {self.given_by} is not theirs to give"
        )


@attrs.define(auto_exc=True, frozen=True, repr=False)
class MemberDiedError(MembercoreError):
    """Something was asked for a member whose death is recorded: death is final.

    Attributes:
        member_id: the member.
        died_at: when they died.
        what: what was refused (a message, an offer, a task, a consent).
    """

    member_id: str
    died_at: datetime
    what: str

    def __str__(self) -> str:
        return f"member {self.member_id!r} died at {self.died_at.isoformat()}: no {self.what}"


@attrs.define(auto_exc=True, frozen=True, repr=False)
class NoDeathRecordedError(MembercoreError):
    """A reversal of a death on a record that holds none.

    Attributes:
        member_id: the member.
    """

    member_id: str

    def __str__(self) -> str:
        return f"member {self.member_id!r} has no death recorded to reverse"


# --- segments and tags --------------------------------------------------------------------


class SegmentError(MembercoreError):
    """Root of the segments' and tags' refusals."""


@attrs.define(auto_exc=True, frozen=True, repr=False)
class InvalidCodeError(SegmentError, ValueError):
    """Text that is not an ICD-10 code.

    Attributes:
        code: the text given.
    """

    code: str

    def __str__(self) -> str:
        return (
            f"{self.code!r} is not an ICD-10 code (a letter, a digit, a digit or letter, then "
            "an optional subcode: E11, E11.9, E119)"
        )


@attrs.define(auto_exc=True, frozen=True, repr=False)
class ReservedTagError(SegmentError, ValueError):
    """A command tried to add or remove a tag that only facts may set.

    Tags in the derived namespaces (``condition:``, ``stage:``, ``spend:``, ``channel:``,
    ``family:``, ``care:``) follow from facts; journeys and staff use tags of their own.

    Attributes:
        member_id: the member.
        tag: the tag named.
    """

    member_id: str
    tag: str

    def __str__(self) -> str:
        return (
            f"member {self.member_id}: tag {self.tag!r} is derived from facts and cannot be "
            "set by hand"
        )


# --- staff work ---------------------------------------------------------------------------


@attrs.define(auto_exc=True, frozen=True, repr=False)
class WorkError(MembercoreError):
    """Root of the refusals of staff work.

    Attributes:
        member_id: the member concerned.
    """

    member_id: str


@attrs.define(auto_exc=True, frozen=True, repr=False)
class UnknownTaskError(WorkError, LookupError):
    """A command names a task the member has no open task for.

    Attributes:
        task_key: the task named.
    """

    task_key: str

    def __str__(self) -> str:
        return f"member {self.member_id}: no open task {self.task_key!r}"


@attrs.define(auto_exc=True, frozen=True, repr=False)
class UnknownStaffError(WorkError, LookupError):
    """A task is given to someone the roster does not hold with the task's role.

    Attributes:
        staff_id: the member of staff named.
        role: the role the task needs.
    """

    staff_id: str
    role: str

    def __str__(self) -> str:
        return (
            f"member {self.member_id}: {self.staff_id!r} is not on the staff roster "
            f"as a {self.role}"
        )


@attrs.define(auto_exc=True, frozen=True, repr=False)
class NoStaffError(WorkError):
    """Nobody on the roster has the role the work needs.

    Kept for code that catches it: staff work no longer raises it, since work nobody can
    take waits unassigned with the reason (:func:`membercore.staff.tasks.unassigned`).

    Attributes:
        role: the role.
    """

    role: str

    def __str__(self) -> str:
        return f"member {self.member_id}: nobody on the staff roster is a {self.role}"
