"""Deciding a member's journeys on a fact or a domain event."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from membercore.config.journeys import JourneyDefinition, Trigger
from membercore.consent import ConsentWithdrawn
from membercore.dates import require_aware
from membercore.errors import MemberMismatchError
from membercore.facts import Fact
from membercore.idempotency import fingerprint, seen_in
from membercore.journeys.index import index_of
from membercore.journeys.messages import JourneyEvent
from membercore.journeys.registry import Registry, Situation
from membercore.journeys.state import JourneyInstance, JourneysState, active, applied
from membercore.journeys.steps import end, move, reanchored, start, started_by_actions

__all__ = ["decide"]


def decide(
    message: object,
    state: JourneysState,
    journeys: Sequence[JourneyDefinition],
    registry: Registry,
    situation: Situation,
) -> list[JourneyEvent]:
    """The journey events a fact or a domain event makes.

    Running instances take it first (an exit, a consent withdrawal, or the first step
    from their state it triggers whose guards hold); then every journey it starts.

    Args:
        message: a fact, or a domain event with a ``TYPE`` tag (e.g. ``tier_changed``).
        state: the member's journeys.
        journeys: the programme's journey definitions (validated).
        registry: the condition functions the guards name.
        situation: what guards may see; its ``now`` is the instant of the decision and
            its ``flags``, tags and plans describe the member after the message. A fact
            is decided at the instant it happened when that is earlier (a fact reported
            late): steps, timers and actions count from ``occurred_at``.
    """
    now = require_aware("now", situation.now)
    if situation.member_id != state.member_id:
        raise MemberMismatchError(state.member_id, situation.member_id)
    kind = str(getattr(message, "TYPE", type(message).__name__))
    if isinstance(message, Fact):
        trigger_id = message.fact_id
        if trigger_id in state.seen:
            return []
        # Event time: a fact reported late counts from when it happened.
        now = min(now, require_aware("occurred_at", message.occurred_at))
    else:
        trigger_id = fingerprint(message)
        if seen_in(state.seen, message):
            return []
    situation = attrs.evolve(situation, message=message, now=now)
    index = index_of(journeys)
    by_key = index.by_key
    events: list[JourneyEvent] = []
    for instance in active(state):
        definition = by_key.get(instance.journey)
        if definition is None:
            continue
        moved = _on_message(instance, definition, registry, situation, kind, trigger_id)
        events += moved
        if not moved and _reanchors(definition, registry, situation, kind):
            events += reanchored(instance, definition, situation, trigger_id)
    working = applied(state, events)
    for definition in index.starting.get(kind, ()):
        if _starts(definition, working, registry, situation, kind):
            started = start(definition, working, situation, kind, trigger_id)
            events += started
            working = applied(working, started)
    return events + started_by_actions(events, working, by_key, situation)


def _on_message(
    instance: JourneyInstance,
    definition: JourneyDefinition,
    registry: Registry,
    situation: Situation,
    kind: str,
    trigger_id: str,
) -> list[JourneyEvent]:
    ended = None
    if kind in definition.exit_on:
        ended = f"exit:{kind}"
    elif _withdrawn(situation, definition):
        ended = "consent_withdrawn"
    if ended is not None:
        return [end(instance, situation, ended, trigger_id)]
    here: Situation | None = None  # what the guards see: with the instance's counters
    for index, transition in enumerate(definition.transitions):
        if transition.source != instance.state or not _matches(transition.trigger, kind):
            continue
        if here is None:
            here = attrs.evolve(situation, counters=instance.counters)
        if all(registry.holds(guard, here) for guard in transition.guards):
            return move(instance, definition, index, situation, kind, trigger_id)
    return []


def _withdrawn(situation: Situation, definition: JourneyDefinition) -> bool:
    """The message withdrew the last consent of the journey's own purpose."""
    message = situation.message
    return (
        isinstance(message, ConsentWithdrawn)
        and message.purpose == definition.purpose
        and definition.purpose not in situation.consented
    )


def _matches(trigger: Trigger, kind: str) -> bool:
    return not trigger.timed and trigger.type == kind


def _reanchors(
    definition: JourneyDefinition, registry: Registry, situation: Situation, kind: str
) -> bool:
    """Whether a message may give a running instance new anchors.

    Only a message that would start the journey (its kind, its entry guards holding) of
    a journey a member runs once: where a second start makes a second instance (renewal
    reminders per subscription), a message is that instance's, not the running one's.
    """
    return (
        not definition.re_entry
        and bool(definition.anchors)
        and _starts_on(definition, kind)
        and all(registry.holds(guard, situation) for guard in definition.entry_guards)
    )


def _starts_on(definition: JourneyDefinition, kind: str) -> bool:
    return any(_matches(trigger, kind) for trigger in (definition.entry, *definition.also_on))


def _starts(
    definition: JourneyDefinition,
    state: JourneysState,
    registry: Registry,
    situation: Situation,
    kind: str,
) -> bool:
    if not _starts_on(definition, kind):
        return False
    if active(state, definition.key) and not definition.re_entry:
        return False
    return all(registry.holds(guard, situation) for guard in definition.entry_guards)
