"""Consent (PIPL): separate, explicit consent per purpose and channel.

Health data is sensitive personal information: the programme may reach a member only for
a purpose (``care`` reminders, ``marketing`` offers, ``research``) and by a channel
(WeCom, SMS, e-mail, phone) they have agreed to. A member under 14 consents through a
guardian. A withdrawal takes effect at once. Every grant and withdrawal is an event, so
the member's consent history is the audit trail.

Decider style: :func:`decide` turns a consent command into events, :func:`evolve`
applies them; :func:`allows` answers whether a purpose and channel may be used.
"""

from __future__ import annotations

from membercore.consent.decide import GUARDIAN_AGE, decide, decide_merge
from membercore.consent.messages import (
    MESSAGE_TYPES,
    ConsentCommand,
    ConsentEvent,
    ConsentGranted,
    ConsentWithdrawn,
    GrantConsent,
    WithdrawConsent,
)
from membercore.consent.state import ConsentState, allows, channels_for, evolve, replay
from membercore.messages import CHANNELS, PURPOSES, Channel, Purpose

__all__ = [
    "CHANNELS",
    "GUARDIAN_AGE",
    "MESSAGE_TYPES",
    "PURPOSES",
    "Channel",
    "ConsentCommand",
    "ConsentEvent",
    "ConsentGranted",
    "ConsentState",
    "ConsentWithdrawn",
    "GrantConsent",
    "Purpose",
    "WithdrawConsent",
    "allows",
    "channels_for",
    "decide",
    "decide_merge",
    "evolve",
    "replay",
]
