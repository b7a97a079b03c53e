"""The shapes the API answers with where the engine's own types do not fit as they are.

The engine's frozen attrs types (balances, lots, tier changes, entitlements, quotes,
subscriptions, journeys) are answered as they are: Litestar writes them and documents
them in the OpenAPI document from their attrs fields. The classes here gather what one
answer says from several of the engine's calls (a member at a glance), report what
became of each input (ingestion, a command), or say a record's part without its
internal keys (consents, messages, tasks).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, Literal

import attrs

from membercore import benefits, ledger, tiers
from membercore.outreach import SentMessage
from membercore.ports import TaskRow
from membercore.service.recording import member_key, member_of
from membercore.staff.tasks import Task

__all__ = [
    "CommandResult",
    "CompleteTask",
    "ConsentView",
    "FactOutcome",
    "FactsReport",
    "MemberView",
    "MessageView",
    "QuoteRequest",
    "TagsView",
    "TaskView",
    "TierView",
    "task_id",
    "task_key_of",
]


@attrs.frozen(kw_only=True)
class FactOutcome:
    """What became of one fact sent.

    Attributes:
        index: its place in the request (0 for a single fact).
        fact_id: its id, when it had one.
        type: its type tag, when it had one.
        status: ``applied`` (taken now), ``duplicate`` (taken before: nothing changed)
            or ``refused`` (kept as a dead letter with the reason, or not a fact).
        reason: why it was refused.
        pointer: the field at fault, as a JSON pointer into the request body.
    """

    index: int
    fact_id: str | None = None
    type: str | None = None
    status: Literal["applied", "duplicate", "refused"]
    reason: str | None = None
    pointer: str | None = None


@attrs.frozen(kw_only=True)
class FactsReport:
    """What became of the facts of one request, each in the order sent."""

    applied: int
    duplicates: int
    refused: int
    items: tuple[FactOutcome, ...]


@attrs.frozen(kw_only=True)
class CommandResult:
    """A command carried out: the events it made, as the member's journal keeps them.

    Sent again with the same key and body, it is not carried out twice: the answer is
    the events the first time made on the member's record (and the
    ``Idempotent-Replayed: true`` header says so).
    """

    type: str
    key: str | None
    events: tuple[dict[str, Any], ...]


@attrs.frozen(kw_only=True)
class MemberView:
    """A member at a glance, now.

    Attributes:
        member_id: the member.
        tier: the tier key (``L1``..``L5`` in the reference programme).
        segment: the value segment (A, B, C), if derived.
        tags: the member's tags, sorted.
        points: the balances.
        household_id: the household, if any.
        health_manager: the member's dedicated health manager, if any.
        merged_into: the record this one was merged into, if it was.
        alive: whether the programme knows the member alive.
    """

    member_id: str
    tier: str
    segment: str | None
    tags: tuple[str, ...]
    points: ledger.Balances
    household_id: str | None
    health_manager: str | None
    merged_into: str | None
    alive: bool


@attrs.frozen(kw_only=True)
class TierView:
    """The member's tier now, and every change of it with its reason, oldest first."""

    tier: str
    history: tuple[tiers.TierChanged, ...]


@attrs.frozen(kw_only=True)
class TagsView:
    """The member's tags (sorted) and value segment."""

    tags: tuple[str, ...]
    segment: str | None


@attrs.frozen(kw_only=True)
class ConsentView:
    """The channels the member agreed to, by purpose (each sorted)."""

    member_id: str
    granted: dict[str, tuple[str, ...]]


@attrs.frozen(kw_only=True)
class MessageView:
    """A message or call the programme decided for the member (the last two weeks, and later).

    Attributes:
        message_id: its id.
        at: when it goes, or went, out.
        purpose: ``care`` or ``marketing``...
        channel: ``wecom``, ``sms``, ``email``, or ``phone`` for a call task.
        urgent: an urgent care message, which quiet hours do not hold back.
        journey: the journey instance whose step asked for it, if one did.
        handed_over: given to its channel.
        delivered: its provider reported it delivered.
    """

    message_id: str
    at: datetime
    purpose: str
    channel: str
    urgent: bool
    journey: str
    handed_over: bool
    delivered: bool

    @classmethod
    def of(cls, message: SentMessage, handed_over: frozenset[str]) -> MessageView:
        """The view of a message the member's outreach holds."""
        return cls(
            message_id=message.message_id,
            at=message.at,
            purpose=message.purpose,
            channel=message.channel,
            urgent=message.urgent,
            journey=message.journey,
            handed_over=message.message_id in handed_over,
            delivered=message.delivered,
        )


@attrs.frozen(kw_only=True)
class TaskView:
    """A staff task.

    Attributes:
        id: how the task is named in URLs (``/tasks/{id}/claim``): its key in base64url
            without padding, since a key may hold ``/``.
        task_key: its key (the journey action's, or a message id for a call).
        member_id: the member concerned.
        kind: what to do (``call``, ``follow_up``...).
        role: the role that does it.
        assignee: who holds it; ``None`` while it waits unassigned.
        due_at: when it is due.
        status: ``open`` or ``closed``.
        outcome: a closed task's outcome.
        unassigned_reason: why an open task waits unassigned.
    """

    id: str
    task_key: str
    member_id: str
    kind: str
    role: str
    assignee: str | None
    due_at: datetime
    status: str
    outcome: str | None = None
    unassigned_reason: str | None = None

    @classmethod
    def of_row(cls, row: TaskRow) -> TaskView:
        """The view of a task as the store lists it."""
        return cls(
            id=task_id(row.key, row.task_key),
            task_key=row.task_key,
            member_id=member_of(row.key),
            kind=row.kind,
            role=row.role,
            assignee=row.assignee,
            due_at=row.due_at,
            status=row.status,
            outcome=_outcome(row.payload) if row.status == "closed" else None,
            unassigned_reason=row.unassigned_reason,
        )

    @classmethod
    def of_task(cls, member_id: str, task: Task) -> TaskView:
        """The view of a task as the member's record holds it."""
        return cls(
            id=task_id(member_key(member_id), task.key),
            task_key=task.key,
            member_id=member_id,
            kind=task.kind,
            role=task.role,
            assignee=task.assignee,
            due_at=task.due_at,
            status=task.status,
            outcome=task.outcome,
            unassigned_reason=task.unassigned_reason,
        )


def task_id(key: str, task_key: str) -> str:
    """The URL-safe id of a task: its record's key and its own, in base64url, unpadded.

    A task's key is unique within its record only: two members' tasks may share one.
    """
    named = f"{key}\n{task_key}".encode()
    return base64.urlsafe_b64encode(named).decode("ascii").rstrip("=")


def task_key_of(task_id: str) -> tuple[str | None, str] | None:
    """The record and the key a task id names, or ``None`` when it names none.

    An id an earlier release gave names the task's key alone: its record is ``None``.
    """
    try:
        padded = task_id + "=" * (-len(task_id) % 4)
        named = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (ValueError, UnicodeError):
        return None
    if not named or task_id != task_id.rstrip("="):
        return None
    record, newline, key = named.partition("\n")
    return (record, key) if newline and record and key else (None, named)


def _outcome(payload: str) -> str | None:
    try:
        outcome = json.loads(payload).get("outcome")
    except (ValueError, AttributeError):
        return None
    return outcome if isinstance(outcome, str) else None


@attrs.frozen(kw_only=True)
class QuoteRequest:
    """A bill to price for a member.

    Attributes:
        items: the bill's lines, each ``item_code``, ``category``, ``list_price_fen`` and
            ``quantity``.
        appointment_id: the appointment billed: the uses reserved for it count as free.
    """

    items: tuple[benefits.BillItem, ...]
    appointment_id: str | None = None


@attrs.frozen(kw_only=True)
class CompleteTask:
    """A task done, with its outcome (``rebooked``, ``no_answer``...)."""

    outcome: str
