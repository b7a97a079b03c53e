"""Idempotency keys: the same command twice is decided once.

Every command carries a key, every fact its ``fact_id``. A part of the domain records
each key it decided with the :func:`fingerprint` of the message; :func:`replayed` tells
a message delivered again (its earlier events are its result) from a key reused by a
different message (refused).

A fingerprint digests the message's canonical stored form
(:func:`membercore.serialization.canonical_json`): its fields as
:func:`~membercore.serialization.message_to_dict` writes them, keys sorted, fields equal
to their default left out. Adding an optional field with a default to a message type
keeps the fingerprints of the messages that leave it at its default, so a fact sent
again after an upgrade is still the same fact. Fingerprints start with ``w1:``; those
release 0.1.0 stored (a digest of the message's ``repr``, without a prefix) are still
accepted by :func:`matches` when the message's ``repr`` digests the same way.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable, Container, Mapping

from membercore.converters import canonical_json
from membercore.errors import IdempotencyConflictError, MembercoreError

__all__ = [
    "MARK",
    "digest",
    "fingerprint",
    "legacy_fingerprint",
    "matches",
    "replayed",
    "seen_in",
]

#: The prefix of fingerprints of the canonical stored form.
MARK = "w1:"

#: Digests of the messages seen last, by identity, each with a weak reference to its
#: message (so that none is kept alive by it): every part of a member's record
#: fingerprints the same fact, and messages are immutable, so the first digest holds.
#: The engine fingerprints a whole batch of facts (1,000 by default) before deciding
#: them, so the memo holds more than a batch. Digests never depend on it.
_RECENT: dict[int, tuple[weakref.ref[object], str]] = {}
_RECENT_SIZE = 4096


def fingerprint(message: object) -> str:
    """A stable digest of a fact or command, to tell a replay from a reused key.

    The digest of the message's canonical stored form, marked with :data:`MARK`. Equal
    messages have equal digests across processes and releases: messages hold their
    instants in UTC, keys are sorted, and fields left at their default are left out.
    """
    held = _RECENT.get(id(message))
    if held is not None and held[0]() is message:
        return held[1]
    marked = MARK + digest(canonical_json(message))
    try:
        reference = weakref.ref(message)
    except TypeError:  # not weakly referable (a str, a dict): not remembered
        return marked
    if len(_RECENT) >= _RECENT_SIZE:
        _RECENT.clear()
    _RECENT[id(message)] = (reference, marked)
    return marked


def legacy_fingerprint(message: object) -> str:
    """The digest release 0.1.0 stored: of the message's ``repr``, without a mark."""
    return digest(repr(message))


def digest(text: str) -> str:
    """A short, stable digest of any text (what is not valid Unicode written escaped)."""
    return hashlib.blake2b(text.encode("utf-8", "backslashreplace"), digest_size=10).hexdigest()


def matches(stored: str, message: object) -> bool:
    """Whether a stored fingerprint is that of ``message``.

    A fingerprint with :data:`MARK` is compared with the message's :func:`fingerprint`;
    one without (stored by release 0.1.0) with its :func:`legacy_fingerprint`.
    """
    if stored.startswith(MARK):
        return stored == fingerprint(message)
    return stored == legacy_fingerprint(message)


def seen_in(digests: Container[str], message: object) -> bool:
    """Whether stored fingerprints hold ``message``'s: its own, or the one 0.1.0 stored."""
    return fingerprint(message) in digests or legacy_fingerprint(message) in digests


def replayed(
    keys: Mapping[str, str],
    key: str,
    message: object,
    *,
    owner: str,
    conflict: Callable[[], MembercoreError] | None = None,
) -> bool:
    """Whether ``key`` was already decided for this same message.

    Args:
        keys: the keys decided so far, with their fingerprints.
        key: the message's key.
        message: the message (its fingerprint is compared with the stored one through
            :func:`matches`).
        owner: the member (or household) whose keys these are, for the error.
        conflict: builds a more specific error for a reused key.

    Raises:
        IdempotencyConflictError: the key was used by a different message (or the error
            ``conflict`` builds).
    """
    seen = keys.get(key)
    if seen is None:
        return False
    if not matches(seen, message):
        raise conflict() if conflict else IdempotencyConflictError(owner, key)
    return True
