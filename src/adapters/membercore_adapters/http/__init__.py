"""The HTTP API of membercore, for the hospital's systems (the ``http`` extra).

:func:`app` builds the ASGI application (Litestar) over one engine per process: the HIS
sends facts, the member mini-program and the CRM read members and carry out commands,
the staff work their tasks, and the staff console (:mod:`membercore_adapters.console`)
serves their pages under ``/console/``. Every endpoint but ``GET /openapi.json`` and
signing in needs a bearer token holding the endpoint's scope: one of the store's API
tokens, a staff member's session, or one an :class:`~membercore_adapters.http.auth.Authenticator`
given to :func:`app` knows. The installed plugins' webhooks it is given are served at
``/webhooks/<name>`` (:mod:`~membercore_adapters.http.webhooks`). ``membercore serve``
runs it under uvicorn. See ``docs/http.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from litestar import Litestar, Request, get
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from membercore import reference_config
from membercore.config import ProgrammeConfig
from membercore.service.engine import Engine
from membercore_adapters.http.accounts import ACCOUNTS, StoredAccounts
from membercore_adapters.http.auth import AnyOf, Authenticator, Principal, StaticTokens
from membercore_adapters.http.bodies import json_bodies
from membercore_adapters.http.cross_origin import cors
from membercore_adapters.http.document import complete, documentation_router, operation_id
from membercore_adapters.http.inputs import post_command, post_facts
from membercore_adapters.http.members import VIEWS
from membercore_adapters.http.problems import to_problem
from membercore_adapters.http.running import EngineThread
from membercore_adapters.http.sessions import Sessions
from membercore_adapters.http.settings import HttpLimits, authenticate
from membercore_adapters.http.tasks import TASKS
from membercore_adapters.http.webhooks import Webhooks, webhook_routes
from membercore_adapters.stores.sql import without_migrating

__all__ = [
    "Authenticator",
    "EngineThread",
    "HttpLimits",
    "Principal",
    "Sessions",
    "StaticTokens",
    "StoredAccounts",
    "Webhooks",
    "app",
    "engine_thread",
]


def _version() -> str:
    try:
        return version("membercore")
    except PackageNotFoundError:  # run from a source tree
        return "0"


@get("/openapi.json", opt={"public": True}, include_in_schema=False, sync_to_thread=False)
def openapi_document(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The OpenAPI document of the API (no authentication needed)."""
    return request.app.openapi_schema.to_schema()


def engine_thread(api: Litestar) -> EngineThread:
    """The thread that holds the engine of an application :func:`app` built.

    Its :meth:`~EngineThread.call_blocking` runs work on the engine beside the server
    (a test ticking the programme between requests).
    """
    held: EngineThread = api.state["engine"]
    return held


def _opener(store: str, config: ProgrammeConfig | None) -> Callable[[], Engine]:
    def open_engine() -> Engine:
        with without_migrating():  # a store of an earlier release: `membercore migrate` first
            return Engine.open(store, config=config or reference_config())

    return open_engine


def app(
    engine: str | Callable[[], Engine],
    *,
    authenticator: Authenticator | None = None,
    config: ProgrammeConfig | None = None,
    limits: HttpLimits | None = None,
    sessions: Sessions | None = None,
    cors_origins: Iterable[str] = (),
    webhooks: Mapping[str, Mapping[str, str]] | None = None,
) -> Litestar:
    """The HTTP API over one engine.

    The engine is opened when the application starts (its ASGI lifespan), on a thread of
    its own that every call to it goes through, and closed when it stops.

    Args:
        engine: the store's URL (``sqlite:///membercore.db``), opened with ``config``
            (the reference programme by default) and the system clock; or a function
            that opens the engine (a test's, with its own clock).
        authenticator: tells who sends each request, asked before the store's API
            tokens and staff sessions (:class:`StoredAccounts`), which are always asked.
        config: the programme, when ``engine`` is a URL.
        limits: how much one request may send.
        sessions: the staff's sessions (a test's, with its own clock); new ones by
            default.
        cors_origins: the origins whose web pages may call the API (CORS), as
            ``https://crm.example.cn``; none by default.
        webhooks: the installed webhooks to serve at ``/webhooks/<name>``, each with its
            options (``{"fhir": {"mapping": "fhir.toml"}}``), built on the engine's
            thread when the application starts (:mod:`~membercore_adapters.http.webhooks`).

    Returns:
        The ASGI application.

    Raises:
        ValueError: one of ``cors_origins`` is not an origin.
    """
    # The console builds on this package's modules: imported once they are all loaded.
    from membercore_adapters.console import console, templates  # noqa: PLC0415

    factory = _opener(engine, config) if isinstance(engine, str) else engine
    thread = EngineThread(factory)
    held = limits or HttpLimits()
    signed_in = Sessions() if sessions is None else sessions
    stored = StoredAccounts(thread, signed_in)
    callers = stored if authenticator is None else AnyOf([authenticator, stored])
    served = Webhooks(thread, webhooks or {})
    api = Litestar(
        route_handlers=[
            openapi_document,
            *ACCOUNTS,
            post_facts,
            post_command,
            *VIEWS,
            *TASKS,
            *(webhook_routes(served.names) if served.names else ()),
            console(),
        ],
        guards=[authenticate, json_bodies],
        cors_config=cors(cors_origins),
        state=State(
            {
                "engine": thread,
                "limits": held,
                "authenticator": callers,
                "sessions": signed_in,
                "webhooks": served,
            }
        ),
        on_startup=[thread.start, served.start],
        on_shutdown=[thread.stop],
        exception_handlers={Exception: to_problem},
        request_max_body_size=held.max_body_bytes,
        logging_config=None,  # the application embedding the API configures logging
        template_config=templates(),
        openapi_config=OpenAPIConfig(
            title="membercore",
            version=_version(),
            description=(
                "会员制 HTTP 接口 / The membership programme's HTTP API: facts in, commands, "
                "members' views, staff tasks. Errors are application/problem+json (RFC 9457)."
            ),
            openapi_router=documentation_router(),
            render_plugins=[JsonRenderPlugin()],
            operation_id_creator=operation_id,
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(
                        type="http", scheme="bearer", description="Authorization: Bearer <token>"
                    )
                }
            ),
            security=[{"bearer": []}],
        ),
    )
    complete(api.openapi_schema, max_batch=held.max_batch)
    return api
