"""What became of the messages handed over: failures, providers' reports, members' replies.

A delivery that failed is noted on the member's record (:func:`note`): to be retried,
or given up and fallen back to the member's next channel. A channel that reads back
what its provider said (:class:`~membercore.ports.ReportingChannel`) is asked for it
(:func:`read_reports`): a message reported delivered or undeliverable is noted the same
way, and its outcome recorded in the outbox so that it is not asked about again; a
reply that is an opt-out word (``TD``) withdraws marketing consent on that channel for
each member a marketing message went to at that address in the last
``opt_out_days`` (addresses compared as :func:`address_key` writes them).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import attrs

from membercore import outreach
from membercore.consent import ConsentWithdrawn, WithdrawConsent
from membercore.errors import MembercoreError, StorageError
from membercore.facts.contacts import mainland_mobile
from membercore.ports import (
    Channel,
    DeliveryReport,
    OutboxMessage,
    Outgoing,
    Reply,
    ReportingChannel,
)
from membercore.privacy import is_pseudonym
from membercore.serialization import message_from_stored
from membercore.service.member import Member
from membercore.service.recording import member_key, member_of
from membercore.service.use_cases import handle

if TYPE_CHECKING:
    from membercore.service.engine import Engine

__all__ = [
    "ReportsRead",
    "address_key",
    "note",
    "read_reports",
    "rendered",
    "todays_payload",
]

log = logging.getLogger("membercore.outcomes")

#: How a row an earlier release queued begins: the whole decision, tagged, as stored.
_QUEUED = f'{{"type":"{outreach.MessageQueued.TYPE}"'

#: What the engine sends a record about a message's fate.
Note = outreach.NoteDelivery | WithdrawConsent


@attrs.frozen(kw_only=True)
class ReportsRead:
    """What reading the channels' reports did.

    Attributes:
        delivered: messages reported delivered.
        undeliverable: messages reported undeliverable (noted, and fallen back).
        replies: members' replies read.
        opted_out: consents withdrawn by an opt-out reply.
        unreadable: channels that could not be asked (asked again next time).
    """

    delivered: int = 0
    undeliverable: int = 0
    replies: int = 0
    opted_out: int = 0
    unreadable: int = 0


def note(engine: Engine, notes: Sequence[Note], now: datetime) -> tuple[object, ...]:
    """Have each member's record take what was learnt of its messages, in one commit.

    A note naming a member with no record is passed over: their record is gone. So is one
    on an erased person's record (a provider's late word on a message sent before the
    erasure): nothing more is decided on it, no fallback, no staff call.
    """
    if not notes:
        return ()
    what = f"noting {len(notes)} outcomes of deliveries"
    events, _ = engine.retrying(partial(_note, engine, notes, now), what)
    return events


def _note(engine: Engine, notes: Sequence[Note], now: datetime) -> tuple[object, ...]:
    notes = [item for item in notes if not is_pseudonym(item.member_id)]
    uow = engine.unit_of_work(now)
    uow.load({member_key(item.member_id) for item in notes})
    uow.load_households()
    made: list[object] = []
    for item in notes:
        held = uow.records.get(member_key(item.member_id))
        if held is None or not isinstance(held.state, Member):
            continue
        uow.mark()
        noted = handle(uow, engine.context, item, now)
        if noted:
            uow.log_input(item, now, [*uow.changed(), held.key])
        made += noted
    uow.commit()
    return tuple(made)


def read_reports(
    engine: Engine,
    channels: Mapping[str, Channel],
    now: datetime,
    *,
    window: timedelta,
    limit: int,
) -> ReportsRead:
    """Ask every reporting channel what its provider said, and note it on the records."""
    read = ReportsRead()
    for channel in channels.values():
        if isinstance(channel, ReportingChannel):
            read = _add(read, _read_one(engine, channel, now, window, limit))
    return read


def _read_one(
    engine: Engine,
    channel: ReportingChannel,
    now: datetime,
    window: timedelta,
    limit: int,
) -> ReportsRead:
    awaiting = engine.store.awaiting(channel.name, now - window, limit)
    try:
        said = list(channel.reports(awaiting, now))
    # A channel is a plugin talking to the outside: whatever it raises is a provider
    # that could not be asked now, never a reason to stop the others.
    except Exception as error:
        log.warning("channel %s: reports not read: %s", channel.name, type(error).__name__)
        return ReportsRead(unreadable=1)
    reports = [item for item in said if isinstance(item, DeliveryReport)]
    replies = [item for item in said if isinstance(item, Reply)]
    known = {message.message_id: message for message in awaiting}
    try:
        notes: list[Note] = [_noted(engine, report, known) for report in reports]
        opt_outs = _opt_outs(engine, channel.name, replies)
        made = note(engine, [*notes, *opt_outs], now)
        for report in reports:
            _record_outcome(engine, report, known.get(report.message_id))
    except MembercoreError as error:
        # Not taken: the channel keeps what it read and gives it again next time.
        log.warning("channel %s: reports not taken: %s", channel.name, error)
        return ReportsRead(unreadable=1)
    settled = getattr(channel, "settled", None)
    if callable(settled):
        settled(said)
    delivered = sum(1 for report in reports if report.delivered)
    return ReportsRead(
        delivered=delivered,
        undeliverable=len(reports) - delivered,
        replies=len(replies),
        # Withdrawn now: a reply read again (a push repeated) withdraws nothing more.
        opted_out=sum(1 for event in made if isinstance(event, ConsentWithdrawn)),
    )


def _noted(
    engine: Engine, report: DeliveryReport, known: Mapping[str, OutboxMessage]
) -> outreach.NoteDelivery:
    message = known.get(report.message_id)
    member = member_of(message.key) if message else report.message_id.rpartition("/msg/")[0]
    member = member or report.message_id
    again = rendered(message) if message else {}
    if not again and not report.delivered:
        # A report on a message outside this reading's batch: its fallback renders what
        # the member's journal queued.
        again = _queued(engine, member, report.message_id)
    return outreach.NoteDelivery(
        member_id=member,
        message_id=report.message_id,
        at=report.at,
        delivered=report.delivered,
        detail=report.detail or ("delivered" if report.delivered else "undeliverable"),
        **again,
    )


def _queued(engine: Engine, member: str, message_id: str) -> dict[str, Any]:
    """The template and values the member's journal queued ``message_id`` with, if any."""
    for stored in reversed(engine.store.events(member_key(member))):
        if stored.type == outreach.MessageQueued.TYPE:
            queued = message_from_stored(stored.payload)
            if queued.message_id == message_id:
                return {"template_key": queued.template_key, "variables": dict(queued.variables)}
    return {}


def todays_payload(payload: str) -> str:
    """An outbox row's payload in today's shape (:class:`~membercore.ports.Outgoing`).

    A row an earlier release queued holds the whole decision: it is made so too.
    """
    if payload.startswith(_QUEUED):
        return outreach.outgoing(message_from_stored(payload))
    return payload


def rendered(message: OutboxMessage) -> dict[str, Any]:
    """The template and values an outbox row was rendered with: what its fallback renders."""
    try:
        outgoing = Outgoing.of(attrs.evolve(message, payload=todays_payload(message.payload)))
    except ValueError:
        return {}
    if not outgoing.template:
        return {}
    return {"template_key": outgoing.template, "variables": dict(outgoing.variables)}


def _record_outcome(engine: Engine, report: DeliveryReport, message: OutboxMessage | None) -> None:
    outcome = "delivered" if report.delivered else "undeliverable"
    # A message this reading awaited is found in its record; another by its id alone.
    key = None if message is None else message.key
    try:
        engine.store.record_outcome(report.message_id, outcome, report.at, key=key)
    except StorageError:
        # A report on a message the outbox never acknowledged (another programme's, or
        # one it lost): nothing to mark; its record took what it could.
        log.info("report on %s: no acknowledged message of that id", report.message_id)


def address_key(channel: str, address: str | None) -> str | None:
    """An address as the outbox keeps it, so that a reply from it is matched however written.

    A mainland mobile number without its country code, spaces or dashes
    (``+86 138-0013-8000`` is ``13800138000``); an e-mail address without case; any
    other as it is.
    """
    if not address:
        return None
    if channel in ("sms", "phone"):
        digits = "".join(char for char in address if char.isdigit() or char == "+")
        return mainland_mobile(address) or digits
    if channel == "email":
        return address.strip().casefold()
    return address


def _opt_outs(engine: Engine, channel: str, replies: Iterable[Reply]) -> list[WithdrawConsent]:
    """The withdrawals the opt-out replies ask for: one per member reached at the address."""
    policy = engine.config.outreach
    withdrawals: list[WithdrawConsent] = []
    for reply in replies:
        if not policy.opts_out(reply.text):
            continue
        since = reply.at - timedelta(days=policy.opt_out_days)
        members = {
            member_of(message.key)
            for message in engine.store.sent_to(
                channel, address_key(channel, reply.address) or reply.address, since
            )
            if _purpose(message) == "marketing"
        }
        if not members:
            log.info("channel %s: an opt-out reply matched no marketing message", channel)
        withdrawals += [
            WithdrawConsent(
                key=f"reply/{channel}/{reply.reply_id}",
                member_id=member,
                purpose="marketing",
                channels=(channel,),  # type: ignore[arg-type]
                reason=f"replied {reply.text.strip()!r} to a marketing {channel} message",
            )
            for member in sorted(members)
        ]
    return withdrawals


def _purpose(message: OutboxMessage) -> str | None:
    try:
        return Outgoing.of(message).purpose
    except ValueError:
        return None


def _add(one: ReportsRead, other: ReportsRead) -> ReportsRead:
    return ReportsRead(
        **{name: value + getattr(other, name) for name, value in attrs.asdict(one).items()}
    )
