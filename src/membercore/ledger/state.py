"""A member's ledger state, and :func:`evolve`, which applies one posting to it.

State is immutable and is rebuilt by replaying the member's postings in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import attrs

from membercore.errors import IdempotencyConflictError, MemberMismatchError
from membercore.idempotency import fingerprint, matches
from membercore.ledger.events import LotState, Posting, PostingKind
from membercore.ledger.qualifying import carry

__all__ = [
    "KeyRecord",
    "LedgerState",
    "LotState",
    "Totals",
    "already_done",
    "check_member",
    "evolve",
    "fingerprint",
    "replay",
]

_ACTIVITY = frozenset({PostingKind.EARN, PostingKind.REDEEM})
# The fingerprint of a key taken over from a merged record: its facts may come again under
# the survivor's id, so any content under that key is a replay.
_TAKEN_OVER = ""
_EARNING_RULES = "earning."


@attrs.frozen(kw_only=True)
class KeyRecord:
    """What an idempotency key produced.

    Attributes:
        fingerprint: digest of the fact or command that used the key first.
        posting_ids: the postings it produced.
    """

    fingerprint: str
    posting_ids: tuple[str, ...]


@attrs.frozen(kw_only=True)
class Totals:
    """Running totals of a member's postings, by kind."""

    earned: int = 0
    redeemed: int = 0
    expired: int = 0
    reversed: int = 0
    written_off: int = 0
    adjusted: int = 0
    transferred_in: int = 0
    transferred_out: int = 0
    merged: int = 0


@attrs.frozen(kw_only=True)
class LedgerState:
    """One member's ledger. Immutable: :func:`evolve` returns a new state.

    Attributes:
        member_id: the member.
        seq: the number of postings applied; the next posting is ``<member>/<seq + 1>``.
        lots: every lot by id, in the order opened.
        debt: points owed after a clawback under the ``debt`` policy.
        keys: idempotency keys seen, with what they produced.
        kinds: the kind of every posting by id.
        references: earning lots by ``<rule_id>:<reference>`` ("once per visit" and
            refunds find their earning here).
        last_activity_at: the member's last earning, redemption or transfer out (after a
            merge, the later of the two records').
        expiry_bound: no lot with points left has a fixed expiry before this instant
            (``None``: none has one). A cache that spares every decision a scan of all
            lots; it is rebuilt after each expiry and lowered by each new lot.
        totals: running totals by kind.
    """

    member_id: str
    seq: int = 0
    lots: Mapping[str, LotState] = attrs.field(factory=dict)
    debt: int = 0
    keys: Mapping[str, KeyRecord] = attrs.field(factory=dict)
    kinds: Mapping[str, PostingKind] = attrs.field(factory=dict)
    references: Mapping[str, str] = attrs.field(factory=dict)
    last_activity_at: datetime | None = None
    expiry_bound: datetime | None = None
    totals: Totals = attrs.field(factory=Totals)

    @property
    def balance(self) -> int:
        """The sum of all postings: points in lots less debt."""
        return sum(lot.remaining for lot in self.lots.values()) - self.debt

    def next_posting_id(self) -> str:
        """The id the next posting will have."""
        return f"{self.member_id}/{self.seq + 1}"


def already_done(state: LedgerState, key: str, message: object) -> bool:
    """Whether ``key`` was already used; raise if it was used by something else.

    :func:`membercore.idempotency.replayed` for the ledger, whose keys also remember
    the postings they produced and the keys taken over from a merged record.

    Raises:
        IdempotencyConflictError: the key was used by a different fact or command.
    """
    record = state.keys.get(key)
    if record is None:
        return False
    if record.fingerprint != _TAKEN_OVER and not matches(record.fingerprint, message):
        raise IdempotencyConflictError(state.member_id, key)
    return True


def check_member(state: LedgerState, member_id: str) -> None:
    """Refuse a message for another member.

    Raises:
        MemberMismatchError: ``member_id`` is not the ledger's owner.
    """
    if member_id != state.member_id:
        raise MemberMismatchError(state.member_id, member_id)


def evolve(state: LedgerState, posting: Posting) -> LedgerState:
    """Apply one posting to a member's ledger.

    Raises:
        MemberMismatchError: the posting belongs to another member.
    """
    check_member(state, posting.member_id)
    lots = dict(state.lots)
    for lot in posting.lots:
        lots[lot.lot_id] = LotState(lot=lot, remaining=lot.points)
    for carried in posting.carried:
        lots[carried.lot.lot_id] = carried
    expiring = posting.kind is PostingKind.EXPIRE
    for draw in posting.draws:
        held = lots[draw.lot_id]
        lots[draw.lot_id] = LotState(
            lot=held.lot,
            remaining=held.remaining - draw.points,
            expired=held.expired + draw.points if expiring else held.expired,
            reversed=held.reversed,
            offset_by_expiry=held.offset_by_expiry,
            refunded_fen=held.refunded_fen,
        )
    if posting.kind is PostingKind.REVERSE and posting.reverses is not None:
        lots[posting.reverses] = _record_reversal(lots[posting.reverses], posting)
    if posting.merged_into is not None:
        lots = {}  # they live on in the survivor's ledger
    record = state.keys.get(posting.idempotency_key)
    ids = (record.posting_ids if record else ()) + (posting.posting_id,)
    keys = dict(state.keys)
    for taken_over in posting.carried_keys:
        keys.setdefault(taken_over, KeyRecord(fingerprint=_TAKEN_OVER, posting_ids=()))
    keys[posting.idempotency_key] = KeyRecord(fingerprint=posting.fingerprint, posting_ids=ids)
    kinds = dict(state.kinds)
    kinds[posting.posting_id] = posting.kind
    for carried_lot in posting.carried:
        # A merged record's earnings stay reversible on the survivor.
        if carried_lot.lot.rule_id.startswith(_EARNING_RULES):
            kinds[carried_lot.lot.lot_id] = PostingKind.EARN
    if posting.forgets:
        lots, keys, kinds = _forget(posting.forgets, lots, keys, kinds)
    after = LedgerState(
        member_id=state.member_id,
        seq=state.seq + 1,
        lots=lots,
        debt=state.debt + posting.debt_change,
        keys=keys,
        kinds=kinds,
        references=_references(state, posting),
        last_activity_at=_activity(state, posting),
        expiry_bound=_expiry_bound(state.expiry_bound, lots, posting),
        totals=_count(state.totals, posting),
    )
    carry(state, after, posting)
    return after


def _references(state: LedgerState, posting: Posting) -> Mapping[str, str]:
    references = {} if posting.merged_into is not None else state.references
    opened = [*posting.lots, *(carried.lot for carried in posting.carried)]
    if not (any(lot.reference is not None for lot in opened) or posting.carried_references):
        return references
    references = dict(references)
    for lot in opened:
        if lot.reference is not None:
            references[f"{lot.rule_id}:{lot.reference}"] = lot.lot_id
    for reference in posting.carried_references:
        references.setdefault(reference, "")  # its lot was let go: earned, not reversed
    return references


def _forget(
    lot_ids: tuple[str, ...],
    lots: dict[str, LotState],
    keys: dict[str, KeyRecord],
    kinds: dict[str, PostingKind],
) -> tuple[dict[str, LotState], dict[str, KeyRecord], dict[str, PostingKind]]:
    """What is left once ``lot_ids`` are let go.

    Their expiries' keys go; the key of what earned them stays, without the postings
    let go, so that a command sent again is still a replay.
    """
    gone = set(lot_ids)
    for lot_id in lot_ids:
        expiry = keys.pop(f"expire:{lot_id}", None)
        if expiry is not None:
            gone.update(expiry.posting_ids)
    for key, record in keys.items():
        if not gone.isdisjoint(record.posting_ids):
            left = tuple(posting for posting in record.posting_ids if posting not in gone)
            keys[key] = KeyRecord(fingerprint=record.fingerprint, posting_ids=left)
    return (
        {lot_id: held for lot_id, held in lots.items() if lot_id not in gone},
        keys,
        {posting_id: kind for posting_id, kind in kinds.items() if posting_id not in gone},
    )


def replay(member_id: str, postings: Iterable[Posting]) -> LedgerState:
    """Rebuild a member's ledger from their postings, in order."""
    state = LedgerState(member_id=member_id)
    for posting in postings:
        state = evolve(state, posting)
    return state


def _record_reversal(held: LotState, posting: Posting) -> LotState:
    reversed_points = -posting.points + posting.written_off + posting.offset_by_expiry
    return attrs.evolve(
        held,
        reversed=held.reversed + reversed_points,
        offset_by_expiry=held.offset_by_expiry + posting.offset_by_expiry,
        refunded_fen=held.refunded_fen + posting.refunded_fen,
    )


def _expiry_bound(
    bound: datetime | None, lots: Mapping[str, LotState], posting: Posting
) -> datetime | None:
    if posting.kind is PostingKind.EXPIRE:
        fixed = [
            held.lot.expires_at
            for held in lots.values()
            if held.remaining > 0 and held.lot.expires_at is not None
        ]
        return min(fixed, default=None)
    for lot in [*posting.lots, *(held.lot for held in posting.carried if held.remaining)]:
        if lot.expires_at is not None and (bound is None or lot.expires_at < bound):
            bound = lot.expires_at
    return bound


def _activity(state: LedgerState, posting: Posting) -> datetime | None:
    member_acted = posting.kind in _ACTIVITY or (
        posting.kind is PostingKind.TRANSFER and posting.points < 0
    )
    acted = [state.last_activity_at, posting.carried_activity_at]
    if member_acted:
        acted.append(posting.at)
    return max((at for at in acted if at is not None), default=None)


def _count(totals: Totals, posting: Posting) -> Totals:
    points, kind = posting.points, posting.kind
    if kind is PostingKind.TRANSFER:
        field = "transferred_in" if points >= 0 else "transferred_out"
    else:
        field = _TOTAL_OF[kind]
    # Debits are counted as positive amounts; earnings, adjustments and merges keep their sign.
    signed = kind in _SIGNED or points >= 0
    changes = {field: getattr(totals, field) + (points if signed else -points)}
    if posting.written_off:
        changes["written_off"] = totals.written_off + posting.written_off
    return attrs.evolve(totals, **changes)


_SIGNED = frozenset({PostingKind.EARN, PostingKind.ADJUST, PostingKind.MERGE})
_TOTAL_OF = {
    PostingKind.MERGE: "merged",
    PostingKind.EARN: "earned",
    PostingKind.REDEEM: "redeemed",
    PostingKind.EXPIRE: "expired",
    PostingKind.REVERSE: "reversed",
    PostingKind.ADJUST: "adjusted",
}
