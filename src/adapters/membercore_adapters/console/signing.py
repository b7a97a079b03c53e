"""Signing in to the console and out: the session's cookie, and the guard of every page.

A member of staff signs in with their staff id and password, checked as ``POST /sessions``
checks them (:func:`~membercore_adapters.http.accounts.sign_in_staff`: scrypt off the event
loop, an id held back after five failures), and the session's token is kept in a cookie:
``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other site's page sends it),
``Path=/console`` (the API, which takes bearer tokens only, never receives it), and
``Secure`` when the console is served over https. Every page but signing in asks the
store's accounts (:class:`~membercore_adapters.http.accounts.StoredAccounts`) whether the
session is in force, so a deactivated account or a changed role is signed out at its next
click, as in the API; a page asked for without a session in force sends the browser to
the sign-in form, and back to the page once signed in.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from litestar import Request, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.handlers.base import BaseRouteHandler
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from membercore_adapters.console.pages import (
    HOME,
    PATH,
    SignInNeeded,
    flash,
    form_field,
    local_path,
    page,
    redirect,
)
from membercore_adapters.console.staff import Staff, remember
from membercore_adapters.http.accounts import StoredAccounts, sign_in_staff
from membercore_adapters.http.problems import ProblemError
from membercore_adapters.http.running import EngineThread
from membercore_adapters.http.sessions import SESSION_PREFIX, Sessions

__all__ = ["COOKIE", "OPEN", "SIGNING", "signed_in"]

#: The cookie that holds the session's token.
COOKIE: Final = "membercore_console"
#: The ``opt`` key of the pages open without signing in (signing in, the style sheet).
OPEN: Final = "console_open"

_SIGN_IN = f"{PATH}/sign-in"


def _sessions(connection: ASGIConnection[Any, Any, Any, Any]) -> Sessions:
    held: Sessions = connection.app.state["sessions"]
    return held


async def _session_staff(connection: ASGIConnection[Any, Any, Any, Any]) -> Staff | None:
    """The member of staff whose session the cookie holds, while it is in force."""
    token = connection.cookies.get(COOKIE)
    if not token or not token.startswith(SESSION_PREFIX):
        return None  # an API token is never taken from a cookie
    engine: EngineThread = connection.app.state["engine"]
    sessions = _sessions(connection)
    principal = await StoredAccounts(engine, sessions).authenticate(f"Bearer {token}")
    session = sessions.session(token) if principal is not None else None
    if principal is None or session is None or principal.kind != "staff":
        return None
    return Staff(principal=principal, name=session.name)


async def signed_in(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """The guard of the console's pages: a session in force, or off to the sign-in form.

    Raises:
        SignInNeeded: the request holds no session in force.
    """
    if handler.opt.get(OPEN):
        return
    staff = await _session_staff(connection)
    if staff is None:
        raise SignInNeeded("请先登录")
    remember(connection, staff)


def _cookie(request: Request[Any, Any, Any], token: str, *, forget: bool = False) -> Cookie:
    return Cookie(
        key=COOKIE,
        value=token,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=0 if forget else None,
    )


@get("/sign-in", opt={OPEN: True}, name="console-sign-in-form")
async def sign_in_form(
    request: Request[Any, Any, Any],
    then: Annotated[str, QueryParameter(name="next")] = HOME,
) -> Template | Redirect:
    """The sign-in form (or, for someone signed in already, where they were going)."""
    if await _session_staff(request) is not None:
        return redirect(local_path(then))
    return page(request, "sign_in.html", then=local_path(then), staff_id="", error="")


@post("/sign-in", opt={OPEN: True}, name="console-sign-in", status_code=303)
async def sign_in(request: Request[Any, Any, Any]) -> Template | Redirect:
    """Sign in with a staff id and password; on to the page asked for, or the form again."""
    form = await request.form()
    staff_id = form_field(form, "staff_id").strip()
    then = local_path(form_field(form, "next"))
    engine: EngineThread = request.app.state["engine"]
    try:
        token, _ = await sign_in_staff(
            engine, _sessions(request), staff_id, form_field(form, "password")
        )
    except ProblemError as refused:
        return page(
            request,
            "sign_in.html",
            status=refused.status_code,
            then=then,
            staff_id=staff_id,
            error=_refusal(refused, _sessions(request)),
        )
    return redirect(then, _cookie(request, token))


def _refusal(refused: ProblemError, sessions: Sessions) -> str:
    """Why signing in failed, said to the person at the form."""
    if refused.status_code == 429:
        minutes = int(sessions.failure_window.total_seconds() // 60)
        return f"登录失败次数过多，请 {minutes} 分钟后再试"
    if refused.status_code == 401:
        return "员工编号或密码不正确"
    return str(refused.detail)


@post("/sign-out", name="console-sign-out", status_code=303)
async def sign_out(request: Request[Any, Any, Any]) -> Redirect:
    """End the session, forget the cookie, and show the sign-in form."""
    token = request.cookies.get(COOKIE)
    if token:
        _sessions(request).close(token)
    return redirect(_SIGN_IN, _cookie(request, "", forget=True), flash("已退出登录"))


#: The sign-in handlers.
SIGNING = (sign_in_form, sign_in, sign_out)
