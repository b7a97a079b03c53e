"""Settling a member's tier at an instant: the held level, the plan's floor, an override."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from membercore.config import ProgrammeConfig
from membercore.idempotency import fingerprint
from membercore.identity import MergeMembers
from membercore.ledger import LedgerState
from membercore.tiers.messages import (
    ChangeReason,
    ClearTierOverride,
    Override,
    Qualification,
    SetTierOverride,
    TierBasisChanged,
    TierChanged,
    TierEvent,
)
from membercore.tiers.rules import earned_level, next_review, qualification
from membercore.tiers.state import TierState

__all__ = ["change", "settle"]


def settle(
    message: object,
    state: TierState,
    ledger: LedgerState,
    config: ProgrammeConfig,
    now: datetime,
    *,
    floor: str | None,
) -> list[TierEvent]:
    """The change of the tier at ``now``: an override, an upgrade or a floor; or none.

    An override ``message`` sets or clears, an upgrade to the level the qualification at
    ``now`` earns, or a tier raised or lowered by the plan's ``floor`` (or a merge).
    """
    rules = config.tiers
    lowest = rules.levels[0].key
    done = qualification(state, ledger, config, now)
    held, review_at = state.held or lowest, state.review_at
    earned = earned_level(config, done)
    override, reason, trigger, digest = _override_by(message, state.override)
    if rules.rank(earned) > rules.rank(held):
        held, review_at, reason = earned, next_review(config, now), reason or "upgrade"
    reason = reason or _moved_by(message, state, config, _has(config, held, floor, override))
    if reason is None:
        return []
    return [
        change(
            state,
            config,
            now,
            held=held,
            review_at=review_at,
            reason=reason,
            done=done,
            floor=floor,
            override=override,
            trigger=trigger,
            digest=digest,
        )
    ]


def _override_by(
    message: object, override: Override | None
) -> tuple[Override | None, ChangeReason | None, str | None, str | None]:
    """The override after ``message``, the reason, the command's key and fingerprint."""
    if isinstance(message, SetTierOverride):
        new = Override(
            tier=message.tier,
            expires_at=message.expires_at,
            operator=message.operator,
            reason=message.reason,
        )
        return new, "override", message.key, fingerprint(message)
    if isinstance(message, ClearTierOverride) and override is not None:
        return None, "override_ended", message.key, fingerprint(message)
    return override, None, None, None


def _moved_by(
    message: object, state: TierState, config: ProgrammeConfig, tier: str
) -> ChangeReason | None:
    """Why the tier is ``tier`` now if not by an override or upgrade: a merge or a floor."""
    rules = config.tiers
    before = state.tier or rules.levels[0].key
    if tier == before:
        return None
    if isinstance(message, MergeMembers):
        return "merge"
    return "floor" if rules.rank(tier) > rules.rank(before) else "floor_ended"


def change(
    state: TierState,
    config: ProgrammeConfig,
    at: datetime,
    *,
    held: str,
    review_at: datetime | None,
    reason: ChangeReason,
    done: Qualification,
    floor: str | None,
    override: Override | None,
    trigger: str | None = None,
    digest: str | None = None,
) -> TierEvent:
    """A :class:`TierChanged` if the tier the member has changes, else :class:`TierBasisChanged`."""
    before = state.tier or config.tiers.levels[0].key
    after = _has(config, held, floor, override)
    common: dict[str, Any] = {
        "member_id": state.member_id,
        "at": at,
        "held": held,
        "review_at": review_at,
        "reason": reason,
        "rule_version": config.tiers.version,
        "qualification": done,
        "override": override if reason == "override" else None,
        "trigger": trigger,
        "fingerprint": digest,
    }
    if after == before:
        return TierBasisChanged(tier=after, **common)
    return TierChanged(from_tier=before, to_tier=after, **common)


def _has(config: ProgrammeConfig, held: str, floor: str | None, override: Override | None) -> str:
    if override is not None:
        return override.tier
    rules = config.tiers
    if floor is not None and rules.rank(floor) > rules.rank(held):
        return floor
    return held
