"""Errors as ``application/problem+json`` (RFC 9457), naming the field, never a traceback.

Every answer that is not a success is a problem document: ``type`` (a URN naming the
kind, ``urn:membercore:problem:unknown-member``), ``title`` (Chinese, then English),
``status``, ``detail`` (what was wrong, with the offending value), ``instance`` (the
path asked for) and, when fields were at fault, ``errors``: each with a JSON pointer
into the request body (``/3/occurred_at``: the fourth fact's ``occurred_at``) and what
was wrong with it. A fault of the server's (a bug) is logged with its traceback under an
incident id, and answered 500 with that id only.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import attrs
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example

from membercore.errors import (
    GaveUpError,
    IdempotencyConflictError,
    InvalidFactError,
    MembercoreError,
    StorageError,
    UnknownMemberError,
    UnknownTaskError,
)
from membercore_adapters.http.running import EngineClosedError

__all__ = [
    "MEDIA_TYPE",
    "FieldProblem",
    "Problem",
    "ProblemError",
    "pointer",
    "problem_example",
    "problem_responses",
    "title_of",
    "to_problem",
]

#: The media type of every error answer.
MEDIA_TYPE = "application/problem+json"

log = logging.getLogger("membercore.http")


@attrs.frozen(kw_only=True)
class FieldProblem:
    """What was wrong with one field of the request.

    Attributes:
        pointer: a JSON pointer (RFC 6901) to the field in the request body
            (``/3/occurred_at``), or to the header or parameter (``/header/idempotency-key``).
        detail: what was wrong with it.
    """

    pointer: str
    detail: str


@attrs.frozen(kw_only=True)
class Problem:
    """An error answer (RFC 9457).

    Attributes:
        type: a URN naming the kind of problem.
        title: the kind, said to people (Chinese first).
        status: the HTTP status.
        detail: what was wrong this time.
        instance: the path asked for.
        errors: the fields at fault, when some were.
        incident: for a fault of the server's, the id it was logged under.
    """

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: tuple[FieldProblem, ...] = ()
    incident: str | None = None


#: Titles by status, Chinese first.
_TITLES: Mapping[int, str] = {
    400: "请求有误 / Bad request",
    401: "未认证 / Not authenticated",
    403: "无权限 / Forbidden",
    404: "未找到 / Not found",
    405: "方法不允许 / Method not allowed",
    409: "冲突 / Conflict",
    413: "请求过大 / Content too large",
    415: "不支持的媒体类型 / Unsupported media type",
    422: "无法处理 / Unprocessable",
    429: "请求过于频繁 / Too many requests",
    500: "内部错误 / Internal error",
    503: "暂不可用 / Unavailable, try again",
}


def title_of(status: int) -> str:
    """The title of the problems of a status (Chinese, then English)."""
    return _TITLES.get(status, HTTPStatus(status).phrase)


class ProblemError(HTTPException):
    """A problem the API answers with, raised by a handler.

    Args:
        status: the HTTP status.
        kind: the last part of the problem's type URN (``batch-too-large``).
        detail: what was wrong.
        errors: the fields at fault.
        headers: headers of the answer.
    """

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        *,
        errors: Sequence[FieldProblem] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail=detail, status_code=status, headers=headers)
        self.kind = kind
        self.errors = tuple(errors)


def _urn(kind: str) -> str:
    return f"urn:membercore:problem:{kind}"


def _kind_of(error: BaseException) -> str:
    """``unknown-member`` for ``UnknownMemberError``."""
    name = type(error).__name__.removesuffix("Error") or "error"
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _answer(
    request: Request[Any, Any, Any], problem: Problem, headers: Mapping[str, str] | None
) -> Response[Any]:
    return Response(
        content=attrs.asdict(problem, filter=lambda _, value: value not in (None, ())),
        status_code=problem.status,
        media_type=MEDIA_TYPE,
        headers=dict(headers or {}),
    )


def _problem(
    request: Request[Any, Any, Any],
    status: int,
    kind: str,
    detail: str,
    errors: Sequence[FieldProblem] = (),
    incident: str | None = None,
) -> Problem:
    return Problem(
        type=_urn(kind),
        title=title_of(status),
        status=status,
        detail=detail,
        instance=request.url.path,
        errors=tuple(errors),
        incident=incident,
    )


def pointer(field: str, prefix: str = "") -> str:
    """The JSON pointer of a field as membercore names it (``lines[0].amount_fen``).

    Args:
        field: the field's path in a message.
        prefix: the pointer of the message in the request body (``/3`` in a batch).
    """
    parts = [name or index for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", field)]
    escaped = (part.replace("~", "~0").replace("/", "~1") for part in parts)
    return prefix + "".join(f"/{part}" for part in escaped)


def to_problem(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    """The answer to whatever a handler (or the framework) raised."""
    headers: dict[str, str] = {}
    if isinstance(error, ProblemError):
        problem = _problem(request, error.status_code, error.kind, error.detail, error.errors)
        headers.update(error.headers or {})
        if error.status_code == 401:
            headers.setdefault("WWW-Authenticate", _CHALLENGE)
    elif isinstance(error, ValidationException):
        problem = _problem(
            request, 400, "invalid-request", _said(error, body=False), _fields(error)
        )
    elif isinstance(error, HTTPException):
        said = _too_large(request) if error.status_code == 413 else _said(error)
        problem = _problem(request, error.status_code, _http_kind(error), said)
        headers.update(error.headers or {})
        if isinstance(error, NotAuthorizedException):
            headers["WWW-Authenticate"] = _CHALLENGE
    elif isinstance(error, RecursionError):  # the body nests deeper than its decoder follows
        problem = _problem(request, 400, "invalid-request", _NESTED)
    elif isinstance(error, MembercoreError):
        status, errors = _membercore(error)
        problem = _problem(request, status, _kind_of(error), _detail(error), errors)
        if status == 503:
            headers["Retry-After"] = "1"
    else:
        incident = uuid.uuid4().hex
        log.error(
            "incident %s: %s %s failed", incident, request.method, request.url.path, exc_info=error
        )
        detail = f"服务器内部错误，已记录为 {incident} / the server failed; logged as {incident}"
        problem = _problem(request, 500, "internal", detail, incident=incident)
    return _answer(request, problem, headers)


#: How a 401 says to authenticate.
_CHALLENGE = 'Bearer realm="membercore"'

#: Why a body nested past what its decoder follows is refused.
_NESTED = "JSON 嵌套过深 / the JSON is nested too deep to read"


def _detail(error: MembercoreError) -> str:
    """What a refusal says: the engine's words, but never whose identifier an id is.

    The API offers no look-up by identifier: a 404 does not become one.
    """
    if isinstance(error, UnknownMemberError) and error.identifier_of:
        return str(attrs.evolve(error, identifier_of=()))
    return str(error)


def _membercore(error: MembercoreError) -> tuple[int, tuple[FieldProblem, ...]]:
    """The status of a refusal of the engine's, and the field it names."""
    if isinstance(error, UnknownMemberError | UnknownTaskError):
        return 404, ()
    if isinstance(error, IdempotencyConflictError):
        return 409, ()
    if isinstance(error, GaveUpError | StorageError | EngineClosedError):
        return 503, ()
    if isinstance(error, InvalidFactError):
        return 422, (FieldProblem(pointer=pointer(error.field), detail=error.problem),)
    return 422, ()  # a refusal of the programme's (EngineError: a merge into itself...)


def _http_kind(error: HTTPException) -> str:
    kinds = {
        400: "invalid-request",
        401: "not-authenticated",
        403: "forbidden",
        404: "not-found",
        405: "method-not-allowed",
        413: "too-large",
        415: "unsupported-media-type",
    }
    return kinds.get(error.status_code, f"http-{error.status_code}")


#: What the framework's own refusal of a request's body is, said first in Chinese.
_UNREADABLE = "请求体无法读取（须为 UTF-8 编码的 JSON）/ the body cannot be read"


def _too_large(request: Request[Any, Any, Any]) -> str:
    """Why a body past the size limit is refused, naming the limit."""
    most = request.app.request_max_body_size
    return (
        f"请求体超过 {most:,} 字节的上限 / the body is larger than the limit of {most:,} "
        "bytes: send fewer facts in each request"
    )


#: What an empty request body is said to lack.
_NO_BODY = "请求体为空：需要 JSON / the body is empty: JSON is needed"


def _said(error: HTTPException, *, body: bool = True) -> str:
    """What the framework said of a request; of a body it could not read, in Chinese first."""
    said = str(error.detail) if error.detail else HTTPStatus(error.status_code).phrase
    if body and error.status_code == 400 and not isinstance(error, ProblemError):
        return f"{_UNREADABLE}: {said}"
    return said


def _fields(error: ValidationException) -> tuple[FieldProblem, ...]:
    """The fields a request failed validation on, as JSON pointers."""
    extra = error.extra if isinstance(error.extra, list) else []
    found = []
    for item in extra:
        if not isinstance(item, dict):
            continue
        key = str(item.get("key") or "")
        source = item.get("source") or "body"
        source = str(getattr(source, "value", source))
        message = str(item.get("message") or "invalid")
        # The decoder names the body ``data`` and a field in it by its path; a parameter
        # is named /query/status, /header/idempotency-key, /path/member_id.
        body = ("" if key == "data" else pointer(key)) + _field_named(message)
        if key == "data" and message == "'data'":  # no body at all: its name, not a reason
            message = _NO_BODY
        named = key.replace("_", "-").lower() if source == "header" else key
        where = body if source == "body" else f"/{source}/{named}"
        found.append(FieldProblem(pointer=where, detail=message))
    return tuple(found)


#: A field the decoder names in its message, not in its path: one missing or unknown
#: (msgspec), or one an engine type's validator refused (``bill_item.quantity = 0: ...``,
#: as :class:`~membercore.errors.InvalidFactError` says it).
_NAMED_FIELD = re.compile(
    r"^Object (?:missing required|contains unknown) field `([^`]+)`|^\w+\.(\w+) = "
)


def _field_named(message: str) -> str:
    """The pointer's last step, to the field ``message`` names (empty: it names none)."""
    found = _NAMED_FIELD.match(message)
    return "" if found is None else pointer(found.group(1) or found.group(2))


#: A problem an endpoint gives, for its examples: its kind and what it says.
Said = tuple[str, str]


def problem_responses(
    *statuses: int, kinds: Mapping[int, Sequence[Said]] | None = None
) -> dict[int, ResponseSpec]:
    """The OpenAPI answers of the problems an endpoint may give (and 400, 401, 500, 503).

    Each is shown with fixed examples of the problem as the API answers it: the
    endpoint's own kinds of it when ``kinds`` names them (``{404: [("unknown-task",
    "…")]}``), else one of its status.
    """
    named = kinds or {}
    return {
        status: ResponseSpec(
            data_container=Problem,
            generate_examples=False,
            description=title_of(status),
            media_type=MEDIA_TYPE,
            examples=_examples(status, named.get(status, ())),
        )
        for status in sorted({*statuses, *named, 400, 401, 500, 503})
    }


def _examples(status: int, kinds: Sequence[Said]) -> list[Example]:
    if not kinds:
        return [Example(summary=title_of(status), value=problem_example(status))]
    found = []
    for kind, detail in kinds:
        value = problem_example(status)
        value.pop("errors", None)  # the status's example's fields, not this kind's
        value.update(type=_urn(kind), detail=detail)
        found.append(Example(summary=kind, value=value))
    return found


def problem_example(status: int) -> dict[str, Any]:
    """A problem of ``status`` as the API answers it, for the OpenAPI document."""
    kind, path, detail, errors = _EXAMPLES.get(status, (f"http-{status}", "/facts", "", ()))
    problem = Problem(
        type=_urn(kind),
        title=title_of(status),
        status=status,
        detail=detail or HTTPStatus(status).phrase,
        instance=path,
        errors=tuple(FieldProblem(pointer=at, detail=why) for at, why in errors),
        incident=_INCIDENT if status == 500 else None,
    )
    return attrs.asdict(
        problem,
        filter=lambda _, value: value not in (None, ()),
        value_serializer=lambda _, __, value: list(value) if isinstance(value, tuple) else value,
    )


_INCIDENT = "5f0c2a9e7b8d4c61a3e2f9b0d1c4e7a2"

#: The documented example of each status: its kind, path, detail and fields at fault.
_EXAMPLES: Mapping[int, tuple[str, str, str, tuple[tuple[str, str], ...]]] = {
    400: (
        "invalid-request",
        "/members/P-000123/quote",
        "Validation failed for POST /members/P-000123/quote",
        (("/items/0/list_price_fen", "Expected `int`, got `str`"),),
    ),
    401: (
        "not-authenticated",
        "/members/P-000123",
        "需要有效的 Bearer 令牌 / a valid bearer token is needed (Authorization: Bearer …)",
        (),
    ),
    403: (
        "forbidden",
        "/facts",
        "需要 ingest 权限 / the scope 'ingest' is needed; system 'crm' holds commands, read",
        (),
    ),
    404: ("unknown-member", "/members/P-000404", "member 'P-000404' is not known", ()),
    409: (
        "idempotency-conflict",
        "/commands",
        "member P-000123: idempotency key 'order-9' was already used by a different command",
        (),
    ),
    413: (
        "batch-too-large",
        "/facts",
        "一批最多 1000 条事实，收到 1200 条 / a batch holds at most 1000 facts, got 1200: "
        "send it in smaller batches",
        (),
    ),
    415: (
        "unsupported-media-type",
        "/facts",
        "请求体须为 UTF-8 编码的 JSON（Content-Type: application/json），收到 text/plain / "
        "the body must be UTF-8 JSON (Content-Type: application/json), got text/plain",
        (("/header/content-type", "expected application/json"),),
    ),
    422: (
        "insufficient-points",
        "/commands",
        "member P-000123: insufficient points: requested 9999, available 1480",
        (),
    ),
    500: (
        "internal",
        "/members/P-000123/points",
        f"服务器内部错误，已记录为 {_INCIDENT} / the server failed; logged as {_INCIDENT}",
        (),
    ),
    503: (
        "gave-up",
        "/commands",
        "gave up adjust_points after 16 version conflicts in a row, on member:P-000123 (16×)",
        (),
    ),
}
