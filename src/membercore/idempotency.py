"""Idempotency keys: the same command twice is decided once.

Every command carries a key, every fact its ``fact_id``. A part of the domain records
each key it decided with the :func:`fingerprint` of the message; :func:`replayed` tells
a message delivered again (its earlier events are its result) from a key reused by a
different message (refused).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

from membercore.errors import IdempotencyConflictError, MembercoreError

__all__ = ["fingerprint", "replayed"]


#: Digests of the messages seen last, by identity: every part of a member's record
#: fingerprints the same fact, and messages are immutable, so the first digest holds.
#: The engine fingerprints a whole batch of facts (1,000 by default) before deciding
#: them, so the memo holds more than a batch.
_RECENT: dict[int, tuple[object, str]] = {}
_RECENT_SIZE = 4096


def fingerprint(message: object) -> str:
    """A stable digest of a fact or command, to tell a replay from a reused key.

    Equal messages have equal digests across processes: messages hold their instants in
    UTC, so ``10:00+08:00`` and ``02:00Z`` are written the same way in ``repr``.
    """
    held = _RECENT.get(id(message))
    if held is not None and held[0] is message:
        return held[1]
    digest = hashlib.blake2b(repr(message).encode(), digest_size=10).hexdigest()
    if len(_RECENT) >= _RECENT_SIZE:
        _RECENT.clear()
    _RECENT[id(message)] = (message, digest)
    return digest


def replayed(
    keys: Mapping[str, str],
    key: str,
    digest: str,
    *,
    owner: str,
    conflict: Callable[[], MembercoreError] | None = None,
) -> bool:
    """Whether ``key`` was already decided for this same message.

    Args:
        keys: the keys decided so far, with their fingerprints.
        key: the message's key.
        digest: the message's fingerprint.
        owner: the member (or household) whose keys these are, for the error.
        conflict: builds a more specific error for a reused key.

    Raises:
        IdempotencyConflictError: the key was used by a different message (or the error
            ``conflict`` builds).
    """
    seen = keys.get(key)
    if seen is None:
        return False
    if seen != digest:
        raise conflict() if conflict else IdempotencyConflictError(owner, key)
    return True
