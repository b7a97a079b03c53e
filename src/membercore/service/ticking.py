"""Time: everything due by an instant, run record by record in claimed pages.

Journey timers, plan terms, point expiry and tier reviews come due on a member's
record; :func:`tick` takes the due records earliest first, a page per commit. One
member's failure is kept as a dead letter with its reason and never holds the others up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from membercore.errors import MembercoreError
from membercore.service import pipeline
from membercore.service.handling import catch_up
from membercore.service.inputs import INPUT_FAULTS, chunks, dead, reason
from membercore.service.member import Member
from membercore.service.recording import member_of
from membercore.service.reports import TickReport
from membercore.service.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from membercore.service.engine import Engine

__all__ = ["tick", "tick_keys", "tick_record"]


def tick(
    engine: Engine, at: datetime, limit: int, where: Callable[[str], bool] | None
) -> TickReport:
    """Tick every record due by ``at`` (see :meth:`~membercore.Engine.tick`)."""
    if where is None:
        return _tick_claimed(engine, at, limit)
    records = events = 0
    page = limit
    while True:
        due = engine.store.due(at, page)
        keys = [key for key, _ in due if where(member_of(key))]
        if keys:
            work = partial(_tick_batch, engine, keys[:limit], at)
            count, _ = engine.retrying(work, f"ticking {len(keys[:limit])} records")
            records += len(keys[:limit])
            events += count
        if len(due) < page:
            break
        if not keys:
            # Every record due first is another worker's: look further ahead.
            page *= 2
    return TickReport(records=records, events=events)


def tick_keys(engine: Engine, keys: list[str], at: datetime, ctx: pipeline.Context) -> int:
    """Tick the records of ``keys`` to ``at`` under ``ctx`` (a history import's end)."""
    events = 0
    for page in chunks(keys, engine.batch_size):
        count, _ = engine.retrying(
            partial(_tick_batch, engine, page, at, ctx), f"ticking {len(page)} records"
        )
        events += count
    return events


def _tick_claimed(engine: Engine, at: datetime, limit: int) -> TickReport:
    """Tick pages of claimed due records until a claim comes back short.

    A worker takes its own claims back (it may have been started again under its
    name), so a record this call ticked and could not release ends the call.
    """
    records = events = 0
    ticked: set[str] = set()
    while True:
        claimed = engine.store.claim_due(at, limit, worker=engine.worker, lease=engine.tick_lease)
        keys = [key for key, _ in claimed if key not in ticked]
        ticked.update(keys)
        if not keys:
            break
        work = partial(_tick_batch, engine, keys, at)
        count, _ = engine.retrying(work, f"ticking {len(keys)} records")
        records += len(keys)
        events += count
        if not claimed or len(claimed) < limit:
            break
    return TickReport(records=records, events=events)


def _tick_batch(
    engine: Engine, keys: list[str], now: datetime, ctx: pipeline.Context | None = None
) -> int:
    uow = engine.unit_of_work(now)
    uow.load(keys)
    uow.load_households()
    count = sum(tick_record(engine, uow, ctx or engine.context, key, now) for key in keys)
    uow.log_tick(keys)
    uow.commit(after=now)
    return count


def tick_record(
    engine: Engine, uow: UnitOfWork, ctx: pipeline.Context, key: str, now: datetime
) -> int:
    """Tick one member's record held by ``uow`` to ``now``: how many events it made.

    One member's failure never holds the others up: it is kept as a dead letter with
    its reason.
    """
    held = uow.records.get(key)
    if held is None or not isinstance(held.state, Member):
        return 0
    # A record ticked with nothing to do still has its due instant moved on.
    held.touched = True
    try:
        return len(catch_up(uow, ctx, held, now))
    except (MembercoreError, *INPUT_FAULTS) as error:
        note = f"tick of member {held.state.member_id} failed: {reason(error)}"
        raw = f"tick {key} at {now.isoformat()}"
        uow.dead.append(dead(None, raw, note, now, engine.limits))
        return 0
