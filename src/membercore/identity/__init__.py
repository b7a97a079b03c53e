"""What a member's record knows of itself: the commands it took, and a merge into another.

The engine remembers every command key a member's record has taken, whatever the
command changed (a once-per-member bonus already given posts nothing, yet its key is
spent): the same command again is a replay, the key on another command is refused. A
record merged into another keeps pointing at the survivor, so that facts and commands
that still name it act on the survivor.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import attrs

from membercore.checks import non_empty
from membercore.dates import as_utc, as_utc_or_none, aware
from membercore.errors import NoDeathRecordedError
from membercore.messages import Command, MemberEvent

__all__ = [
    "MESSAGE_TYPES",
    "CommandTaken",
    "DeathRecorded",
    "DeathReversed",
    "FactSetAside",
    "IdentityEvent",
    "IdentityState",
    "MergeMembers",
    "MergedInto",
    "ReferralCredited",
    "ReverseDeath",
    "decide_reversal",
    "evolve",
]


@attrs.frozen(kw_only=True)
class MergeMembers(Command):
    """Merge two records of one person (the HIS registered them twice).

    ``member_id`` is the record that survives; everything of ``duplicate_id`` moves to it.

    Attributes:
        duplicate_id: the record that is merged away.
        operator: who confirmed that both records are one person.
        reason: how it was established (e.g. same ID card number).
        retire_unknown: when the programme holds no record of ``duplicate_id``, retire
            that id into the survivor (facts sent under it reach the survivor) instead
            of refusing the merge: as a HIS's merge (HL7 v2 ``ADT^A40``) of a record
            the programme never saw says.
    """

    TYPE: ClassVar[str] = "merge_members"

    duplicate_id: str = attrs.field(validator=non_empty)
    operator: str = attrs.field(validator=non_empty)
    reason: str = attrs.field(validator=non_empty)
    retire_unknown: bool = attrs.field(default=False, repr=False)


@attrs.frozen(kw_only=True)
class CommandTaken(MemberEvent):
    """A command was carried out on the member's record (its key is now spent).

    Attributes:
        member_id: the record.
        key: the command's idempotency key.
        command: the command's type tag.
        fingerprint: the command's digest.
        at: when.
    """

    TYPE: ClassVar[str] = "command_taken"

    key: str
    command: str
    fingerprint: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)


@attrs.frozen(kw_only=True)
class MergedInto(MemberEvent):
    """The record was merged into another, which now stands for the same person.

    Attributes:
        member_id: the record merged away.
        survivor_id: the record that stands for the person now.
        at: when.
        key: the merge command's key.
    """

    TYPE: ClassVar[str] = "merged_into"

    survivor_id: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    key: str


@attrs.frozen(kw_only=True)
class ReverseDeath(Command):
    """Staff reverse a death recorded by mistake; nothing ended by it comes back by itself.

    Attributes:
        reason: why the death was wrong (a mistyped patient number, say).
        operator: who reverses it.
    """

    TYPE: ClassVar[str] = "reverse_death"

    reason: str = attrs.field(validator=non_empty)
    operator: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class DeathRecorded(MemberEvent):
    """The HIS reported the patient's death: the programme does nothing more for them.

    Attributes:
        fact_id: the ``patient_died`` fact.
        died_at: when they died (the fact's ``occurred_at``).
        at: the instant of the decision.
    """

    TYPE: ClassVar[str] = "death_recorded"

    fact_id: str
    died_at: datetime = attrs.field(converter=as_utc, validator=aware)
    at: datetime = attrs.field(converter=as_utc, validator=aware)


@attrs.frozen(kw_only=True)
class DeathReversed(MemberEvent):
    """A death recorded by mistake was reversed by staff.

    Attributes:
        key: the command's key.
        reason: why.
        operator: who.
        at: when.
    """

    TYPE: ClassVar[str] = "death_reversed"

    key: str
    reason: str
    operator: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)


@attrs.frozen(kw_only=True)
class FactSetAside(MemberEvent):
    """A fact was recorded without effect on the programme, with the reason.

    It was dated after the member's death, or says itself it has none (a preliminary
    result, a diagnosis entered in error or with no ICD-10 code mapped).

    Attributes:
        fact_id: the fact.
        fact_type: its type tag.
        reason: why it has no effect.
        at: the instant of the decision.
    """

    TYPE: ClassVar[str] = "fact_set_aside"

    fact_id: str
    fact_type: str
    reason: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)


@attrs.frozen(kw_only=True)
class ReferralCredited(MemberEvent):
    """The member was referred by another, whose reward for it is paid: once per member.

    Attributes:
        referrer_id: the member rewarded for the referral.
        fact_id: the ``referral_qualified`` fact.
        at: the instant of the decision.
    """

    TYPE: ClassVar[str] = "referral_credited"

    referrer_id: str
    fact_id: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)


IdentityEvent = (
    CommandTaken | MergedInto | DeathRecorded | DeathReversed | FactSetAside | ReferralCredited
)

#: The identity part's messages, for serialization.
MESSAGE_TYPES: tuple[type[Any], ...] = (
    MergeMembers,
    ReverseDeath,
    CommandTaken,
    MergedInto,
    DeathRecorded,
    DeathReversed,
    FactSetAside,
    ReferralCredited,
)


@attrs.frozen(kw_only=True)
class IdentityState:
    """The record's own history.

    Attributes:
        commands: every command key taken, with its fingerprint.
        merged_into: the survivor, once the record is merged away.
        died_at: when the member died, as the HIS reported it (``None``: alive).
        referred_by: the member rewarded for referring them, once one was.
    """

    commands: Mapping[str, str] = attrs.field(factory=dict)
    merged_into: str | None = None
    died_at: datetime | None = attrs.field(default=None, converter=as_utc_or_none)
    referred_by: str | None = None

    def alive(self, at: datetime) -> bool:
        """Whether the member is alive at ``at`` (as far as the programme knows)."""
        return self.died_at is None or at < self.died_at


def evolve(state: IdentityState, event: IdentityEvent) -> IdentityState:
    """Apply one event of the record's own history."""
    if isinstance(event, CommandTaken):
        return attrs.evolve(state, commands={**state.commands, event.key: event.fingerprint})
    if isinstance(event, DeathRecorded):
        return attrs.evolve(state, died_at=event.died_at)
    if isinstance(event, DeathReversed):
        return attrs.evolve(state, died_at=None)
    if isinstance(event, FactSetAside):
        return state
    if isinstance(event, ReferralCredited):
        return attrs.evolve(state, referred_by=event.referrer_id)
    return attrs.evolve(state, merged_into=event.survivor_id)


def decide_reversal(
    command: ReverseDeath, state: IdentityState, member_id: str, now: datetime
) -> list[IdentityEvent]:
    """A reversal of a recorded death (none to reverse: refused).

    Raises:
        NoDeathRecordedError: no death is recorded on the record.
    """
    if state.died_at is None:
        raise NoDeathRecordedError(member_id)
    reversed_ = DeathReversed(
        member_id=member_id,
        key=command.key,
        reason=command.reason,
        operator=command.operator,
        at=now,
    )
    return [reversed_]
