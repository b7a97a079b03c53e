"""Workers in processes of their own over one store: a SQLite file and PostgreSQL.

Each scenario starts its processes at a barrier so that they really overlap, then checks
the store against what the rules allow (redemptions) or against what one worker alone
reaches (ingestion, ticks), and that no message goes out twice (dispatch). The processes
are spawned, as they would be on any platform, from one pool the module shares; their
work is in concurrency_workers.py.
"""

from __future__ import annotations

import importlib
import multiprocessing
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from multiprocessing.managers import SyncManager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from membercore import households, ledger
from membercore.facts import ChargeLine, ChargePaid, PatientRegistered
from membercore.ports import Commit, OutboxMessage, Store
from membercore.serialization import record_to_json
from membercore.service.engine import Engine

HERE = Path(__file__).resolve().parent
PROCESSES = 4
# Seconds a scenario may take before it is deemed stuck.
TIMEOUT = 120.0
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, outside quiet hours
VESTED = T0 + timedelta(days=8)  # past the 7-day refund window
PATIENTS, MONTHS = 40, 2
# The engine retries a conflict at once, without a pause: four processes writing one
# member on PostgreSQL starve some of them through the default 8 retries (the winners
# commit again before a loser's retry lands), though every command would fit. 32 is
# enough here; the rules, not the retry budget, are what these tests check.
HOT_RETRIES = 32


# -- the pool and the stores -----------------------------------------------------------------


@pytest.fixture(scope="module")
def workers() -> Iterator[ModuleType]:
    """concurrency_workers, importable by name here and in every spawned child."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(HERE))
        yield importlib.import_module("concurrency_workers")


@pytest.fixture(scope="module")
def pool(workers: ModuleType) -> Iterator[ProcessPoolExecutor]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=PROCESSES, mp_context=context) as executor:
        yield executor


@pytest.fixture(scope="module")
def manager(workers: ModuleType) -> Iterator[SyncManager]:
    """Barriers the pool's processes can share (a plain one only passes to a child)."""
    with multiprocessing.get_context("spawn").Manager() as started:
        yield started


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One store every process opens: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/shared.db"
    schema_url: str = request.getfixturevalue("postgres_schema_url")
    return schema_url


def _together(
    pool: ProcessPoolExecutor, work: Callable[..., Any], jobs: list[dict[str, Any]]
) -> list[Any]:
    futures: list[Future[Any]] = [pool.submit(work, **job) for job in jobs]
    return [future.result(timeout=TIMEOUT) for future in futures]


def _states(engine: Engine) -> dict[str, str]:
    return {member.member_id: record_to_json(member) for member in engine.members()}


def _postings(store: Store, member_id: str) -> int:
    return sum(event.type == "points_posted" for event in store.events(f"member:{member_id}"))


def _outbox_ids(store: Store) -> list[str]:
    return sorted(message.message_id for message in store.outbox())


# -- 1. redemptions never overspend -----------------------------------------------------------


def test_processes_redeeming_from_one_member_at_once_never_overspend(
    url: str, pool: ProcessPoolExecutor, manager: SyncManager, workers: ModuleType
) -> None:
    member, points, times = "p-lin", 7, 10
    line = ChargeLine(department="internal", category="exam", amount_fen=200 * 100)
    with workers.open_engine(url, T0) as engine:
        engine.ingest(
            [
                PatientRegistered(fact_id="reg", patient_id=member, occurred_at=T0),
                ChargePaid(
                    fact_id="pay", patient_id=member, occurred_at=T0, charge_id="ch", lines=(line,)
                ),
            ],
            now=T0,
        )
        available = ledger.balances(engine.member(member).ledger, engine.config, VESTED).available
        postings = _postings(engine.store, member)
    assert available == 200
    assert available < PROCESSES * times * points  # more is asked for than there is

    start = manager.Barrier(PROCESSES)
    jobs = [
        {
            "url": url,
            "member_id": member,
            "points": points,
            "times": times,
            "worker": f"w{n}",
            "at": VESTED,
            "retries": HOT_RETRIES,
            "start": start,
        }
        for n in range(PROCESSES)
    ]
    outcomes = Counter(o for found in _together(pool, workers.redeem, jobs) for o in found)

    assert set(outcomes) <= {"redeemed", "InsufficientPointsError"}, outcomes
    spent = outcomes["redeemed"] * points
    # Every redemption that fitted was taken: refusals came only once the points ran out.
    assert spent == available - available % points
    with workers.open_engine(url, VESTED) as engine:
        after = ledger.balances(engine.member(member).ledger, engine.config, VESTED)
        redemptions = _postings(engine.store, member) - postings
    assert (after.available, after.redeemed) == (available - spent, spent)
    assert after.available >= 0
    assert redemptions == outcomes["redeemed"]  # one posting each, none twice


# -- 2. overlapping ingestion ends where one worker does --------------------------------------


def test_two_workers_ingesting_the_same_stream_in_other_batches_reach_one_workers_state(
    url: str, pool: ProcessPoolExecutor, manager: SyncManager, workers: ModuleType
) -> None:
    stream = workers.hospital_stream(PATIENTS, MONTHS)
    end = stream[-1][0]
    with workers.open_engine("memory://", end) as alone:
        alone.ingest(stream)
        expected = (_states(alone), _outbox_ids(alone.store))
    assert len(expected[0]) == PATIENTS

    workers.open_engine(url, end).close()  # the schema, before the processes race to it
    start = manager.Barrier(2)
    common = {"url": url, "patients": PATIENTS, "months": MONTHS, "at": end, "start": start}
    jobs = [{**common, "batch_size": size} for size in (7, 11)]
    reports = _together(pool, workers.ingest, jobs)

    with workers.open_engine(url, end) as engine:
        assert (_states(engine), _outbox_ids(engine.store)) == expected
        assert list(engine.store.dead_letters()) == []
    # Between them they took every message at least once.
    assert sum(applied for applied, _ in reports) >= len(stream)


# -- 3. two dispatchers deliver each message once ---------------------------------------------


def test_two_dispatchers_over_one_store_deliver_each_message_exactly_once(
    url: str, pool: ProcessPoolExecutor, manager: SyncManager, workers: ModuleType
) -> None:
    queued = [
        OutboxMessage(
            message_id=f"m-{n:03d}",
            key=f"member:p-{n % 9}",
            channel="sms",
            payload="{}",
            send_at=T0,
        )
        for n in range(120)
    ]
    store = workers.open_store(url)
    try:
        store.commit(Commit(outbox=queued))
    finally:
        store.close()

    start = manager.Barrier(2)
    jobs = [
        {"url": url, "worker": name, "now": T0, "limit": 5, "start": start}
        for name in ("dispatcher-a", "dispatcher-b")
    ]
    first, second = _together(pool, workers.dispatch_all, jobs)

    got = first + second
    assert sorted(got) == [message.message_id for message in queued]  # each once, none lost
    # They did run side by side.
    assert first
    assert second
    store = workers.open_store(url)
    try:
        assert {message.status for message in store.outbox()} == {"delivered"}
    finally:
        store.close()


# -- 4. two workers ticking fire each timer once ----------------------------------------------


def test_two_workers_ticking_one_store_at_once_fire_each_journey_timer_once(
    url: str, pool: ProcessPoolExecutor, manager: SyncManager, workers: ModuleType
) -> None:
    stream = workers.hospital_stream(PATIENTS, MONTHS)
    end = stream[-1][0]
    instants = [end + timedelta(days=day) for day in range(1, 61, 3)]

    def journal(engine: Engine) -> Counter[str]:
        kinds = ("journey_moved", "journey_action_issued")
        return Counter(
            event.type
            for record in engine.store.scan("member:")
            for event in engine.store.events(record.key)
            if event.type in kinds
        )

    with workers.open_engine("memory://", end) as alone:
        alone.ingest(stream)
        before = journal(alone)
        fired = sum(alone.tick(instant, limit=4).events for instant in instants)
        expected = (journal(alone), _states(alone), _outbox_ids(alone.store))
    assert expected[0] - before  # the ticks fired timers

    with workers.open_engine(url, end) as engine:
        engine.ingest(stream)
    step = manager.Barrier(2)
    made = _together(pool, workers.tick, [{"url": url, "instants": instants, "step": step}] * 2)
    # Each event was made by one worker or the other, never by both.
    assert sum(made) == fired

    with workers.open_engine(url, end) as engine:
        assert journal(engine) == expected[0]
        assert (_states(engine), _outbox_ids(engine.store)) == expected[1:]


# -- 5. the last gifts go to exactly as many members as there are -----------------------------

RACERS = 8


@pytest.fixture(scope="module")
def pool_of_eight(workers: ModuleType) -> Iterator[ProcessPoolExecutor]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=RACERS, mp_context=context) as executor:
        yield executor


@pytest.mark.slow
def test_eight_processes_racing_for_the_last_ten_gifts_redeem_exactly_ten(
    url: str, pool_of_eight: ProcessPoolExecutor, manager: SyncManager, workers: ModuleType
) -> None:
    gift, stock, each = "bp_monitor", 10, 3
    people = [[f"p-{n}-{k}" for k in range(each)] for n in range(RACERS)]
    with workers.open_engine(url, T0) as engine:
        engine.ingest(
            [
                PatientRegistered(fact_id=f"reg-{person}", patient_id=person, occurred_at=T0)
                for group in people
                for person in group
            ],
            now=T0,
        )
        for group in people:
            for person in group:
                engine.adjust_points(person, 10_000, key=f"seed-{person}", operator="s", reason="r")

    start = manager.Barrier(RACERS)
    common = {"url": url, "reward_key": gift, "stock": stock, "at": VESTED, "start": start}
    jobs = [{**common, "member_ids": group, "retries": 64} for group in people]
    outcomes = Counter(
        o for found in _together(pool_of_eight, workers.redeem_gifts, jobs) for o in found
    )

    assert outcomes["redeemed"] == stock, outcomes
    assert set(outcomes) == {"redeemed", "OutOfStockError"}, outcomes
    with workers.open_engine(url, VESTED) as engine:
        holders = [
            person
            for group in people
            for person in group
            if engine.member(person).rewards.redeemed(gift)
        ]
        spent = sum(engine.points(person).redeemed for group in people for person in group)
        (record,) = engine.store.load([f"stock:{gift}"]).values()
    assert len(holders) == stock
    assert spent == stock * 6_000  # the gift's price, once per holder
    assert record.version == stock  # one commit per gift, none lost, none twice


# -- 6. transfers and merges from many processes conserve points ------------------------------


def test_transfers_and_merges_from_many_processes_conserve_points(
    url: str, pool: ProcessPoolExecutor, manager: SyncManager, workers: ModuleType
) -> None:
    family = ["p-a", "p-b", "p-c", "p-d"]
    duplicates = ["p-a2", "p-b2", "p-c2", "p-d2"]
    everyone = family + duplicates
    with workers.open_engine(url, T0) as engine:
        engine.ingest(
            [PatientRegistered(fact_id=f"reg-{p}", patient_id=p, occurred_at=T0) for p in everyone],
            now=T0,
        )
        engine.execute(households.FormHousehold(key="hh", household_id="hh", head_id="p-a"))
        for person in family[1:]:
            engine.execute(
                households.AddDependent(
                    key=f"hh-{person}", household_id="hh", member_id=person, relationship="other"
                )
            )
        for person in everyone:
            engine.adjust_points(person, 1_000, key=f"seed-{person}", operator="s", reason="r")
        total = sum(engine.points(p).available for p in everyone)

    start = manager.Barrier(PROCESSES)
    jobs = []
    for n in range(PROCESSES):
        moves = [(family[(n + k) % 4], family[(n + k + 1) % 4], 37 + k) for k in range(6)]
        merges = [(family[n], duplicates[n])]
        jobs.append(
            {
                "url": url,
                "worker": f"w{n}",
                "moves": moves,
                "merges": merges,
                "at": VESTED,
                "retries": 64,
                "start": start,
            }
        )
    outcomes = Counter(o for found in _together(pool, workers.move_points, jobs) for o in found)

    assert set(outcomes) <= {"done", "InsufficientPointsError"}, outcomes
    with workers.open_engine(url, VESTED) as engine:
        balances = {p: engine.points(p) for p in everyone}
        merged = {p: engine.member(p).identity.merged_into for p in duplicates}
    assert sum(b.available for b in balances.values()) == total
    assert all(b.available >= 0 for b in balances.values())
    assert merged == dict(zip(duplicates, family, strict=True))
    assert all(balances[p].available == 0 for p in duplicates)
