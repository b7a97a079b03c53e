"""The OpenAPI document: what Litestar generates from the handlers, completed.

Litestar documents what it decodes and answers. Facts and commands are decoded by the
engine, not by Litestar (a malformed fact is kept as a dead letter with its reason, never
turned away before the engine sees it), so ``POST /facts`` and ``POST /commands`` take
plain JSON; :func:`complete` describes their bodies as the engine reads them, each fact
type and each command type a schema of its own (:mod:`~membercore_adapters.http.schemas`),
told apart by the ``type`` tag. It also names the headers problems carry
(``WWW-Authenticate`` on a 401, ``Retry-After`` on a 503) and the 415 of an endpoint
that takes a body, and leaves a 204 without content. :func:`operation_id` gives each
operation a stable, readable id, and :func:`documentation_router` leaves Litestar's
documentation pages unserved: the document is served at ``GET /openapi.json`` only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from litestar import Router
from litestar.enums import ParamType
from litestar.handlers.http_handlers import HTTPRouteHandler
from litestar.openapi.spec import (
    Example,
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    PathItem,
    Reference,
    RequestBody,
    Schema,
)
from litestar.routes import BaseRoute
from litestar.types import ControllerRouterHandler, Method
from litestar.types.internal_types import PathParameterDefinition

from membercore_adapters.http.admission import ACTOR_FIELDS, MOST_PURPOSE, PURPOSE_HEADER
from membercore_adapters.http.problems import MEDIA_TYPE, problem_example, title_of
from membercore_adapters.http.schemas import (
    COMPONENTS,
    command_types,
    fact_types,
    message_schemas,
)

__all__ = ["complete", "documentation_router", "operation_id"]

#: Readable ids of the operations, by method and path.
_OPERATIONS: Mapping[tuple[str, str], str] = {
    ("POST", "/sessions"): "signIn",
    ("DELETE", "/sessions/current"): "signOut",
    ("POST", "/facts"): "postFacts",
    ("POST", "/commands"): "postCommand",
    ("GET", "/members/{member_id}"): "getMember",
    ("GET", "/members/{member_id}/points"): "getMemberPoints",
    ("GET", "/members/{member_id}/lots"): "getMemberLots",
    ("GET", "/members/{member_id}/tier"): "getMemberTier",
    ("GET", "/members/{member_id}/entitlements"): "getMemberEntitlements",
    ("POST", "/members/{member_id}/quote"): "quoteBill",
    ("GET", "/members/{member_id}/plans"): "getMemberPlans",
    ("GET", "/members/{member_id}/journeys"): "getMemberJourneys",
    ("GET", "/members/{member_id}/tags"): "getMemberTags",
    ("GET", "/members/{member_id}/consent"): "getMemberConsent",
    ("GET", "/members/{member_id}/messages"): "getMemberMessages",
    ("GET", "/tasks"): "listTasks",
    ("POST", "/tasks/{task_id}/claim"): "claimTask",
    ("POST", "/tasks/{task_id}/complete"): "completeTask",
}


def operation_id(
    route_handler: HTTPRouteHandler,
    http_method: Method,
    path_components: list[str | PathParameterDefinition],
) -> str:
    """The ``operationId`` of an operation: the one the table names, else its method and path.

    Clients generated from the document name their functions by it, so it does not
    change when a handler is renamed: ``getMemberPoints`` for ``GET
    /members/{member_id}/points``. An operation the table does not name is its method
    and the words of its path: ``getReportsDaily`` for ``GET /reports/daily``.
    """
    method = str(getattr(http_method, "value", http_method)).upper()
    words = [part if isinstance(part, str) else "{" + part.name + "}" for part in path_components]
    path = "/" + "/".join(word for word in words if word)
    named = _OPERATIONS.get((method, path))
    if named is not None:
        return named
    literal = [word for word in words if word and not word.startswith("{")]
    titled = (re.sub(r"[^0-9A-Za-z]+", " ", word).title().replace(" ", "") for word in literal)
    return method.lower() + "".join(titled)


class _Unserved(Router):
    """A router that takes no route."""

    def register(self, value: ControllerRouterHandler) -> list[BaseRoute]:
        return []


def documentation_router() -> Router:
    """The router Litestar puts its documentation pages on (``/schema``...), left empty.

    The document is served at ``GET /openapi.json`` only; ``/schema`` and what lies
    under it are unknown paths like any other (404 problems).
    """
    return _Unserved(path="/schema", route_handlers=[])


#: Why a command's ``key`` may be left out.
#: The purpose a member of staff gives to act on a member not in their care.
_PURPOSE = Parameter(
    name=PURPOSE_HEADER,
    param_in=ParamType.HEADER,
    required=False,
    schema=Schema(type=OpenAPIType.STRING, max_length=MOST_PURPOSE),
    description="why a member of staff acts on a member not in their care (UTF-8, raw or "
    "percent-encoded); recorded with the look-up",
)
#: The API token a provider that can only be given an address sends in it.
_QUERY_TOKEN = Parameter(
    name="token",
    param_in=ParamType.QUERY,
    required=False,
    schema=Schema(type=OpenAPIType.STRING),
    description="an API token with the `ingest` scope, for a provider that can only be given "
    "an address (Aliyun's console); not handed to the webhook, and masked in the access log",
)
_KEY_BY_HEADER = "Required unless the `Idempotency-Key` header gives it."
_ACTOR_BY_SESSION = (
    "Who carries the command out. A member of staff may leave it out: it is their staff "
    "id (naming another is refused). A hospital system names whom it acts for."
)


def complete(document: OpenAPI, *, max_batch: int) -> None:
    """Complete the document Litestar generated, in place.

    Args:
        document: the application's document.
        max_batch: the most facts one ``POST /facts`` takes.

    Raises:
        ValueError: a message schema's name is taken by another component, or the
            document lacks ``POST /facts`` or ``POST /commands``.
    """
    facts = message_schemas(fact_types())
    commands = message_schemas(
        command_types(),
        optional={"key": _KEY_BY_HEADER} | dict.fromkeys(ACTOR_FIELDS, _ACTOR_BY_SESSION),
    )
    added = {**facts.components, **commands.components, "Fact": facts.union}
    added["Command"] = commands.union
    held = document.components.schemas
    for name, schema in sorted(added.items()):
        if held.get(name, schema) != schema:
            raise ValueError(f"the component {name!r} is taken by another schema")
        held[name] = schema
    fact = Reference(ref=COMPONENTS + "Fact")
    _body(
        document,
        "/facts",
        Schema(one_of=[fact, Schema(type=OpenAPIType.ARRAY, items=fact, max_items=max_batch)]),
        "One fact, or a batch of them (a JSON list), as `message_to_dict` writes them, in "
        "UTF-8 JSON. Each is read by the engine: one that does not fit its type is "
        "refused with the reason, and kept as a dead letter.",
    )
    _body(
        document,
        "/commands",
        Reference(ref=COMPONENTS + "Command"),
        "One command of the engine, as `message_to_dict` writes it, in UTF-8 JSON.",
    )
    for operation in _operations(document):
        _answers(operation)
    for path, item in (document.paths or {}).items():
        if path.startswith("/webhooks/"):
            for operation in _operations_of(item):
                operation.parameters = [*(operation.parameters or []), _QUERY_TOKEN]
    commanding = (document.paths or {}).get("/commands")
    if commanding is not None and commanding.post is not None:
        commanding.post.parameters = [*(commanding.post.parameters or []), _PURPOSE]
    signing_in = (document.paths or {}).get("/sessions")
    if signing_in is not None and signing_in.post is not None:
        signing_in.post.security = [{}]  # the one operation that needs no token


def _body(document: OpenAPI, path: str, schema: Schema | Reference, description: str) -> None:
    item = (document.paths or {}).get(path)
    operation = item.post if item is not None else None
    if operation is None:
        raise ValueError(f"the document has no POST {path}")
    operation.request_body = RequestBody(
        content={"application/json": OpenAPIMediaType(schema=schema)},
        description=description,
        required=True,
    )


def _operations(document: OpenAPI) -> list[Operation]:
    return [found for item in (document.paths or {}).values() for found in _operations_of(item)]


def _operations_of(item: PathItem) -> list[Operation]:
    methods = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
    held = (getattr(item, method, None) for method in methods)
    return [operation for operation in held if isinstance(operation, Operation)]


#: The headers problems carry, by status: name, what it says, whether always.
_HEADERS: Mapping[str, tuple[str, str, bool]] = {
    "401": ("WWW-Authenticate", 'How to authenticate: `Bearer realm="membercore"`.', True),
    "429": ("Retry-After", "The seconds to wait before trying again.", True),
    "503": ("Retry-After", "The seconds to wait before sending the request again.", False),
}


def _answers(operation: Operation) -> None:
    """The 415 of an operation that takes a body, the headers of its problems, no 204 body."""
    responses = operation.responses if operation.responses is not None else {}
    empty = responses.get("204")
    if isinstance(empty, OpenAPIResponse):
        empty.content = None  # Litestar describes a handler's None as a JSON null; 204 has no body
    if operation.request_body is not None and "415" not in responses:
        example = Example(summary=title_of(415), value=problem_example(415))
        responses["415"] = OpenAPIResponse(
            description=title_of(415),
            content={
                MEDIA_TYPE: OpenAPIMediaType(
                    schema=Reference(ref=COMPONENTS + "Problem"),
                    examples={"unsupported-media-type": example},
                )
            },
        )
    for status, (name, description, always) in _HEADERS.items():
        answer = responses.get(status)
        if isinstance(answer, OpenAPIResponse):
            answer.headers = {
                **(answer.headers or {}),
                name: OpenAPIHeader(
                    schema=Schema(type=OpenAPIType.STRING), description=description, required=always
                ),
            }
    operation.responses = dict(sorted(responses.items()))
