"""Request bodies are UTF-8 JSON: a body sent as anything else is refused with 415.

An endpoint that takes a body (``POST /facts``, ``/commands``, a quote, a task's
completion) reads it as JSON whatever its ``Content-Type`` says; a client sending a form
or text by mistake would have it read all the same, or refused with a parse error that
does not say what went wrong. The guard here refuses it first, naming the media type
expected: ``application/json``, or a ``+json`` type (``application/merge-patch+json``),
in UTF-8 (a ``charset`` parameter, if any, is ``utf-8``).
"""

from __future__ import annotations

import re
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from membercore_adapters.http.problems import FieldProblem, ProblemError

__all__ = ["accepts", "json_bodies"]

_JSON = re.compile(r"application/(?:[\w.+-]+\+)?json")


def accepts(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` names UTF-8 JSON."""
    if content_type is None:
        return False
    media, *parameters = (part.strip() for part in content_type.split(";"))
    if _JSON.fullmatch(media.lower()) is None:
        return False
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            return False
    return True


def json_bodies(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """The guard of the endpoints that take a body: it is sent as UTF-8 JSON.

    Raises:
        ProblemError: the body is sent as another media type (415).
    """
    if "data" not in handler.parsed_fn_signature.parameters:
        return
    sent = connection.headers.get("content-type")
    if accepts(sent):
        return
    raise ProblemError(
        415,
        "unsupported-media-type",
        f"请求体须为 UTF-8 编码的 JSON（Content-Type: application/json），收到 {sent or '无'} "
        f"/ the body must be UTF-8 JSON (Content-Type: application/json), got {sent or 'none'}",
        errors=[FieldProblem(pointer="/header/content-type", detail="expected application/json")],
    )
