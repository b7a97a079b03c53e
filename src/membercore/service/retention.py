"""Retention: the details of what was sent and refused let go at the end of their period.

:func:`plan_retention` finds, at an instant, what the programme's
:class:`~membercore.config.Retention` says is kept no longer — the bodies of messages
sent (failed, cancelled) ``message_days`` ago, in the outbox and in their members'
journals; the addresses they went to and the providers' errors, ``delivery_days`` ago;
the raw payloads of inputs refused ``dead_letter_days`` ago — and makes the
:class:`~membercore.ports.Erasure` (with no note: it erases no person) that rewrites
them, ``已过保留期`` standing where each stood. Ids, channels, purposes, statuses,
outcomes and reasons stay (a reason without the values it quoted of the input), so
every count and figure stays; a detail already let go is not rewritten again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Final

import attrs

from membercore import outreach
from membercore.config import Retention
from membercore.ports import DeadLetter, Erasure, OutboxMessage, Rewrite, Store, StoredEvent
from membercore.privacy import EXPIRED, Scrubber, erased_payload, is_erased, unquoted

__all__ = ["RetentionReport", "plan_retention"]

#: The journal's events that carry a message's body.
_BODIES: Final = frozenset({outreach.MessageQueued.TYPE, outreach.PhoneTaskRequested.TYPE})
_BLANK: Final = Scrubber(ids={}, marker=EXPIRED)


@attrs.frozen
class RetentionReport:
    """What one pass let go.

    Attributes:
        messages: message bodies erased (in the outbox).
        journals: members' journals whose copies of those bodies were erased.
        deliveries: messages whose address and provider's error were erased.
        dead_letters: raw payloads of inputs refused erased.
    """

    messages: int = 0
    journals: int = 0
    deliveries: int = 0
    dead_letters: int = 0


def plan_retention(
    store: Store, retention: Retention, now: datetime
) -> tuple[Erasure, RetentionReport]:
    """What ``retention`` lets go of at ``now``, and its counts."""
    bodies = _before(now, retention.message_days)
    details = _before(now, retention.delivery_days)
    outbox: list[tuple[str, OutboxMessage]] = []
    sent: dict[str, set[str]] = {}  # member key -> message ids whose body goes
    erased_bodies = erased_details = 0
    for message in store.outbox():
        kept, body, detail = _kept(message, bodies, details)
        if body:
            sent.setdefault(message.key, set()).add(message.message_id)
        if body or detail:
            outbox.append((message.message_id, kept))
        erased_bodies, erased_details = erased_bodies + body, erased_details + detail
    records = [r for key, ids in sorted(sent.items()) if (r := _journal(store, key, ids))]
    letters = list(_letters(store, _before(now, retention.dead_letter_days)))
    report = RetentionReport(
        messages=erased_bodies,
        journals=len(records),
        deliveries=erased_details,
        dead_letters=len(letters),
    )
    return Erasure(note=None, records=records, outbox=outbox, dead_letters=letters), report


def _before(now: datetime, days: int) -> datetime | None:
    """The instant before which a detail kept ``days`` goes (None: kept for good)."""
    return now - timedelta(days=days) if days else None


def _kept(
    message: OutboxMessage, bodies: datetime | None, details: datetime | None
) -> tuple[OutboxMessage, bool, bool]:
    """``message`` as kept, whether its body goes now, whether its delivery details go."""
    if message.status == "pending":
        return message, False, False
    at = message.delivered_at or message.send_at
    body = bodies is not None and at < bodies and not _blank(message.payload)
    detail = (
        details is not None
        and at < details
        and (message.address is not None or message.last_error is not None)
    )
    kept = message
    if body:
        kept = attrs.evolve(kept, payload=_BLANK.json(message.payload))
    if detail:
        kept = attrs.evolve(kept, address=None, last_error=None)
    return kept, body, detail


def _blank(payload: str) -> bool:
    """Whether a message's body was let go already."""
    try:
        text = json.loads(payload).get("text")
    except (ValueError, AttributeError):
        return False
    return text is None or text == "" or is_erased(str(text))


def _journal(store: Store, key: str, message_ids: set[str]) -> Rewrite | None:
    """The member's journal with the bodies of ``message_ids`` erased."""
    stored = store.load([key]).get(key)
    if stored is None:
        return None
    events = [_bodiless(event, message_ids) for event in store.events(key)]
    return Rewrite(
        old_key=key,
        key=key,
        version=stored.version,
        snapshot=stored.snapshot,
        snapshot_version=stored.snapshot_version,
        events=events,
    )


def _bodiless(event: StoredEvent, message_ids: set[str]) -> StoredEvent:
    if event.type not in _BODIES or json.loads(event.payload).get("message_id") not in message_ids:
        return event
    return attrs.evolve(event, payload=_BLANK.json(event.payload))


def _letters(store: Store, before: datetime | None) -> Iterator[tuple[DeadLetter, DeadLetter]]:
    if before is None:
        return
    for letter in store.dead_letters():
        if letter.at < before and not is_erased(letter.payload):
            let_go = erased_payload(letter.payload, EXPIRED)
            yield (
                letter,
                attrs.evolve(letter, payload=let_go, reason=unquoted(letter.reason, EXPIRED)),
            )
