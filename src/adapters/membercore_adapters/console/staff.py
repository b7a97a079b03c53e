"""Who is signed in to the console, as the pages of one request know them."""

from __future__ import annotations

from typing import Any, Final

import attrs
from litestar import Request
from litestar.connection import ASGIConnection

from membercore_adapters.http.auth import Principal
from membercore_adapters.labels import STAFF_ROLES, named

__all__ = ["Staff", "remember", "signed_in_as", "staff_of"]

_KEY: Final = "console_staff"


@attrs.frozen(kw_only=True)
class Staff:
    """The member of staff signed in.

    Attributes:
        principal: who, with their role and its scopes (as the API knows them).
        name: their name, as colleagues see it.
    """

    principal: Principal
    name: str

    @property
    def id(self) -> str:
        """Their staff id."""
        return self.principal.id

    @property
    def role(self) -> str:
        """Their role, as colleagues name it."""
        return named(STAFF_ROLES, self.principal.role or "", "zh-CN")


def _state(connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
    """The request's own state (the scope's ``state``), made when there is none."""
    scope: dict[str, Any] = connection.scope  # type: ignore[assignment]
    held: dict[str, Any] = scope.setdefault("state", {})
    return held


def remember(connection: ASGIConnection[Any, Any, Any, Any], staff: Staff) -> None:
    """Note for the rest of the request who is signed in."""
    _state(connection)[_KEY] = staff


def staff_of(request: Request[Any, Any, Any]) -> Staff:
    """The member of staff signed in (the console's guard found them)."""
    held: Staff = _state(request)[_KEY]
    return held


def signed_in_as(request: Request[Any, Any, Any]) -> Staff | None:
    """The member of staff signed in, on a page that may be seen signed out."""
    held: Staff | None = _state(request).get(_KEY)
    return held
