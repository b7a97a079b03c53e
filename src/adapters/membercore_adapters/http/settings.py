"""What an API instance holds: its limits, engine's thread, authenticator, sessions; who calls."""

from __future__ import annotations

from typing import Any

import attrs
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from membercore_adapters.http.auth import Authenticator, Principal
from membercore_adapters.http.running import EngineThread
from membercore_adapters.http.sessions import Sessions

__all__ = ["HttpLimits", "authenticate", "limits_of", "principal_of", "runner", "sessions_of"]


def _positive(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be at least 1, got {value}")


@attrs.frozen(kw_only=True)
class HttpLimits:
    """How much one request may send.

    Attributes:
        max_body_bytes: the largest request body, in bytes (8 MiB): a larger one is
            answered 413 before it is read whole.
        max_batch: the most facts in one ``POST /facts`` (1,000, the engine's batch):
            more is answered 413.
    """

    max_body_bytes: int = attrs.field(default=8 * 1024 * 1024, validator=_positive)
    max_batch: int = attrs.field(default=1000, validator=_positive)


def runner(request: Request[Any, Any, Any]) -> EngineThread:
    """The engine's thread of the API instance serving ``request``."""
    held: EngineThread = request.app.state["engine"]
    return held


def limits_of(request: Request[Any, Any, Any]) -> HttpLimits:
    """The limits of the API instance serving ``request``."""
    held: HttpLimits = request.app.state["limits"]
    return held


def sessions_of(request: Request[Any, Any, Any]) -> Sessions:
    """The staff sessions of the API instance serving ``request``."""
    held: Sessions = request.app.state["sessions"]
    return held


def principal_of(request: Request[Any, Any, Any]) -> Principal:
    """Who sent ``request`` (the guard authenticated them)."""
    held: Principal = _state(request)["principal"]
    return held


def _state(connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
    """The request's own state (the scope's ``state``), made when there is none."""
    scope: dict[str, Any] = connection.scope  # type: ignore[assignment]
    held: dict[str, Any] = scope.setdefault("state", {})
    return held


_WHO = "需要有效的 Bearer 令牌 / a valid bearer token is needed (Authorization: Bearer …)"


async def authenticate(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """The guard of every endpoint: who calls, and whether they hold the endpoint's scope.

    An endpoint names the scope it needs in its ``opt`` (``{"scope": "read"}``); one
    marked ``public`` needs none. An endpoint naming no scope needs ``admin``.

    Raises:
        NotAuthorizedException: nobody is named by the request's credentials (401).
        PermissionDeniedException: the principal lacks the scope (403).
    """
    if handler.opt.get("public"):
        return
    authenticator: Authenticator = connection.app.state["authenticator"]
    principal = await authenticator.authenticate(connection.headers.get("authorization"))
    if principal is None:
        raise NotAuthorizedException(_WHO)
    needed = handler.opt.get("scope", "admin")
    if not principal.may(needed):
        raise PermissionDeniedException(
            f"需要 {needed} 权限 / the scope {needed!r} is needed; {principal.kind} "
            f"{principal.id!r} holds {', '.join(sorted(principal.scopes)) or 'none'}"
        )
    _state(connection)["principal"] = principal
