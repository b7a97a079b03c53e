"""What every page of the console shares: rendering, the flash message, redirects, errors.

A page is a Jinja2 template rendered with who is signed in and the message the previous
step left (the *flash*: "任务已完成…", kept a minute in a cookie and shown once). Forms
answer with a redirect (303: the browser then asks for the page with ``GET``, so that
reloading it sends nothing twice). Errors are pages too, in Chinese, with the status the
API would give; a fault of the server's is logged with its traceback under an incident
id, and the page shows the id only.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, tzinfo
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import quote, unquote, urlsplit

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.exceptions import HTTPException, PermissionDeniedException
from litestar.response import Redirect, Template

from membercore.errors import (
    GaveUpError,
    MembercoreError,
    StorageError,
    UnknownMemberError,
    UnknownTaskError,
)
from membercore_adapters.console.staff import signed_in_as
from membercore_adapters.http.running import EngineClosedError

__all__ = [
    "CSRF_COOKIE",
    "HOME",
    "PATH",
    "SignInNeeded",
    "console_error",
    "flash",
    "form_field",
    "local_path",
    "page",
    "redirect",
    "when",
]

#: Where the console is served.
PATH: Final = "/console"
#: The work queue: where the console opens.
HOME: Final = f"{PATH}/"
#: The cookie that carries a message to the next page.
FLASH: Final = "membercore_flash"
#: The cookie the forms' CSRF tokens are checked against.
CSRF_COOKIE: Final = "membercore_csrf"

log = logging.getLogger("membercore.console")


class SignInNeeded(HTTPException):
    """No session in force: the browser is sent to the sign-in form (401)."""

    status_code = 401


def when(at: datetime, zone: tzinfo) -> str:
    """An instant as the programme's clocks show it, to the minute."""
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def local_path(asked: str | None) -> str:
    """``asked`` when it is a page of the console, else the work queue.

    A sign-in form's ``next`` and a form's way back come from the browser: a path
    elsewhere (``//evil.example``, ``https://...``) would send the member of staff
    off-site, so only the console's own paths are followed.
    """
    if not asked:
        return HOME
    parts = urlsplit(asked)
    inside = parts.path == PATH or parts.path.startswith(f"{PATH}/")
    if parts.scheme or parts.netloc or not inside or "\\" in asked or "//" in parts.path:
        return HOME
    return HOME + asked.removeprefix(PATH).lstrip("/")


def form_field(form: Any, name: str) -> str:
    """A text field of a submitted form; empty when it is missing (or a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def flash(text: str, *, ok: bool = True) -> Cookie:
    """A cookie carrying ``text`` to the next page, shown there once."""
    return Cookie(
        key=FLASH,
        value=quote(("ok:" if ok else "error:") + text),
        path=PATH,
        max_age=60,
        httponly=True,
        samesite="strict",
    )


def _flashed(request: Request[Any, Any, Any]) -> dict[str, Any] | None:
    held = request.cookies.get(FLASH)
    if not held:
        return None
    kind, _, text = unquote(held).partition(":")
    return {"ok": kind == "ok", "text": text}


def page(
    request: Request[Any, Any, Any],
    template: str,
    *,
    status: int = 200,
    cookies: tuple[Cookie, ...] = (),
    **context: Any,
) -> Template:
    """A page: ``template`` with who is signed in, the flash message, and ``context``."""
    shown = _flashed(request)
    spent = (Cookie(key=FLASH, value="", path=PATH, max_age=0),) if shown else ()
    return Template(
        template_name=template,
        context={"staff": signed_in_as(request), "flash": shown, **context},
        status_code=status,
        cookies=[*spent, *cookies],
    )


def redirect(path: str, *cookies: Cookie) -> Redirect:
    """Off to another page of the console, asked for with ``GET`` (303)."""
    return Redirect(path=path, status_code=303, cookies=list(cookies))


#: Titles of the error pages by status.
_TITLES: Final = {
    400: "请求有误",
    401: "请先登录",
    403: "无权限",
    404: "未找到",
    405: "不支持的操作",
    409: "冲突",
    413: "请求过大",
    422: "无法处理",
    429: "请求过于频繁",
    500: "内部错误",
    503: "暂不可用，请稍后再试",
}
_EXPIRED_FORM = "表单已失效（可能已在别处退出或刷新），请返回重新提交"


def console_error(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    """The page answering whatever a console handler (or its guard) raised."""
    if isinstance(error, SignInNeeded):
        back = request.url.path if request.method == "GET" else HOME
        if request.url.query:
            back += f"?{request.url.query}"
        return redirect(f"{PATH}/sign-in?next={quote(local_path(back), safe='')}")
    status, detail = _said(request, error)
    return page(
        request,
        "error.html",
        status=status,
        cookies=_forget_form_key() if detail == _EXPIRED_FORM else (),
        title=_TITLES.get(status, HTTPStatus(status).phrase),
        detail=detail,
    )


def _forget_form_key() -> tuple[Cookie, ...]:
    """Forget the CSRF cookie, so that the next page sets one the server checks again.

    The cookie is signed with a key drawn when the server started: after a restart the
    browser's is one no form can match, and the middleware keeps a cookie it is sent.
    """
    return (Cookie(key=CSRF_COOKIE, value="", path=PATH, max_age=0),)


def _said(request: Request[Any, Any, Any], error: Exception) -> tuple[int, str]:
    """The status of an error and what the page says of it."""
    if isinstance(error, HTTPException):  # ProblemError among them
        if isinstance(error, PermissionDeniedException) and "CSRF" in str(error.detail):
            return 403, _EXPIRED_FORM
        return error.status_code, str(error.detail or HTTPStatus(error.status_code).phrase)
    if isinstance(error, MembercoreError):
        return _refusal(error)
    incident = uuid.uuid4().hex
    log.error(
        "incident %s: %s %s failed", incident, request.method, request.url.path, exc_info=error
    )
    return 500, f"服务器内部错误，已记录为 {incident}"


def _refusal(error: MembercoreError) -> tuple[int, str]:
    """The status of a refusal of the engine's (as the API gives it), and what it says."""
    if isinstance(error, UnknownMemberError):
        return 404, f"没有会员 {error.member_id}"
    if isinstance(error, UnknownTaskError):
        return 404, str(error)
    if isinstance(error, GaveUpError | StorageError | EngineClosedError):
        return 503, "存储暂不可用，请稍后再试"
    return 422, str(error)
