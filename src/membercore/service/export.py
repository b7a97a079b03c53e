"""A person's copy of their data (PIPL Art. 45): everything the programme holds about them.

:func:`export_member` gathers, from the store, one member's record as it stands, their
identifiers, their whole journal (each event with the explanation it carries), the
facts and commands taken about them (the input log) and those refused (dead letters),
the messages queued for them with what became of each and those refused, their consent
history with how each grant was given, the staff tasks about them, and who looked at
their record — as one JSON-ready document whose shape docs/member-export.schema.json
states (:data:`EXPORT_SCHEMA` names its version).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from membercore import consent, outreach
from membercore.ports import (
    AccountStore,
    DeadLetter,
    LoggedInput,
    OutboxMessage,
    Store,
    StoredEvent,
    TaskRow,
)
from membercore.serialization import record_to_json
from membercore.service.erasure import about
from membercore.service.member import Member
from membercore.service.recording import member_key

__all__ = ["EXPORT_SCHEMA", "export_member", "journal_entry"]

#: The name and version of the document's shape (docs/member-export.schema.json).
EXPORT_SCHEMA = "membercore.member-export/1"

#: The journal's events that are the consent history.
_CONSENT = frozenset({consent.ConsentGranted.TYPE, consent.ConsentWithdrawn.TYPE})


def export_member(store: Store, member: Member, now: datetime) -> dict[str, Any]:
    """Everything ``store`` holds about ``member``, as plain data (JSON as it is)."""
    member_id = member.member_id
    key = member_key(member_id)
    journal = [journal_entry(event) for event in store.events(key)]
    return {
        "schema": EXPORT_SCHEMA,
        "member_id": member_id,
        "exported_at": now.isoformat(),
        "record": json.loads(record_to_json(member)),
        "identifiers": [
            {"system": link.system, "value": link.value} for link in store.identifiers_of(member_id)
        ],
        "journal": journal,
        "consent": [entry for entry in journal if entry["type"] in _CONSENT],
        "received": list(_received(store, key)),
        "refused_inputs": [_refused(letter) for letter in _refusals(store, member_id)],
        "messages": [_message(m) for m in store.outbox() if m.key == key],
        "messages_refused": [
            entry for entry in journal if entry["type"] == outreach.MessageRefused.TYPE
        ],
        "tasks": [_task(row) for row in store.tasks(None) if row.key == key],
        "lookups": list(_lookups(store, member_id)),
    }


def journal_entry(event: StoredEvent) -> dict[str, Any]:
    """A journal's event as plain data: its version, type, instant and the event itself."""
    return {
        "version": event.version,
        "type": event.type,
        "at": event.at.isoformat(),
        "event": json.loads(event.payload),
    }


def _received(store: Store, key: str) -> Iterator[dict[str, Any]]:
    for logged in store.inputs():
        if key in logged.keys and logged.kind != "tick":
            yield _logged(logged)


def _logged(logged: LoggedInput) -> dict[str, Any]:
    return {
        "kind": logged.kind,
        "at": logged.at.isoformat(),
        "occurred_at": logged.occurred_at.isoformat(),
        "refused": logged.refused,
        "message": json.loads(logged.payload),
    }


def _refusals(store: Store, member_id: str) -> Iterable[DeadLetter]:
    """The refused inputs about the member: those their erasure would rewrite.

    An input names the member by any of their ids or identifiers (a card number, an id
    another source gives them), and a message that could not be read is kept as its
    raw text: each is theirs when it mentions one of them, or a value of theirs.
    """
    mentioning = about(store, member_id)
    return (
        letter
        for letter in store.dead_letters()
        if mentioning.mentions(letter.payload) or mentioning.mentions(letter.fact_id)
    )


def _refused(letter: DeadLetter) -> dict[str, Any]:
    return {
        "fact_id": letter.fact_id,
        "type": letter.fact_type,
        "at": letter.at.isoformat(),
        "reason": letter.reason,
        "payload": letter.payload,
    }


def _message(message: OutboxMessage) -> dict[str, Any]:
    return {
        "message_id": message.message_id,
        "channel": message.channel,
        "status": message.status,
        "send_at": message.send_at.isoformat(),
        "attempts": message.attempts,
        "address": message.address,
        "delivered_at": _instant(message.delivered_at),
        "outcome": message.outcome,
        "outcome_at": _instant(message.outcome_at),
        "last_error": message.last_error,
        "message": json.loads(message.payload),
    }


def _task(row: TaskRow) -> dict[str, Any]:
    return {
        "task_key": row.task_key,
        "kind": row.kind,
        "role": row.role,
        "assignee": row.assignee,
        "due_at": row.due_at.isoformat(),
        "status": row.status,
        "task": json.loads(row.payload),
    }


def _lookups(store: Store, member_id: str) -> Iterator[dict[str, Any]]:
    if not isinstance(store, AccountStore):
        return
    for seen in store.lookups(member_id=member_id):
        yield {"at": seen.at.isoformat(), "who": seen.who, "purpose": seen.purpose, "via": seen.via}


def _instant(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()
