"""The ledger driven by random earns, redemptions, refunds, reversals, transfers,
adjustments, expiries and clock moves, against a plain mutable reference model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from membercore import (
    AdjustPoints,
    AwardBonus,
    ChargeLine,
    ChargePaid,
    CheckedIn,
    ExpireDue,
    InsufficientPointsError,
    MergeMembers,
    Posting,
    PostingKind,
    Redeem,
    RefundIssued,
    ReversePosting,
    TransferPoints,
    reference_config,
)
from membercore.config import ExpiryPolicy, LedgerConfig, ProgrammeConfig
from membercore.dates import add_months, end_of_month_after, local_date
from membercore.ledger import replay
from membercore.testing import Book

SHANGHAI = ZoneInfo("Asia/Shanghai")
MEMBERS = ("head", "spouse", "child")
HOUSEHOLD = frozenset(MEMBERS)
START = datetime(2026, 1, 30, 20, 0, tzinfo=SHANGHAI).astimezone(UTC)


# --- the reference model: plain mutable objects, the rules written out directly ----------


@dataclass
class MLot:
    lot_id: str
    points: int
    remaining: int
    earned_at: datetime
    vests_at: datetime
    fixed_expiry: datetime | None
    qualifying: bool
    basis_fen: int = 0
    expired: int = 0
    reversed: int = 0
    offset: int = 0
    refunded_fen: int = 0


@dataclass
class MAccount:
    lots: list[MLot] = field(default_factory=list)
    debt: int = 0
    last_activity: datetime | None = None
    check_in_days: set[Any] = field(default_factory=set)


class Model:
    def __init__(self, config: ProgrammeConfig) -> None:
        self.config = config
        self.accounts = {member: MAccount() for member in MEMBERS}

    def expiry(self, account: MAccount, lot: MLot) -> datetime | None:
        policy = self.config.ledger.expiry
        if policy.mode == "month_end":
            return lot.fixed_expiry
        if policy.mode == "never":
            return None
        if lot.fixed_expiry is not None:
            return lot.fixed_expiry
        since = lot.earned_at
        if account.last_activity is not None:
            since = max(since, account.last_activity)
        return add_months(since, policy.months, SHANGHAI)

    def is_expired(self, account: MAccount, lot: MLot, now: datetime) -> bool:
        expiry = self.expiry(account, lot)
        return expiry is not None and expiry <= now

    def expire_due(self, member: str, now: datetime) -> None:
        account = self.accounts[member]
        for lot in account.lots:
            if lot.remaining and self.is_expired(account, lot, now):
                lot.expired += lot.remaining
                lot.remaining = 0

    def ordered(self, member: str, now: datetime, *, vested: bool) -> list[MLot]:
        account = self.accounts[member]
        live = [
            lot
            for lot in account.lots
            if lot.remaining
            and not self.is_expired(account, lot, now)
            and (lot.vests_at <= now) is vested
        ]

        def key(lot: MLot) -> tuple[bool, datetime, datetime, str, list[int]]:
            # Ties in expiry: oldest earned first, then the ledger's numbering of the lots.
            expiry = self.expiry(account, lot)
            owner, _, number = lot.lot_id.rpartition("/")
            numbered = [int(part) for part in number.split(".")]
            return (expiry is None, expiry or lot.earned_at, lot.earned_at, owner, numbered)

        return sorted(live, key=key)

    def available(self, member: str, now: datetime) -> int:
        lots = self.ordered(member, now, vested=True)
        return sum(lot.remaining for lot in lots) - self.accounts[member].debt

    def pending(self, member: str, now: datetime) -> int:
        return sum(lot.remaining for lot in self.ordered(member, now, vested=False))

    def total(self, member: str) -> int:
        account = self.accounts[member]
        return sum(lot.remaining for lot in account.lots) - account.debt

    def qualifying(self, member: str, now: datetime) -> int:
        since = add_months(now, -12, SHANGHAI)
        return sum(
            lot.points - lot.reversed
            for lot in self.accounts[member].lots
            if lot.qualifying and since <= lot.earned_at <= now
        )

    @staticmethod
    def draw(lots: list[MLot], points: int) -> tuple[list[tuple[str, int]], int]:
        draws = []
        for lot in lots:
            if points == 0:
                break
            take = min(points, lot.remaining)
            if take:
                lot.remaining -= take
                points -= take
                draws.append((lot.lot_id, take))
        return draws, points

    def credit(self, member: str, lots: list[MLot]) -> None:
        account = self.accounts[member]
        account.lots.extend(lots)
        _, left = self.draw(lots, account.debt)
        account.debt = left

    def activity(self, member: str, at: datetime) -> None:
        account = self.accounts[member]
        if account.last_activity is None or at > account.last_activity:
            account.last_activity = at

    def new_lot(
        self, lot_id: str, points: int, now: datetime, *, vest_days: int, qualifying: bool
    ) -> MLot:
        fixed = None
        if self.config.ledger.expiry.mode == "month_end":
            fixed = end_of_month_after(now, self.config.ledger.expiry.months, SHANGHAI)
        return MLot(
            lot_id=lot_id,
            points=points,
            remaining=points,
            earned_at=now,
            vests_at=now + timedelta(days=vest_days),
            fixed_expiry=fixed,
            qualifying=qualifying,
        )

    def reverse(self, member: str, lot: MLot, points: int, now: datetime) -> list[tuple[str, int]]:
        own, left = self.draw([lot], points)
        offset = min(left, lot.expired - lot.offset)
        lot.offset += offset
        left -= offset
        others = [
            other
            for vested in (True, False)
            for other in self.ordered(member, now, vested=vested)
            if other is not lot
        ]
        drawn, left = self.draw(others, left)
        if self.config.ledger.clawback == "debt":
            self.accounts[member].debt += left
        lot.reversed += points
        return own + drawn

    def lot(self, member: str, lot_id: str) -> MLot:
        return next(lot for lot in self.accounts[member].lots if lot.lot_id == lot_id)


# --- the machine --------------------------------------------------------------------------

members = st.sampled_from(MEMBERS)
configs = st.builds(
    LedgerConfig,
    clawback=st.sampled_from(["debt", "cap"]),
    expiry=st.builds(
        ExpiryPolicy,
        mode=st.sampled_from(["month_end", "inactivity", "never"]),
        months=st.integers(min_value=1, max_value=3),
    ),
)


def _draws(posting: Posting) -> list[tuple[str, int]]:
    return [(draw.lot_id, draw.points) for draw in posting.draws]


class LedgerMachine(RuleBasedStateMachine):
    """Every step checks the ledger against the model; invariants run after each step."""

    def __init__(self) -> None:
        super().__init__()
        self.counter = 0
        self.now = START
        self.applied: list[Callable[[], list[Posting]]] = []
        self.charges: list[tuple[str, str, int]] = []

    @initialize(ledger=configs)
    def open_books(self, ledger: LedgerConfig) -> None:
        self.config = attrs.evolve(reference_config(), ledger=ledger)
        self.book = Book(self.config)
        self.model = Model(self.config)

    # helpers ---------------------------------------------------------------------------

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def run(self, message: Any, member: str) -> list[Posting]:
        """Apply a message; lots past their expiry are expired first, in both."""
        self.model.expire_due(member, self.now)
        postings = self.book.apply(message, self.now)
        posted = [p for p in postings if p.kind is not PostingKind.EXPIRE]
        if posted:  # only what was applied has a result to replay
            self.applied.append(lambda: self.book.apply(message, self.now))
        return posted

    def refused(self, message: Any, member: str) -> None:
        # A refusal posts nothing, not even the expiries decided before it.
        with pytest.raises(InsufficientPointsError) as refusal:
            self.book.apply(message, self.now)
        assert refusal.value.member_id == member
        assert refusal.value.available == self.model.available(member, self.now)

    # rules -----------------------------------------------------------------------------

    @rule(days=st.integers(0, 40), hours=st.integers(0, 23))
    def the_clock_moves(self, days: int, hours: int) -> None:
        self.now += timedelta(days=days, hours=hours)

    @rule(member=members, yuan=st.integers(1, 3000))
    def a_charge_is_paid(self, member: str, yuan: int) -> None:
        charge_id = self.fresh("charge")
        line = ChargeLine(department="internal", category="consult", amount_fen=yuan * 100)
        fact = ChargePaid(
            fact_id=self.fresh("fact"),
            patient_id=member,
            occurred_at=self.now,
            charge_id=charge_id,
            lines=(line,),
        )
        (posting,) = self.run(fact, member)
        assert posting.kind is PostingKind.EARN
        assert posting.points == yuan  # reference rate: one point per yuan
        lot = self.model.new_lot(posting.posting_id, yuan, self.now, vest_days=7, qualifying=True)
        lot.basis_fen = yuan * 100
        self.model.activity(member, self.now)
        self.model.credit(member, [lot])
        repaid = yuan - lot.remaining  # an outstanding debt is repaid from new points first
        assert _draws(posting) == ([(lot.lot_id, repaid)] if repaid else [])
        self.charges.append((member, charge_id, yuan * 100))

    @rule(member=members)
    def the_member_checks_in(self, member: str) -> None:
        fact = CheckedIn(fact_id=self.fresh("fact"), patient_id=member, occurred_at=self.now)
        postings = self.run(fact, member)
        day = local_date(self.now, SHANGHAI)
        account = self.model.accounts[member]
        if day in account.check_in_days:
            assert postings == []
            return
        account.check_in_days.add(day)
        (posting,) = postings
        lot = self.model.new_lot(posting.posting_id, 1, self.now, vest_days=0, qualifying=True)
        self.model.activity(member, self.now)
        self.model.credit(member, [lot])

    @rule(member=members, points=st.integers(1, 1500))
    def a_campaign_bonus_is_awarded(self, member: str, points: int) -> None:
        command = AwardBonus(
            key=self.fresh("bonus"), member_id=member, rule_id="campaign", points=points
        )
        (posting,) = self.run(command, member)
        awarded = min(points, 1000)  # the reference campaign's max_points
        assert posting.points == awarded
        lot = self.model.new_lot(
            posting.posting_id, awarded, self.now, vest_days=0, qualifying=False
        )
        self.model.activity(member, self.now)
        self.model.credit(member, [lot])

    @rule(member=members, points=st.integers(1, 4000))
    def the_member_redeems(self, member: str, points: int) -> None:
        command = Redeem(key=self.fresh("redeem"), member_id=member, points=points)
        if points > self.model.available(member, self.now):
            self.refused(command, member)
            return
        (posting,) = self.run(command, member)
        expected, _ = self.model.draw(self.model.ordered(member, self.now, vested=True), points)
        assert _draws(posting) == expected  # earliest-expiring lots first
        self.model.activity(member, self.now)

    @rule(points=st.integers(1, 3000), operator=st.just("staff-1"), member=members)
    def staff_adjust(self, member: str, points: int, operator: str) -> None:
        for signed in (points, -points):
            command = AdjustPoints(
                key=self.fresh("adjust"),
                member_id=member,
                points=signed,
                operator=operator,
                reason="补录积分",
            )
            if signed < 0 and points > self.model.available(member, self.now):
                self.refused(command, member)
                continue
            (posting,) = self.run(command, member)
            assert posting.operator == operator
            if signed > 0:
                lot = self.model.new_lot(
                    posting.posting_id, points, self.now, vest_days=0, qualifying=False
                )
                self.model.credit(member, [lot])
            else:
                lots = self.model.ordered(member, self.now, vested=True)
                expected, _ = self.model.draw(lots, points)
                assert _draws(posting) == expected

    @precondition(lambda self: bool(self.charges))
    @rule(data=st.data(), share=st.integers(1, 100))
    def a_charge_is_refunded(self, data: st.DataObject, share: int) -> None:
        member, charge_id, amount = data.draw(st.sampled_from(self.charges))
        refund_fen = max(1, amount * share // 100)
        fact = RefundIssued(
            fact_id=self.fresh("fact"),
            patient_id=member,
            occurred_at=self.now,
            charge_id=charge_id,
            amount_fen=refund_fen,
        )
        self.model.expire_due(member, self.now)
        lot = next(
            lot
            for lot in self.model.accounts[member].lots
            if lot.basis_fen and self._charge_of(member, lot.lot_id) == charge_id
        )
        refunded = min(lot.refunded_fen + refund_fen, lot.basis_fen)
        points = max(0, lot.points * refunded // lot.basis_fen - lot.reversed)
        postings = self.run(fact, member)
        if points == 0 and lot.reversed >= lot.points:
            assert postings == []
            return
        (posting,) = postings
        assert posting.kind is PostingKind.REVERSE
        lot.refunded_fen += refund_fen
        expected = self.model.reverse(member, lot, points, self.now)
        assert _draws(posting) == expected

    def _charge_of(self, member: str, lot_id: str) -> str | None:
        held = self.book.state(member).lots.get(lot_id)
        return None if held is None else held.lot.reference

    @precondition(lambda self: any(self.book.postings(m) for m in MEMBERS))
    @rule(data=st.data())
    def staff_reverse_an_earning(self, data: st.DataObject) -> None:
        earnings = [p for p in self.book.journal if p.kind is PostingKind.EARN]
        if not earnings:
            return
        earning = data.draw(st.sampled_from(earnings))
        # after a merge the earning lives on the surviving record
        member = next(
            m
            for m in MEMBERS
            if any(lot.lot_id == earning.posting_id for lot in self.model.accounts[m].lots)
        )
        command = ReversePosting(
            key=self.fresh("reverse"),
            member_id=member,
            posting_id=earning.posting_id,
            operator="staff-2",
            reason="voided",
        )
        self.model.expire_due(member, self.now)
        lot = self.model.lot(member, earning.posting_id)
        points = lot.points - lot.reversed
        postings = self.run(command, member)
        if points == 0:
            assert postings == []  # reversing twice changes nothing
            return
        (posting,) = postings
        assert _draws(posting) == self.model.reverse(member, lot, points, self.now)

    @rule(giver=members, receiver=members, points=st.integers(1, 3000))
    def points_are_pooled_in_the_household(self, giver: str, receiver: str, points: int) -> None:
        if giver == receiver:
            return
        command = TransferPoints(
            key=self.fresh("transfer"), member_id=giver, target_id=receiver, points=points
        )
        if points > self.model.available(giver, self.now):
            with pytest.raises(InsufficientPointsError):
                self.book.transfer(command, self.now, household=HOUSEHOLD)
            return
        self.model.expire_due(giver, self.now)
        self.model.expire_due(receiver, self.now)
        postings = self.book.transfer(command, self.now, household=HOUSEHOLD)
        out, into = (p for p in postings if p.kind is PostingKind.TRANSFER)
        assert out.points == -points
        assert into.points == points  # transfers conserve points
        assert out.idempotency_key == into.idempotency_key == command.key
        lots = self.model.ordered(giver, self.now, vested=True)
        source = {lot.lot_id: lot for lot in lots}
        expected, _ = self.model.draw(lots, points)
        assert _draws(out) == expected
        self.model.activity(giver, self.now)
        carried = []
        for new, (lot_id, taken) in zip(into.lots, expected, strict=True):
            lot = self.model.new_lot(new.lot_id, taken, self.now, vest_days=0, qualifying=False)
            lot.fixed_expiry = source[lot_id].fixed_expiry
            carried.append(lot)
        self.model.credit(receiver, carried)
        self.applied.append(lambda: self.book.transfer(command, self.now, household=HOUSEHOLD))

    @rule(survivor=members, duplicate=members)
    def two_records_of_one_person_are_merged(self, survivor: str, duplicate: str) -> None:
        if survivor == duplicate:
            return
        command = MergeMembers(
            key=self.fresh("merge"),
            member_id=survivor,
            duplicate_id=duplicate,
            operator="staff-3",
            reason="同一身份证号",
        )
        self.model.expire_due(survivor, self.now)
        self.model.expire_due(duplicate, self.now)
        before = self.model.total(survivor) + self.model.total(duplicate)
        postings = self.book.merge(command, self.now)
        out, into = (p for p in postings if p.kind is PostingKind.MERGE)
        assert out.member_id == duplicate
        assert into.member_id == survivor
        assert out.points + into.points == 0  # a merge conserves points
        kept, gone = self.model.accounts[survivor], self.model.accounts[duplicate]
        kept.lots.extend(gone.lots)
        gone.lots = []
        kept.check_in_days |= gone.check_in_days
        gone.check_in_days = set()  # the merged record's history lives on in the survivor
        if gone.last_activity is not None:
            self.model.activity(survivor, gone.last_activity)  # the later of the two counts
        debt, kept.debt, gone.debt = kept.debt + gone.debt, 0, 0
        lots = [
            lot
            for vested in (True, False)
            for lot in self.model.ordered(survivor, self.now, vested=vested)
        ]
        _, kept.debt = self.model.draw(lots, debt)
        assert self.model.total(survivor) + self.model.total(duplicate) == before
        self.charges = [
            (survivor if member == duplicate else member, charge, fen)
            for member, charge, fen in self.charges
        ]
        self.applied.append(lambda: self.book.merge(command, self.now))

    @rule(member=members)
    def the_expiry_job_runs(self, member: str) -> None:
        before = self.model.total(member)
        postings = self.book.apply(ExpireDue(member_id=member), self.now)
        self.model.expire_due(member, self.now)
        assert sum(p.points for p in postings) == self.model.total(member) - before
        assert all(p.at <= self.now for p in postings)

    @precondition(lambda self: bool(self.applied))
    @rule(data=st.data())
    def a_message_is_delivered_again(self, data: st.DataObject) -> None:
        again = data.draw(st.sampled_from(self.applied))
        states = dict(self.book.states)
        replayed = again()
        assert replayed == [], replayed
        assert self.book.states == states

    # invariants ------------------------------------------------------------------------

    @invariant()
    def balances_match_the_postings_and_the_model(self) -> None:
        if not hasattr(self, "book"):
            return
        for member in MEMBERS:
            state = self.book.state(member)
            postings = self.book.postings(member)
            balances = self.book.balances(member, self.now)
            assert state.balance == sum(p.points for p in postings) == balances.balance
            assert balances.balance == self.model.total(member), (
                member,
                self.book.statement(member),
                self.model.accounts[member],
            )
            assert balances.available == self.model.available(member, self.now)
            assert balances.pending == self.model.pending(member, self.now)
            assert balances.debt == self.model.accounts[member].debt
            assert balances.qualifying == self.model.qualifying(member, self.now)
            assert balances.balance == (
                balances.lifetime_earned
                - balances.redeemed
                - balances.expired
                - balances.reversed
                + balances.adjusted
                + balances.transferred_in
                - balances.transferred_out
                + balances.merged
            )
            if self.config.ledger.clawback == "cap":
                assert balances.available >= 0
                assert balances.debt == 0
            for lot in self.model.accounts[member].lots:
                assert state.lots[lot.lot_id].remaining == lot.remaining

    @invariant()
    def replaying_the_journal_rebuilds_the_same_state(self) -> None:
        if not hasattr(self, "book"):
            return
        for member in MEMBERS:
            assert replay(member, self.book.postings(member)) == self.book.state(member)


LedgerMachine.TestCase.settings = settings(stateful_step_count=40)
test_the_ledger_agrees_with_the_reference_model = LedgerMachine.TestCase
