"""Who calls, by the store's API tokens and the staff's accounts; signing in and out.

:class:`StoredAccounts` is the :class:`~membercore_adapters.http.auth.Authenticator` of
a store that keeps accounts (:class:`~membercore.ports.AccountStore`, which the memory,
SQLite and PostgreSQL stores are): an ``mc_…`` bearer token is one of the store's API
tokens (``membercore token create``), in force and with its scopes; an ``ms_…`` token is
a staff member's session (:mod:`~membercore_adapters.http.sessions`), whose account must
still be active with the same role. The store is read on the engine's thread, never on
the event loop. ``POST /sessions`` signs a member of staff in; ``DELETE /sessions/current``
signs them out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import anyio.to_thread
import attrs
from litestar import Request, Response, delete, post
from litestar.params import JSONBody

from membercore.access import authenticate_token, signs_in
from membercore.ports import AccountStore, ApiToken, StaffAccount
from membercore.service.engine import Engine
from membercore_adapters.http.auth import ROLE_SCOPES, Principal, bearer
from membercore_adapters.http.problems import ProblemError, problem_responses
from membercore_adapters.http.running import EngineThread
from membercore_adapters.http.sessions import Session, Sessions
from membercore_adapters.http.settings import runner, sessions_of

__all__ = ["ACCOUNTS", "SignIn", "SignedIn", "StoredAccounts", "sign_in_staff"]


def _accounts(engine: Engine) -> AccountStore | None:
    store = engine.store
    return store if isinstance(store, AccountStore) else None


def _token(engine: Engine, secret: str) -> ApiToken | None:
    accounts = _accounts(engine)
    return None if accounts is None else authenticate_token(accounts, secret)


def _account(engine: Engine, staff_id: str) -> StaffAccount | None:
    accounts = _accounts(engine)
    return None if accounts is None else accounts.staff_account(staff_id)


def staff_principal(account: StaffAccount) -> Principal:
    """The principal a staff account signs in as: its staff id, role and the role's scopes."""
    return Principal(
        kind="staff",
        id=account.staff_id,
        role=account.role,  # type: ignore[arg-type] # a role of STAFF_ROLES, as ROLES
        scopes=ROLE_SCOPES[account.role],
    )


def _still(account: StaffAccount | None, session: Session) -> bool:
    """Whether the account stands as the session opened on it: active, role, password."""
    return (
        account is not None
        and account.active
        and account.role == session.principal.role
        and account.password_hash == session.stamp
    )


class StoredAccounts:
    """The store's API tokens and the staff's sessions, as an authenticator.

    Args:
        engine: the engine's thread (the store is read there).
        sessions: the process's staff sessions.
    """

    def __init__(self, engine: EngineThread, sessions: Sessions) -> None:
        self._engine = engine
        self._sessions = sessions

    async def authenticate(self, authorization_header: str | None) -> Principal | None:
        """A stored token's system, or a session's member of staff; else ``None``."""
        secret = bearer(authorization_header)
        if secret is None:
            return None
        session = self._sessions.session(secret)
        if session is not None:
            held = session.principal
            account = await self._engine.call(lambda engine: _account(engine, held.id))
            if not _still(account, session):
                self._sessions.close(secret)  # deactivated, moved or a new password since
                return None
            return held
        token = await self._engine.call(lambda engine: _token(engine, secret))
        if token is None:
            return None
        return Principal(kind="system", id=token.token_id, scopes=frozenset(token.scopes))

    def __repr__(self) -> str:
        return f"StoredAccounts({self._sessions!r})"


async def sign_in_staff(
    engine: EngineThread, sessions: Sessions, staff_id: str, password: str
) -> tuple[str, StaffAccount]:
    """Sign a member of staff in: a new session's token and their account.

    The password's hash is checked on a worker thread (scrypt takes some 50 ms), neither
    on the event loop nor on the engine's thread.

    Raises:
        ProblemError: 429 when the staff id failed too often lately; 401 when the id and
            password sign nobody in (an unknown id, a wrong password and a deactivated
            account are answered alike).
    """
    if sessions.held_back(staff_id):
        raise ProblemError(
            429,
            "too-many-sign-ins",
            f"登录失败次数过多，请 {int(sessions.failure_window.total_seconds() // 60)} 分钟后"
            "再试 / too many failed sign-ins: try again later",
            headers={"Retry-After": str(int(sessions.failure_window.total_seconds()))},
        )
    account = await engine.call(lambda held: _account(held, staff_id))
    if not await anyio.to_thread.run_sync(signs_in, account, password):
        sessions.failed(staff_id)
        raise ProblemError(
            401, "sign-in-failed", "员工编号或密码不正确 / the staff id or password is wrong"
        )
    assert account is not None  # signs_in is false without one
    return sessions.open(staff_principal(account), account.name, account.password_hash), account


@attrs.frozen(kw_only=True)
class SignIn:
    """A member of staff signing in.

    Attributes:
        staff_id: their staff id (``hm-01``).
        password: their password.
    """

    staff_id: str
    password: str = attrs.field(repr=False)


@attrs.frozen(kw_only=True)
class SignedIn:
    """A session opened.

    Attributes:
        token: the session's token, sent as ``Authorization: Bearer <token>``; shown once.
        staff_id: who signed in.
        name: their name.
        role: their role.
        scopes: what the role may do.
        expires_at: when the session ends at the latest, unless it is idle sooner.
    """

    token: str
    staff_id: str
    name: str
    role: str
    scopes: tuple[str, ...]
    expires_at: datetime


@post(
    "/sessions",
    opt={"public": True},
    status_code=201,
    summary="员工登录 / Sign in (staff)",
    description="A member of staff signs in with their staff id and password and gets a "
    "session token, sent afterwards as `Authorization: Bearer <token>`. It lasts a shift "
    "(8 hours) at most and 30 minutes unused, and ends when the account is deactivated. "
    "A wrong id or password is 401 (which one is not said); five failures of one staff id "
    "in 15 minutes hold it back (429).",
    responses=problem_responses(
        kinds={
            401: [("sign-in-failed", "员工编号或密码不正确 / the staff id or password is wrong")],
            429: [("too-many-sign-ins", "登录失败次数过多 / too many failed sign-ins")],
        }
    ),
)
async def sign_in(request: Request[Any, Any, Any], data: JSONBody[SignIn]) -> SignedIn:
    """Open a session for a member of staff."""
    held = sessions_of(request)
    token, account = await sign_in_staff(runner(request), held, data.staff_id, data.password)
    now = await runner(request).call(lambda engine: engine.now())
    principal = staff_principal(account)
    return SignedIn(
        token=token,
        staff_id=account.staff_id,
        name=account.name,
        role=account.role,
        scopes=tuple(sorted(principal.scopes)),
        expires_at=now + held.lifetime,
    )


@delete(
    "/sessions/current",
    opt={"scope": "read"},
    status_code=204,
    summary="退出登录 / Sign out",
    description="End the session whose token the request carries.",
    responses=problem_responses(403),
)
async def sign_out(request: Request[Any, Any, Any]) -> Response[None]:
    """End the caller's session (a system's token is left as it is)."""
    secret = bearer(request.headers.get("authorization"))
    if secret is not None:
        sessions_of(request).close(secret)
    return Response(None, status_code=204)


#: The session endpoints.
ACCOUNTS = (sign_in, sign_out)
