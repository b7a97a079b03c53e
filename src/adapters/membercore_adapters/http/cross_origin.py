"""Calls from web pages of other origins (CORS), for the origins named only; off by default.

A page served from another origin than the API (the CRM's web front end) may call it
only when the API says so: the browser first sends a preflight (``OPTIONS`` with
``Origin`` and ``Access-Control-Request-Method``), which carries no credentials and is
answered before authentication; the request itself then carries its bearer token as
any other. Only the origins given are allowed; with none, no CORS header is sent and a
preflight is refused like any request without a token (401).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from litestar.config.cors import CORSConfig

from membercore_adapters.http.admission import PURPOSE_HEADER

__all__ = ["cors", "origin"]

_ORIGIN = re.compile(r"https?://[^/?#\s]+")


def origin(text: str) -> str:
    """An origin as the browser sends it (``https://crm.example.cn``, no path).

    Raises:
        ValueError: it is not an ``http`` or ``https`` origin.
    """
    held = text.strip().rstrip("/")
    if _ORIGIN.fullmatch(held) is None:
        raise ValueError(
            f"{text!r} 不是来源（https://主机[:端口]）/ is not an origin (https://host[:port])"
        )
    return held


def cors(origins: Iterable[str]) -> CORSConfig | None:
    """The CORS settings of the API for ``origins``, or ``None`` when there are none.

    Raises:
        ValueError: one of them is not an origin.
    """
    allowed = sorted({origin(text) for text in origins})
    if not allowed:
        return None
    return CORSConfig(
        allow_origins=allowed,
        allow_methods=["GET", "POST", "DELETE"],  # DELETE: signing out
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", PURPOSE_HEADER],
        expose_headers=["Idempotent-Replayed", "Retry-After", "WWW-Authenticate"],
        allow_credentials=False,  # bearer tokens, sent by the page itself: no cookies
    )
