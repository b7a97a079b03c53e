"""A member's consents: what each purpose may use, replayed from the grants and withdrawals."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from membercore.consent.messages import ConsentEvent, ConsentGranted
from membercore.errors import MemberMismatchError
from membercore.messages import CHANNELS, Channel, Purpose

__all__ = ["ConsentState", "allows", "channels_for", "evolve", "replay"]


@attrs.frozen(kw_only=True)
class ConsentState:
    """A member's consents.

    Attributes:
        member_id: the member.
        granted: by purpose, the channels currently agreed to.
        keys: idempotency keys with their fingerprints.
    """

    member_id: str
    granted: Mapping[str, frozenset[str]] = attrs.field(factory=dict)
    keys: Mapping[str, str] = attrs.field(factory=dict)


def evolve(state: ConsentState, event: ConsentEvent) -> ConsentState:
    """Apply one consent event.

    Raises:
        MemberMismatchError: the event belongs to another member.
    """
    if event.member_id != state.member_id:
        raise MemberMismatchError(state.member_id, event.member_id)
    held = state.granted.get(event.purpose, frozenset())
    if isinstance(event, ConsentGranted):
        held = held | set(event.channels)
    else:
        held = held - set(event.channels)
    return ConsentState(
        member_id=state.member_id,
        granted={**state.granted, event.purpose: held},
        keys={**state.keys, event.key: event.fingerprint},
    )


def replay(member_id: str, events: Iterable[ConsentEvent]) -> ConsentState:
    """Rebuild a member's consents from their consent events."""
    state = ConsentState(member_id=member_id)
    for event in events:
        state = evolve(state, event)
    return state


def allows(state: ConsentState, purpose: Purpose, channel: Channel) -> bool:
    """Whether the member may be reached for ``purpose`` by ``channel`` now."""
    return channel in state.granted.get(purpose, frozenset())


def channels_for(state: ConsentState, purpose: Purpose) -> tuple[Channel, ...]:
    """The channels agreed to for a purpose, in the order of :data:`CHANNELS`."""
    held = state.granted.get(purpose, frozenset())
    return tuple(channel for channel in CHANNELS if channel in held)
