"""Staff sign-in sessions: a member of staff signs in once and works with a session token.

A member of staff signs in with their staff id and password (``POST /sessions``; the
console's sign-in form does the same) and gets a session token, sent afterwards as
``Authorization: Bearer <token>`` (or held by the console in its cookie). Sessions live
in the server process's memory, kept only by their tokens' SHA-256 digests: a restart
signs everyone out. A session ends when its holder signs out, when it has not been used
for :attr:`Sessions.idle` or is older than :attr:`Sessions.lifetime` (a shift), and when
the account is deactivated, its role changed or its password (checked at every request by
:class:`~membercore_adapters.http.accounts.StoredAccounts`).

Guessing passwords is slowed twice: every try costs a scrypt hash, and a staff id with
:attr:`Sessions.most_failures` failed tries in :attr:`Sessions.failure_window` is
refused without trying until the window has passed (answered 429).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from datetime import timedelta

import attrs

from membercore_adapters.http.auth import Principal

__all__ = ["SESSION_PREFIX", "Session", "Sessions"]

#: What every session token starts with (an API token starts ``mc_``).
SESSION_PREFIX = "ms_"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@attrs.frozen(kw_only=True)
class Session:
    """A signed-in member of staff.

    Attributes:
        principal: who, with their role's scopes.
        name: their name, as colleagues see it.
        opened: when they signed in (the process's monotonic clock, in seconds).
        used: when the session was last used (the same clock).
        stamp: what the account was signed in with (its password's hash): a new password
            ends the session.
    """

    principal: Principal
    name: str
    opened: float
    used: float
    stamp: str = attrs.field(default="", repr=False)


class Sessions:
    """The signed-in staff of one server process.

    Args:
        lifetime: how long a session lasts at most (8 hours: a shift).
        idle: how long a session lasts unused (30 minutes).
        most_failures: failed sign-ins of one staff id before it is held back.
        failure_window: how long failed sign-ins are counted, and a staff id held back.
        clock: the monotonic clock, in seconds (a test's own).
    """

    def __init__(
        self,
        *,
        lifetime: timedelta = timedelta(hours=8),
        idle: timedelta = timedelta(minutes=30),
        most_failures: int = 5,
        failure_window: timedelta = timedelta(minutes=15),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lifetime = lifetime
        self.idle = idle
        self.most_failures = most_failures
        self.failure_window = failure_window
        self._clock = clock
        self._held: dict[str, Session] = {}
        self._failures: dict[str, list[float]] = {}

    def open(self, principal: Principal, name: str, stamp: str = "") -> str:
        """A new session for ``principal``: its token, for showing once.

        ``stamp`` is what the account was signed in with (its password's hash), which
        the session holds to check that it still is.
        """
        self._sweep()
        secret = SESSION_PREFIX + secrets.token_urlsafe(32)
        now = self._clock()
        self._held[_digest(secret)] = Session(
            principal=principal, name=name, opened=now, used=now, stamp=stamp
        )
        self._failures.pop(principal.id, None)
        return secret

    def session(self, secret: str) -> Session | None:
        """The session in force whose token ``secret`` is (and mark it used), or ``None``."""
        if not secret.startswith(SESSION_PREFIX):
            return None
        digest = _digest(secret)
        held = self._held.get(digest)
        if held is None:
            return None
        now = self._clock()
        if not self._in_force(held, now):
            del self._held[digest]
            return None
        self._held[digest] = attrs.evolve(held, used=now)
        return held

    def close(self, secret: str) -> None:
        """End the session of ``secret`` (signing out); nothing when there is none."""
        self._held.pop(_digest(secret), None)

    def expires_in(self, secret: str) -> timedelta | None:
        """How long the session of ``secret`` lasts unless it is used, or ``None``."""
        held = self._held.get(_digest(secret))
        if held is None:
            return None
        now = self._clock()
        left = min(
            held.opened + self.lifetime.total_seconds(), held.used + self.idle.total_seconds()
        )
        return timedelta(seconds=max(0.0, left - now))

    def held_back(self, staff_id: str) -> bool:
        """Whether ``staff_id`` failed to sign in too often lately (no try is made)."""
        recent = self._recent(staff_id)
        return len(recent) >= self.most_failures

    def failed(self, staff_id: str) -> None:
        """Count a failed sign-in of ``staff_id``."""
        self._failures[staff_id] = [*self._recent(staff_id), self._clock()]

    def _recent(self, staff_id: str) -> list[float]:
        since = self._clock() - self.failure_window.total_seconds()
        recent = [at for at in self._failures.get(staff_id, ()) if at >= since]
        if recent:
            self._failures[staff_id] = recent
        else:
            self._failures.pop(staff_id, None)
        return recent

    def _in_force(self, held: Session, now: float) -> bool:
        return (
            now - held.opened < self.lifetime.total_seconds()
            and now - held.used < self.idle.total_seconds()
        )

    def _sweep(self) -> None:
        """Forget the sessions no longer in force (on each sign-in: memory stays bounded)."""
        now = self._clock()
        for digest in [d for d, held in self._held.items() if not self._in_force(held, now)]:
            del self._held[digest]

    def __len__(self) -> int:
        return len(self._held)

    def __repr__(self) -> str:
        return f"Sessions({len(self._held)} open)"
