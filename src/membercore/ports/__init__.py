"""The ports: what the engine needs from the world, as ``typing.Protocol`` roles.

The core never imports an adapter. A store keeps records (a member's state as a JSON
snapshot with a version), their events, the inbox of facts already taken, the outbox of
messages to deliver, the dead letters of facts refused, the staff tasks and the instant
each record next needs a tick. It knows nothing of the programme: snapshots and payloads
are JSON text the engine writes and reads. :class:`Store` combines one protocol per role
(:mod:`membercore.ports.store`); behaviour is pinned by the conformance suites in
:mod:`membercore.testing.contracts`, which every backend runs.

The modules: :mod:`.stored` (the values a store keeps), :mod:`.store` (the store's
roles), :mod:`.accounts` (API tokens, staff accounts and look-ups: a capability a store
may have besides its roles), :mod:`.erasure` (a store that erases a person's data,
another such capability), :mod:`.channels` (channels, their reports) and :mod:`.world`
(HIS sources, listeners, webhooks and the clock). Every name is exported here.
"""

from __future__ import annotations

from membercore.ports.accounts import (
    SCOPES,
    STAFF_ROLES,
    VIA,
    AccountStore,
    ApiToken,
    Lookup,
    StaffAccount,
)
from membercore.ports.channels import (
    Channel,
    ChannelReport,
    DeliveryFailedError,
    DeliveryReport,
    Outgoing,
    PermanentDeliveryError,
    Reply,
    ReportingChannel,
    TemplatedChannel,
    TransientDeliveryError,
    carriage,
)
from membercore.ports.erasure import Erasure, ErasureNote, ErasureStore, Rewrite
from membercore.ports.store import (
    ROLES,
    DeadLetterStore,
    IdentityStore,
    InboxStore,
    InputLog,
    OutboxStore,
    PositionStore,
    Recorder,
    RecordStore,
    Store,
    TaskStore,
    TimerStore,
    lacks,
    plays,
)
from membercore.ports.stored import (
    Change,
    Commit,
    DeadLetter,
    Delivery,
    IdentifierLink,
    InboxEntry,
    LoggedInput,
    OutboxMessage,
    Record,
    SourcePosition,
    StoredEvent,
    TaskRow,
)
from membercore.ports.world import (
    REACHED,
    Clock,
    EngineCall,
    HisSource,
    Listening,
    Positioned,
    Reached,
    Reporting,
    SourceInput,
    Unreadable,
    Webhook,
    WebhookAnswer,
    WebhookCall,
    directly,
)

__all__ = [
    "REACHED",
    "ROLES",
    "SCOPES",
    "STAFF_ROLES",
    "VIA",
    "AccountStore",
    "ApiToken",
    "Change",
    "Channel",
    "ChannelReport",
    "Clock",
    "Commit",
    "DeadLetter",
    "DeadLetterStore",
    "Delivery",
    "DeliveryFailedError",
    "DeliveryReport",
    "EngineCall",
    "Erasure",
    "ErasureNote",
    "ErasureStore",
    "HisSource",
    "IdentifierLink",
    "IdentityStore",
    "InboxEntry",
    "InboxStore",
    "InputLog",
    "Listening",
    "LoggedInput",
    "Lookup",
    "OutboxMessage",
    "OutboxStore",
    "Outgoing",
    "PermanentDeliveryError",
    "PositionStore",
    "Positioned",
    "Reached",
    "Record",
    "RecordStore",
    "Recorder",
    "Reply",
    "Reporting",
    "ReportingChannel",
    "Rewrite",
    "SourceInput",
    "SourcePosition",
    "StaffAccount",
    "Store",
    "StoredEvent",
    "TaskRow",
    "TaskStore",
    "TemplatedChannel",
    "TimerStore",
    "TransientDeliveryError",
    "Unreadable",
    "Webhook",
    "WebhookAnswer",
    "WebhookCall",
    "carriage",
    "directly",
    "lacks",
    "plays",
]
