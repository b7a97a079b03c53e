"""The work test_concurrency.py runs in processes of its own.

Spawned processes find functions by module name, and test modules imported with
``--import-mode=importlib`` have none a child could import: the test puts this folder on
``sys.path`` (which spawned children inherit) and imports this module as
``concurrency_workers``. Each function opens its own engine or store, waits at a barrier
so that every process starts at once, does its work and returns plain data.
"""

from __future__ import annotations

import time
from datetime import datetime
from threading import Barrier
from typing import Any

import attrs

from membercore import reference_config
from membercore.errors import EngineError, InsufficientPointsError, MembercoreError
from membercore.identity import MergeMembers
from membercore.ledger.commands import Redeem, TransferPoints
from membercore.plugins import make_plugin_manager
from membercore.ports import OutboxMessage, Store
from membercore.rewards import RedeemReward
from membercore.service.dispatch import dispatch
from membercore.service.engine import Engine
from membercore.testing.clock import ManualClock
from membercore_adapters.demo.hospital import HospitalSpec, timed_messages
from membercore_adapters.stores import memory, postgres, sqlite

# Seconds a process waits at a barrier before the test is deemed stuck.
BARRIER_TIMEOUT = 60.0


def open_engine(url: str, at: datetime, **options: Any) -> Engine:
    """An engine on the reference programme, with the first-party stores only."""
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite, postgres])
    return Engine.open(
        url, config=reference_config(), clock=ManualClock(at), plugin_manager=manager, **options
    )


def hospital_stream(patients: int, months: int) -> list[tuple[datetime, object]]:
    """The synthetic hospital's messages, each with the instant it happens."""
    return list(timed_messages(HospitalSpec(patients=patients, months=months)))


def redeem(
    url: str,
    *,
    member_id: str,
    points: int,
    times: int,
    worker: str,
    at: datetime,
    retries: int,
    start: Barrier,
) -> list[str]:
    """Try to redeem ``points`` ``times`` over; each outcome's name, in order.

    ``redeemed`` for a success, else the error's class name (``InsufficientPointsError``
    for a refusal, ``EngineError`` when the engine gave up after its retries).
    """
    outcomes = []
    with open_engine(url, at, retries=retries) as engine:
        start.wait(BARRIER_TIMEOUT)
        for n in range(times):
            command = Redeem(key=f"{worker}-{n}", member_id=member_id, points=points)
            try:
                engine.execute(command, now=at)
            except (InsufficientPointsError, EngineError) as error:
                outcomes.append(type(error).__name__)
            else:
                outcomes.append("redeemed")
    return outcomes


def ingest(
    url: str, *, patients: int, months: int, batch_size: int, at: datetime, start: Barrier
) -> tuple[int, int]:
    """Ingest the whole hospital stream in batches of ``batch_size``: (applied, retries)."""
    stream = hospital_stream(patients, months)
    with open_engine(url, at, batch_size=batch_size, retries=64) as engine:
        start.wait(BARRIER_TIMEOUT)
        report = engine.ingest(stream)
    return report.applied, report.retries


def tick(url: str, *, instants: list[datetime], step: Barrier) -> int:
    """Tick at each instant in turn, in step with the other workers: events made."""
    events = 0
    with open_engine(url, instants[0], retries=64) as engine:
        for instant in instants:
            step.wait(BARRIER_TIMEOUT)
            events += engine.tick(instant, limit=4).events
    return events


class Recorder:
    """A channel that records every message it gets, each send taking a moment."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[str] = []

    def send(self, message: OutboxMessage) -> str:
        """Take the message and acknowledge it."""
        time.sleep(0.002)  # a gateway round trip, so that the dispatchers interleave
        self.sent.append(message.message_id)
        return f"{self.name}-{len(self.sent)}"


def open_store(url: str) -> Store:
    """The store at ``url`` (a SQLite file or PostgreSQL)."""
    if url.startswith("sqlite:"):
        return sqlite.SqliteStore.open(url)
    return postgres.PostgresStore.open(url)


def dispatch_all(url: str, *, worker: str, now: datetime, limit: int, start: Barrier) -> list[str]:
    """Dispatch until nothing is left to claim: the ids the channel got, in order."""
    channel = Recorder("sms")
    store = open_store(url)
    try:
        start.wait(BARRIER_TIMEOUT)
        while dispatch(store, {"sms": channel}, now, limit=limit, worker=worker).delivered:
            pass
    finally:
        store.close()
    return channel.sent


def scarce_config(reward_key: str, stock: int) -> Any:
    """The reference programme with only ``stock`` of one gift."""
    config = reference_config()
    gifts = tuple(
        attrs.evolve(gift, stock=stock) if gift.key == reward_key else gift
        for gift in config.rewards.rewards
    )
    return attrs.evolve(config, rewards=attrs.evolve(config.rewards, rewards=gifts))


def redeem_gifts(
    url: str,
    *,
    member_ids: list[str],
    reward_key: str,
    stock: int,
    at: datetime,
    retries: int,
    start: Barrier,
) -> list[str]:
    """Each member asks for one of the gift; each outcome's name, in order."""
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite, postgres])
    config = scarce_config(reward_key, stock)
    outcomes = []
    with Engine.open(
        url, config=config, clock=ManualClock(at), plugin_manager=manager, retries=retries
    ) as engine:
        start.wait(BARRIER_TIMEOUT)
        for member_id in member_ids:
            command = RedeemReward(
                key=f"gift-{member_id}", member_id=member_id, reward_key=reward_key
            )
            try:
                engine.execute(command, now=at)
            except MembercoreError as error:
                outcomes.append(type(error).__name__)
            else:
                outcomes.append("redeemed")
    return outcomes


def move_points(
    url: str,
    *,
    worker: str,
    moves: list[tuple[str, str, int]],
    merges: list[tuple[str, str]],
    at: datetime,
    retries: int,
    start: Barrier,
) -> list[str]:
    """Transfer points between relatives and merge records: each outcome's name."""
    outcomes = []
    with open_engine(url, at, retries=retries) as engine:
        start.wait(BARRIER_TIMEOUT)
        commands: list[object] = [
            TransferPoints(key=f"{worker}-t{n}", member_id=giver, target_id=taker, points=points)
            for n, (giver, taker, points) in enumerate(moves)
        ]
        commands += [
            MergeMembers(
                key=f"{worker}-m{n}",
                member_id=survivor,
                duplicate_id=duplicate,
                operator="s",
                reason="r",
            )
            for n, (survivor, duplicate) in enumerate(merges)
        ]
        for command in commands:
            try:
                engine.execute(command, now=at)
            except MembercoreError as error:
                outcomes.append(type(error).__name__)
            else:
                outcomes.append("done")
    return outcomes
