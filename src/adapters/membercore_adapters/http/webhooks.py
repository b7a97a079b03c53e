"""``/webhooks/{name}``: the webhooks plugins register, served beside the API.

A provider or the HIS that calls the programme back — Aliyun pushing members' SMS
replies, a FHIR server's subscription notifications — calls a
:class:`~membercore.ports.Webhook` an installed plugin registers
(:func:`~membercore.hookspecs.membercore_register_webhooks`). :class:`Webhooks` builds
those the server is asked for on the engine's thread when the application starts;
each request to ``/webhooks/<name>`` or below it, with any method, is handed to its
webhook as a :class:`~membercore.ports.WebhookCall` with the engine's thread to work
on, and its :class:`~membercore.ports.WebhookAnswer` goes back as it is: the
provider's own answer, not a problem document. Only the guard's 401 and 403, an
unknown name's 404 and a body past the limit's 413 are problems.

The caller needs the ``ingest`` scope, by its bearer token or — for a provider that can
only be given an address, like Aliyun's console — by the same token in the query
(``/webhooks/aliyun-smsup?token=mc_…``), which no other route takes. The webhook is not
handed that parameter, and :class:`QueryTokenMask` keeps it out of uvicorn's access log.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

from litestar import HttpMethod, Request, Response, route
from litestar.handlers.http_handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler, Method
from litestar.types.internal_types import PathParameterDefinition

from membercore.errors import ConfigError
from membercore.ports import Webhook, WebhookCall
from membercore.service.engine import Engine
from membercore_adapters.http.problems import ProblemError, problem_responses
from membercore_adapters.http.running import EngineThread
from membercore_adapters.http.settings import runner

__all__ = [
    "QUERY_TOKEN",
    "QueryTokenMask",
    "Webhooks",
    "build_webhook",
    "mask_query_tokens",
    "webhook_routes",
]

log = logging.getLogger("membercore.http")

#: The query parameter a webhook's caller may send its API token in.
QUERY_TOKEN = "token"
#: The logger of uvicorn's access log, which writes each request's path and query.
ACCESS_LOG = "uvicorn.access"


def build_webhook(engine: Engine, name: str, options: Mapping[str, str]) -> Webhook:
    """The webhook an installed plugin registers under ``name``, built with ``options``.

    Raises:
        ConfigError: no installed plugin registers a webhook of that name (naming those
            installed), or the plugin refuses the options (naming the key).
        OSError: a file the options name cannot be read.
    """
    found = engine.plugins.webhooks.get(name)
    if found is None:
        known = ", ".join(sorted(engine.plugins.webhooks)) or "-"
        raise ConfigError("webhooks", f"no webhook is named {name!r} (installed: {known})")
    return found.value(engine, options)


class Webhooks:
    """The webhooks an API instance serves, built when the application starts.

    Args:
        engine: the engine's thread: each webhook is built there, and works there.
        wanted: the webhooks to serve, by name, each with its options.
    """

    def __init__(self, engine: EngineThread, wanted: Mapping[str, Mapping[str, str]]) -> None:
        self._engine = engine
        self._wanted = {name: dict(options) for name, options in wanted.items()}
        self._built: dict[str, Webhook] = {}

    @property
    def names(self) -> tuple[str, ...]:
        """The names served, in order."""
        return tuple(self._wanted)

    async def start(self) -> None:
        """Build every webhook on the engine's thread (after the engine opened).

        uvicorn's access log is masked first (:func:`mask_query_tokens`), whether
        webhooks are served or not: a token sent in a query is never written down.

        Raises:
            ConfigError: a webhook is not installed, or refuses its options.
            OSError: a file its options name cannot be read.
        """
        mask_query_tokens()
        for name, options in self._wanted.items():
            self._built[name] = await self._engine.call(
                functools.partial(build_webhook, name=name, options=options)
            )
            log.info("serving the webhook %s at /webhooks/%s", name, name)

    def get(self, name: str) -> Webhook | None:
        """The webhook served under ``name``, or ``None``."""
        return self._built.get(name)


def _webhooks(request: Request[Any, Any, Any]) -> Webhooks:
    held: Webhooks = request.app.state["webhooks"]
    return held


def _call(request: Request[Any, Any, Any], body: bytes) -> WebhookCall:
    query = {
        name: value
        for name, value in request.query_params.multi_items()
        if name != QUERY_TOKEN  # the API's, not the webhook's
    }
    return WebhookCall(
        method=request.method.upper(),
        path=str(request.path_params.get("rest") or ""),
        query=query,
        headers=dict(request.headers.items()),
        body=body,
    )


async def _received(request: Request[Any, Any, Any], name: str) -> Response[bytes]:
    served = _webhooks(request)
    webhook = served.get(name)
    if webhook is None:
        known = ", ".join(served.names) or "-"
        raise ProblemError(
            404,
            "unknown-webhook",
            f"没有名为 {name!r} 的 webhook（本服务提供：{known}）/ no webhook is named "
            f"{name!r} here (served: {known})",
        )
    call = _call(request, await request.body())
    answer = await webhook.receive(call, runner(request).call)
    return Response(answer.body, status_code=answer.status, media_type=answer.content_type)


@dataclasses.dataclass
class _AnyBody(Operation):
    """An operation whose request body is whatever the webhook's caller sends.

    Litestar documents the body of a handler taking ``data``; a webhook's handler reads
    the raw body itself, whatever its media type, so the operation names it.
    """

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            description="what the provider or the HIS sends, handed to the webhook as it is",
            content={
                "*/*": OpenAPIMediaType(
                    schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
                )
            },
            required=False,
        )


_PATHS = ["/webhooks/{name:str}", "/webhooks/{name:str}/{rest:path}"]
_OPT = {"scope": "ingest", "query_token": True}


def _operation_id(
    route_handler: HTTPRouteHandler,
    http_method: Method,
    path_components: list[str | PathParameterDefinition],
) -> str:
    """``postWebhook`` at a webhook's root, ``postWebhookPath`` below it."""
    method = str(getattr(http_method, "value", http_method)).lower()
    below = any(
        isinstance(part, PathParameterDefinition) and part.name == "rest"
        for part in path_components
    )
    return f"{method}Webhook{'Path' if below else ''}"


def _own(description: str) -> ResponseSpec:
    return ResponseSpec(
        data_container=bytes, generate_examples=False, description=description, media_type="*/*"
    )


def _responses() -> dict[int, ResponseSpec]:
    guarded = problem_responses(403, 404, 413)
    answered = {
        200: _own(
            "the webhook's own answer, with its status and media type, as the caller "
            "expects it (Aliyun's JSON, a FHIR OperationOutcome...)"
        ),
        400: _own("the webhook's own refusal of what it was sent (not a problem document)"),
        # The API reads no webhook's body: any media type reaches the webhook.
        405: _own("the webhook's own refusal of a method it does not take"),
        415: _own("the webhook's own refusal of a media type it does not take"),
        422: _own("the webhook's own refusal of what cannot become facts (kept as dead letters)"),
        500: _own("the webhook's own failure: the caller sends it again (nothing was kept)"),
        503: _own("the store or the source failed: the caller sends it again"),
    }
    shared = {status: guarded[status] for status in (401, 403, 413)}
    unknown = guarded[404]
    unknown.description = (
        "未提供此 webhook / no webhook of that name is served (a problem document); a path "
        "below a webhook's root that it does not serve is its own 404"
    )
    return answered | shared | {404: unknown}


def _description(names: tuple[str, ...]) -> str:
    served = ", ".join(f"`{name}`" for name in names)
    return (
        f"本服务提供的 webhook / The webhooks served here: {served}. A request to "
        "`/webhooks/{name}` or below it is handed to the webhook as it came (method, the "
        "path below its root, query, headers, body), and the webhook's answer is sent "
        "back as it is. The `ingest` scope is needed: a bearer token, or the API token "
        "in the `token` query parameter for a provider that can only be given an address "
        "(the parameter is not handed to the webhook, and never logged)."
    )


def webhook_routes(names: tuple[str, ...]) -> list[ControllerRouterHandler]:
    """The routes of ``/webhooks/{name}`` and below, documented as serving ``names``."""
    common: dict[str, Any] = {
        "opt": _OPT,
        "status_code": 200,
        "description": _description(names),
        "responses": _responses(),
        "tags": ["webhooks"],
        "operation_id": _operation_id,
    }

    @route(
        _PATHS,
        http_method=[HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH],
        summary="Webhook 接收 / A webhook called",
        operation_class=_AnyBody,
        **common,
    )
    async def webhook_sent(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
        """Hand a request with a body to the webhook ``name``."""
        return await _received(request, name)

    @route(
        _PATHS,
        http_method=[HttpMethod.GET, HttpMethod.DELETE],
        summary="Webhook 查询 / A webhook asked",
        **common,
    )
    async def webhook_asked(
        request: Request[Any, Any, Any], name: FromPath[str]
    ) -> Response[bytes]:
        """Hand a request without a body to the webhook ``name``."""
        return await _received(request, name)

    return [webhook_sent, webhook_asked]


# -- the token kept out of the access log ------------------------------------------------

_QUERY = re.compile(r"\?[^\s\"]*")


_SEPARATORS = re.compile(r"([&;])")
#: An API token's secret wherever it stands (``mc_<id>_<random part>``).
_SECRET = re.compile(r"mc_[a-z0-9]{1,64}_[A-Za-z0-9_-]+")


def _masked_pair(pair: str) -> str:
    # The pair as the server may decode it: %74oken is token, token%3D… is token=….
    name, equals, _ = unquote_plus(pair).partition("=")
    if equals and name.strip().lower() == QUERY_TOKEN:
        written, sign, _ = pair.partition("=")
        return f"{written}=***" if sign else f"{QUERY_TOKEN}=***"
    return pair


def _masked_query(query: str) -> str:
    return "".join(_masked_pair(part) for part in _SEPARATORS.split(query))


def _masked(text: str) -> str:
    """``text`` with every ``token`` query parameter's value and API token's secret masked.

    However the query is written: pairs split by ``&`` or ``;``, percent-encoded.
    """
    masked = _QUERY.sub(lambda found: "?" + _masked_query(found.group()[1:]), text)
    return _SECRET.sub("mc_***", masked)


class QueryTokenMask(logging.Filter):
    """Masks the ``token`` query parameter in the paths a log record carries.

    uvicorn's access log writes each request's path with its query
    (``"POST /webhooks/aliyun-smsup?token=mc_… HTTP/1.1" 200``); an API token there would
    be kept wherever the logs go. The record keeps its form, with ``token=***``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record's arguments (and its message); never drop it."""
        if isinstance(record.args, tuple):
            record.args = tuple(_masked(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = _masked(record.msg)
        return True


def mask_query_tokens(logger: str = ACCESS_LOG) -> None:
    """Mask ``token`` query parameters in ``logger``'s records (once, however often called)."""
    held = logging.getLogger(logger)
    if not any(isinstance(each, QueryTokenMask) for each in held.filters):
        held.addFilter(QueryTokenMask())
