"""Throughput of the pure points ledger: decide + evolve, and replay.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/ledger.py [--members N] [--facts N]``).
Prints the figures recorded in docs/performance.md. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import random
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from membercore import (
    ChargeLine,
    ChargePaid,
    CheckedIn,
    ContentLiked,
    EventAttended,
    ExpireDue,
    LedgerError,
    Redeem,
    RefundIssued,
    SurveyAnswered,
    reference_config,
)
from membercore.ledger import LedgerState, decide, evolve, replay
from membercore.ledger.events import Posting

START = datetime(2026, 1, 1, 1, 0, tzinfo=UTC)


def stream(members: int, per_member: int, seed: int) -> Iterator[tuple[Any, datetime]]:
    """A deterministic mix of facts and commands, in time order, over about 18 months."""
    rng = random.Random(seed)
    total = members * per_member
    step = timedelta(days=540) / total
    charges: dict[str, list[tuple[str, int]]] = {}
    for n in range(total):
        now = START + step * n
        member = f"p-{rng.randrange(members)}"
        roll = rng.random()
        fact_id = f"f-{n}"
        message: Any
        if roll < 0.30:
            amount = rng.randrange(2_000, 800_000)
            line = ChargeLine(
                department=rng.choice(["internal", "dental", "obstetrics", "ortho"]),
                category=rng.choice(["consult", "exam", "drug", "treatment"]),
                amount_fen=amount,
                insurance_fen=rng.choice([0, 0, amount // 3]),
            )
            message = ChargePaid(
                fact_id=fact_id, patient_id=member, occurred_at=now, charge_id=fact_id, lines=[line]
            )
            charges.setdefault(member, []).append((fact_id, amount))
        elif roll < 0.55:
            message = CheckedIn(fact_id=fact_id, patient_id=member, occurred_at=now)
        elif roll < 0.65:
            message = ContentLiked(
                fact_id=fact_id, patient_id=member, occurred_at=now, content_id=f"c-{n % 97}"
            )
        elif roll < 0.72:
            message = EventAttended(
                fact_id=fact_id, patient_id=member, occurred_at=now, event_id=f"e-{n // 500}"
            )
        elif roll < 0.80:
            message = SurveyAnswered(
                fact_id=fact_id, patient_id=member, occurred_at=now, visit_id=fact_id, score=9
            )
        elif roll < 0.92:
            message = Redeem(key=f"r-{n}", member_id=member, points=rng.randrange(10, 2_000))
        elif roll < 0.96 and charges.get(member):
            charge_id, amount = rng.choice(charges[member])
            message = RefundIssued(
                fact_id=fact_id,
                patient_id=member,
                occurred_at=now,
                charge_id=charge_id,
                amount_fen=rng.randrange(1, amount + 1),
            )
        else:
            message = ExpireDue(member_id=member)
        yield message, now


def run(members: int, per_member: int, seed: int) -> dict[str, LedgerState]:
    config = reference_config()
    messages = list(stream(members, per_member, seed))
    states: dict[str, LedgerState] = {}
    journal: dict[str, list[Posting]] = {}
    postings = refused = 0
    started = time.perf_counter()
    for message, now in messages:
        member = getattr(message, "patient_id", None) or message.member_id
        state = states.get(member) or LedgerState(member_id=member)
        try:
            decided = decide(message, state, config, now, tier="L2")
        except LedgerError:
            refused += 1
            continue
        for posting in decided:
            state = evolve(state, posting)
            journal.setdefault(member, []).append(posting)
        postings += len(decided)
        states[member] = state
    elapsed = time.perf_counter() - started
    print(
        f"decide+evolve: {len(messages):,} messages ({refused:,} refused) -> {postings:,} "
        f"postings for {members:,} members in {elapsed:.2f} s = "
        f"{len(messages) / elapsed:,.0f} messages/s ({elapsed / len(messages) * 1e6:.0f} µs each)"
    )
    started = time.perf_counter()
    for member, member_postings in journal.items():
        assert replay(member, member_postings) == states[member]
    elapsed = time.perf_counter() - started
    print(
        f"replay: {postings:,} postings in {elapsed:.2f} s = {postings / elapsed:,.0f} postings/s"
    )
    tracemalloc.start()
    rebuilt = {
        member: replay(member, member_postings) for member, member_postings in journal.items()
    }
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"state held in memory: {size / 2**20:.1f} MiB for {len(rebuilt):,} members "
        f"({size / max(postings, 1):.0f} bytes per posting applied)"
    )
    return states


def one_busy_member(postings: int) -> None:
    """The cost of one more earning for a member who already has ``postings`` lots."""
    config = reference_config()
    state = LedgerState(member_id="busy")
    for n in range(postings):
        now = START + timedelta(hours=n)
        fact = SurveyAnswered(
            fact_id=f"f-{n}", patient_id="busy", occurred_at=now, visit_id=f"v-{n}", score=9
        )
        for posting in decide(fact, state, config, now):
            state = evolve(state, posting)
    now = START + timedelta(hours=postings)
    rounds = 200
    started = time.perf_counter()
    for n in range(rounds):
        fact = CheckedIn(fact_id=f"x-{n}", patient_id="busy", occurred_at=now)
        for posting in decide(fact, state, config, now):
            evolve(state, posting)
    elapsed = (time.perf_counter() - started) / rounds
    print(f"one earning for a member with {postings:>5,} lots: {elapsed * 1e6:,.0f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=2_000)
    parser.add_argument("--facts", type=int, default=50, help="messages per member")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    run(args.members, args.facts, args.seed)
    for size in (10, 100, 1_000, 5_000):
        one_busy_member(size)


if __name__ == "__main__":
    main()
