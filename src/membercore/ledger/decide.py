"""The ledger's decider: a fact or command and the member's state in, postings out.

``decide`` never changes the state it is given; apply the postings it returns with
:func:`~membercore.ledger.state.evolve`. A fact or command whose key was already used
returns no postings (its earlier postings are its result); a reused key on something
different is refused.

Before anything else, every lot whose expiry instant has come is expired, so expired
points are never spent and a new activity never revives them (under the inactivity
policy an earning would otherwise push back the expiry of lots already past it).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import attrs

from membercore.config import ProgrammeConfig
from membercore.dates import add_months, require_aware
from membercore.errors import (
    EarningTooOldError,
    InsufficientPointsError,
    NotReversibleError,
    TransferNotAllowedError,
    UnknownPostingError,
    UnknownRuleError,
)
from membercore.facts import Fact
from membercore.identity import MergeMembers
from membercore.ledger.commands import (
    AdjustPoints,
    AwardBonus,
    ExpireDue,
    LedgerCommand,
    Redeem,
    ReversePosting,
    TransferPoints,
)
from membercore.ledger.earning import cap_room, earn
from membercore.ledger.events import Draw, Posting, PostingKind, Provenance
from membercore.ledger.forget import with_forgetting
from membercore.ledger.lots import (
    LotSpec,
    Origin,
    available_points,
    credit,
    debit,
    expiry_of,
    lot_spec,
    plan_draws,
    spending_order,
)
from membercore.ledger.reversal import reverse_earning, reversible_since
from membercore.ledger.state import LedgerState, already_done, check_member, evolve, fingerprint

__all__ = ["decide", "decide_transfer", "expire_due"]


def decide(
    message: Fact | LedgerCommand,
    state: LedgerState,
    config: ProgrammeConfig,
    now: datetime,
    *,
    tier: str | None = None,
) -> list[Posting]:
    """The postings a fact or ledger command makes.

    Args:
        message: a fact (earning, refund) or a ledger command other than a transfer
            (transfers touch two ledgers: see :func:`decide_transfer`).
        state: the member's ledger.
        config: the programme.
        now: the instant of the decision (timezone-aware).
        tier: the member's tier key, for the spending multiplier.

    Returns:
        The new postings, in order; empty when nothing is to be posted.

    Raises:
        LedgerError: the command is refused (each subclass names member and amount).
        NaiveInstantError: ``now`` is naive.
    """
    now = require_aware("now", now)
    if isinstance(message, ExpireDue):
        check_member(state, message.member_id)
        return expire_due(state, config, now)
    if isinstance(message, TransferPoints | MergeMembers):
        raise TypeError(
            "transfers and merges touch two ledgers: use decide_transfer or decide_merge"
        )
    member_id = message.patient_id if isinstance(message, Fact) else message.member_id
    check_member(state, member_id)
    key = message.fact_id if isinstance(message, Fact) else message.key
    digest = fingerprint(message)
    if already_done(state, key, message):
        return []
    expired = expire_due(state, config, now)
    state = _applied(state, expired)
    if isinstance(message, Fact):
        made = earn(message, state, config, now, digest, tier=tier)
    else:
        made = _command(message, state, config, now, _origin(message, digest, config, now))
    return expired + with_forgetting(made, state, config, now)


def _command(
    command: Redeem | AdjustPoints | AwardBonus | ReversePosting,
    state: LedgerState,
    config: ProgrammeConfig,
    now: datetime,
    origin: Origin,
) -> list[Posting]:
    if isinstance(command, Redeem):
        return [_redeem(command, state, config, now, origin)]
    if isinstance(command, AdjustPoints):
        return [_adjust(command, state, config, now, origin)]
    if isinstance(command, AwardBonus):
        return _bonus(command, state, config, now, origin)
    return _reverse(command, state, config, now, origin)


def decide_transfer(
    command: TransferPoints,
    source: LedgerState,
    target: LedgerState,
    config: ProgrammeConfig,
    now: datetime,
    *,
    household: Collection[str],
) -> list[Posting]:
    """The two postings of a transfer: out of ``source``, into ``target``.

    The points move with their expiry instants (a transfer never extends their life);
    they arrive available and non-qualifying.

    Args:
        command: the transfer.
        source: the giving member's ledger.
        target: the receiving member's ledger.
        config: the programme.
        now: the instant of the decision.
        household: the members of the giver's household.

    Raises:
        TransferNotAllowedError: not within one household, or to oneself.
        InsufficientPointsError: the giver has fewer points available.
    """
    now = require_aware("now", now)
    check_member(source, command.member_id)
    check_member(target, command.target_id)
    refusal = None
    if command.target_id == command.member_id:
        refusal = "a member cannot transfer to themselves"
    elif command.member_id not in household or command.target_id not in household:
        refusal = "both members must belong to one household"
    if refusal is not None:
        raise TransferNotAllowedError(command.member_id, command.target_id, command.points, refusal)
    digest = fingerprint(command)
    if already_done(source, command.key, command):
        return []
    expired = expire_due(source, config, now) + expire_due(target, config, now)
    source = _applied(source, expired)
    target = _applied(target, expired)
    origin = _origin(command, digest, config, now)
    draws = _draw_available(source, config, now, command.points)
    out = debit(
        source,
        origin,
        kind=PostingKind.TRANSFER,
        draws=draws,
        at=now,
        counterparty=command.target_id,
        reason=command.reason,
    )
    specs = [_carried(source, config, now, draw) for draw in draws]
    into = credit(
        target,
        origin,
        kind=PostingKind.TRANSFER,
        specs=specs,
        at=now,
        counterparty=command.member_id,
        reason=command.reason,
    )
    return [*expired, out, into]


def _applied(state: LedgerState, postings: list[Posting]) -> LedgerState:
    for posting in postings:
        if posting.member_id == state.member_id:
            state = evolve(state, posting)
    return state


def _origin(
    command: Redeem | AdjustPoints | AwardBonus | ReversePosting | TransferPoints,
    digest: str,
    config: ProgrammeConfig,
    now: datetime,
) -> Origin:
    rule = {
        Redeem: "ledger.redeem",
        AdjustPoints: "ledger.adjust",
        AwardBonus: "ledger.bonus",
        ReversePosting: "ledger.reverse",
        TransferPoints: "ledger.transfer",
    }[type(command)]
    provenance = Provenance(
        rule_id=rule,
        rule_version=config.ledger.version,
        trigger_type=command.TYPE,
        trigger_id=command.key,
    )
    return Origin(key=command.key, fingerprint=digest, provenance=provenance, recorded_at=now)


def _draw_available(
    state: LedgerState, config: ProgrammeConfig, now: datetime, points: int
) -> tuple[Draw, ...]:
    available = available_points(state, config, now)
    if points > available:
        raise InsufficientPointsError(state.member_id, points, available)
    draws, _ = plan_draws(spending_order(state, config, now, vested=True), points)
    return draws


def _redeem(
    command: Redeem, state: LedgerState, config: ProgrammeConfig, now: datetime, origin: Origin
) -> Posting:
    draws = _draw_available(state, config, now, command.points)
    return debit(
        state, origin, kind=PostingKind.REDEEM, draws=draws, at=now, reason=command.reference
    )


def _adjust(
    command: AdjustPoints,
    state: LedgerState,
    config: ProgrammeConfig,
    now: datetime,
    origin: Origin,
) -> Posting:
    if command.points < 0:
        draws = _draw_available(state, config, now, -command.points)
        return debit(
            state,
            origin,
            kind=PostingKind.ADJUST,
            draws=draws,
            at=now,
            operator=command.operator,
            reason=command.reason,
        )
    spec = lot_spec(
        config,
        points=command.points,
        earned_at=now,
        vesting_days=0,
        qualifying=command.qualifying,
        rule_id="ledger.adjust",
    )
    return credit(
        state,
        origin,
        kind=PostingKind.ADJUST,
        specs=[spec],
        at=now,
        operator=command.operator,
        reason=command.reason,
    )


def _bonus(
    command: AwardBonus, state: LedgerState, config: ProgrammeConfig, now: datetime, origin: Origin
) -> list[Posting]:
    rule = config.earning.bonuses.get(command.rule_id)
    if rule is None:
        raise UnknownRuleError(command.member_id, command.rule_id, command.points)
    rule_id = f"earning.bonuses.{command.rule_id}"
    reference = command.rule_id if rule.once_per_member else command.key
    if not rule.enabled or f"{rule_id}:{reference}" in state.references:
        return []
    points = command.points if rule.max_points is None else min(command.points, rule.max_points)
    points = min(points, cap_room(state, config, rule_id, rule, now, now=now))
    if points <= 0:
        return []
    spec = lot_spec(
        config,
        points=points,
        earned_at=now,
        vesting_days=rule.vesting_days,
        qualifying=rule.qualifying,
        rule_id=rule_id,
        reference=reference,
    )
    provenance = attrs.evolve(origin.provenance, rule_id=rule_id, rule_version=rule.version)
    origin = attrs.evolve(origin, provenance=provenance)
    return [
        credit(state, origin, kind=PostingKind.EARN, specs=[spec], at=now, reason=command.reason)
    ]


def _reverse(
    command: ReversePosting,
    state: LedgerState,
    config: ProgrammeConfig,
    now: datetime,
    origin: Origin,
) -> list[Posting]:
    kind = state.kinds.get(command.posting_id)
    months = config.ledger.reversible_months
    if kind is None and _let_go(state, command.posting_id):
        raise EarningTooOldError(command.member_id, command.posting_id, months)
    if kind is None or (kind is PostingKind.EARN and command.posting_id not in state.lots):
        # Absent, or its lot left this record with a merge: reverse it on the survivor.
        raise UnknownPostingError(command.member_id, command.posting_id)
    if kind is not PostingKind.EARN:
        raise NotReversibleError(command.member_id, command.posting_id, kind.value)
    held = state.lots[command.posting_id]
    if held.lot.earned_at < reversible_since(config, now):
        raise EarningTooOldError(command.member_id, command.posting_id, months)
    points = held.lot.points - held.reversed
    if points == 0:
        return []
    posting = reverse_earning(
        state,
        config,
        now,
        origin,
        lot_id=command.posting_id,
        points=points,
        operator=command.operator,
        reason=command.reason,
    )
    return [posting]


def _let_go(state: LedgerState, posting_id: str) -> bool:
    """Whether ``posting_id`` is one of this ledger's own that it no longer holds."""
    own, _, seq = posting_id.rpartition("/")
    return own == state.member_id and seq.isdigit() and 0 < int(seq) <= state.seq


def expire_due(state: LedgerState, config: ProgrammeConfig, now: datetime) -> list[Posting]:
    """Expiry postings for every lot whose expiry instant has come by ``now``.

    Each posting takes exactly what is left of its lot, at the lot's expiry instant, under
    the key ``expire:<lot id>``.
    """
    if not _may_expire(state, config, now):
        return []
    postings: list[Posting] = []
    for lot_id in list(state.lots):
        held = state.lots[lot_id]
        if held.remaining == 0:
            continue
        expiry = expiry_of(held, state, config)
        if expiry is None or expiry > now:
            continue
        provenance = Provenance(
            rule_id="ledger.expiry",
            rule_version=config.ledger.version,
            trigger_type="expire_due",
            trigger_id=lot_id,
        )
        origin = Origin(
            key=f"expire:{lot_id}", fingerprint="", provenance=provenance, recorded_at=now
        )
        draw = (Draw(lot_id, held.remaining),)
        posting = debit(state, origin, kind=PostingKind.EXPIRE, draws=draw, at=expiry)
        postings.append(posting)
        state = evolve(state, posting)
    return postings


def _may_expire(state: LedgerState, config: ProgrammeConfig, now: datetime) -> bool:
    """Whether any lot can have reached its expiry; ``False`` spares a scan of every lot."""
    if state.expiry_bound is not None and state.expiry_bound <= now:
        return True
    policy = config.ledger.expiry
    if policy.mode != "inactivity" or not state.lots:
        return False
    last = state.last_activity_at
    # Under inactivity every lot lives at least ``months`` after the last activity.
    return last is None or add_months(last, policy.months, config.tz) <= now


def _carried(source: LedgerState, config: ProgrammeConfig, now: datetime, draw: Draw) -> LotSpec:
    held = source.lots[draw.lot_id]
    return LotSpec(
        points=draw.points,
        earned_at=now,
        vests_at=now,
        expires_at=held.lot.expires_at,
        qualifying=False,
        rule_id="ledger.transfer",
    )
