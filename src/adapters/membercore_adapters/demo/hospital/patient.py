"""A patient as the generator remembers them, and how patient ids split the work.

Patient ids (``P000123``) come in blocks of :data:`BLOCK` and a household (``H000121``,
after its head) never spans two blocks, so :func:`shard_of` keeps a family together.
"""

from __future__ import annotations

from datetime import date

import attrs

from membercore.consent import Channel
from membercore.facts import Sex
from membercore.households import Relationship, age_on

__all__ = ["BLOCK", "Patient", "shard_of"]

#: Patient ids come in blocks of this many; a household never spans two blocks. The
#: largest family (head, spouse, three children, two parents) is seven.
BLOCK = 8

# The field naming what a message is about: facts, household commands, member commands.
_SUBJECT_FIELDS = ("patient_id", "household_id", "member_id")


@attrs.define(eq=False)
class Patient:
    """What the generator remembers of one patient: a few fields, never one per message.

    Attributes:
        n: the patient's number (their id is ``P`` and six digits of it).
        birth: the date of birth.
        sex: the patient's sex.
        head: the head of the patient's family, if not the patient.
        relationship: how the patient is related to the head.
        relatives: the family of a head, the head excepted.
        household_formed: the patient heads a household formed already.
        in_household: the patient is in a household.
        engagement: how much the patient uses the member app: 0 (never) to 3 (most).
        insured: 医保 pays part of the patient's eligible lines.
        channel: the channel the patient prefers.
        registered: the patient has registered.
        visited: the patient has had a first visit.
        referrer: the member who referred the patient.
        last_check_in: the day of the patient's last app check-in (-1: none yet).
        points: points earned, by the week they become spendable.
        redeemed: all points redeemed.
        bp_redeemed: the patient has redeemed the blood-pressure monitor.
        open_until: by plan key, the second the patient's subscription stops being open.
        family_sub: the patient's family plan subscription, if one is open.
        covered: the relatives the family plan covers.
        wants_family_plan: the head will buy the family plan once a relative registers.
    """

    n: int
    birth: date
    sex: Sex
    pid: str = attrs.field(init=False)
    head: Patient | None = attrs.field(default=None, init=False, repr=False)
    relationship: Relationship | None = attrs.field(default=None, init=False)
    relatives: list[Patient] = attrs.field(factory=list, init=False, repr=False)
    household_formed: bool = attrs.field(default=False, init=False)
    in_household: bool = attrs.field(default=False, init=False)
    engagement: int = attrs.field(default=0, init=False)
    insured: bool = attrs.field(default=False, init=False)
    channel: Channel = attrs.field(default="wecom", init=False)
    registered: bool = attrs.field(default=False, init=False)
    visited: bool = attrs.field(default=False, init=False)
    referrer: Patient | None = attrs.field(default=None, init=False, repr=False)
    last_check_in: int = attrs.field(default=-1, init=False)
    points: dict[int, int] = attrs.field(factory=dict, init=False, repr=False)
    redeemed: int = attrs.field(default=0, init=False)
    bp_redeemed: bool = attrs.field(default=False, init=False)
    open_until: dict[str, int] = attrs.field(factory=dict, init=False, repr=False)
    family_sub: str | None = attrs.field(default=None, init=False)
    covered: list[str] = attrs.field(factory=list, init=False, repr=False)
    wants_family_plan: bool = attrs.field(default=False, init=False)

    @pid.default
    def _pid(self) -> str:
        return f"P{self.n:06d}"

    @property
    def household_id(self) -> str:
        """The id of the patient's household: that of its head."""
        return f"H{(self.head or self).n:06d}"

    def age(self, today: date) -> int:
        """The patient's age in whole years on ``today``."""
        return age_on(self.birth, today)


def shard_of(subject: object) -> int:
    """A number shared by every member of a household, to split the work by household.

    Patient ids (``P000123``) come in blocks of eight and a household (``H000121``, after
    its head) never spans two blocks, so ``shard_of(x) % workers`` keeps a family on one
    worker. A message's number is that of the patient or household it is about.

    Args:
        subject: a patient or household id of the hospital, or one of its messages.

    Raises:
        TypeError: ``subject`` names no patient or household.
    """
    if isinstance(subject, str):
        return (int(subject[1:]) - 1) // BLOCK
    for field in _SUBJECT_FIELDS:
        value = getattr(subject, field, None)
        if isinstance(value, str):
            return (int(value[1:]) - 1) // BLOCK
    raise TypeError(f"{type(subject).__name__} names no patient or household")
