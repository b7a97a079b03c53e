"""Outreach: the one policy every message to a member passes.

Journeys, rules and staff *request* messages (:class:`RequestMessage`); only
:func:`decide` puts one in the outbox. It checks, when each message is decided:

1. the template exists and is for the request's purpose, and every variable its text
   uses has a value;
2. a channel: the member's preferred channels, then the policy's fallback order (WeCom →
   SMS → phone in the reference), kept to those the template may use; the first the
   member consents to for the purpose wins, and ``phone`` makes a staff call task
   (:class:`PhoneTaskRequested`) rather than a message;
3. quiet hours (21:00–08:00 in the programme's timezone by default): a message asked for
   then is deferred to their end, not dropped; an ``urgent`` care message is not;
4. the purpose's weekly cap: no rolling week (7 × 24 h) may hold more messages of the
   purpose than the cap, counted by when they go out.

An approved request becomes a :class:`MessageQueued` with its rendered text; a refused
one a :class:`MessageRefused` with its reason code. Every decision carries a short
explanation: which rules, which facts. :func:`cancel_pending` cancels what is queued but
not yet handed over once consent for it is withdrawn, :func:`hand_over` checks a
message again at the instant it is given to its channel, and :func:`note_delivery` takes
what became of it: delivered, to retry, or given up and fallen back to the member's next
channel (:func:`fall_back`).

Templates are operator-edited text: only ``${name}`` placeholders are filled, in one
pass, and values are inserted literally (:func:`render`). Templates that could carry a
diagnosis to an external channel are refused when the configuration is validated
(:class:`membercore.config.outreach.OutreachPolicy`).

Decider style: :func:`decide` turns a request into events, :func:`evolve` applies them,
:func:`replay` rebuilds the state.
"""

from __future__ import annotations

from membercore.config.outreach import MessageTemplate, OutreachPolicy, reference_outreach
from membercore.outreach.decide import cancel_pending, decide
from membercore.outreach.delivery import fall_back, note_delivery
from membercore.outreach.handover import HandOver, hand_over, outgoing
from membercore.outreach.messages import (
    MESSAGE_TYPES,
    REFUSAL_REASONS,
    MessageCancelled,
    MessageDelivered,
    MessageDeliveryFailed,
    MessageHandedOver,
    MessageQueued,
    MessageRefused,
    NoteDelivery,
    OutreachEvent,
    PhoneTaskRequested,
    RefusalReason,
    RequestMessage,
)
from membercore.outreach.rules import (
    candidate_channels,
    quiet_until,
    render,
    send_time,
    weekly_load,
)
from membercore.outreach.state import (
    KEPT_FOR,
    WEEK,
    OutreachState,
    SentMessage,
    cancel_all,
    evolve,
    replay,
)

__all__ = [
    "KEPT_FOR",
    "MESSAGE_TYPES",
    "REFUSAL_REASONS",
    "WEEK",
    "HandOver",
    "MessageCancelled",
    "MessageDelivered",
    "MessageDeliveryFailed",
    "MessageHandedOver",
    "MessageQueued",
    "MessageRefused",
    "MessageTemplate",
    "NoteDelivery",
    "OutreachEvent",
    "OutreachPolicy",
    "OutreachState",
    "PhoneTaskRequested",
    "RefusalReason",
    "RequestMessage",
    "SentMessage",
    "cancel_all",
    "cancel_pending",
    "candidate_channels",
    "decide",
    "evolve",
    "fall_back",
    "hand_over",
    "note_delivery",
    "outgoing",
    "quiet_until",
    "reference_outreach",
    "render",
    "replay",
    "send_time",
    "weekly_load",
]
