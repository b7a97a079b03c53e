"""The staff console: the health management centre's work in a browser (the ``http`` extra).

Served under ``/console/`` by the same application as the HTTP API
(:func:`membercore_adapters.http.app`, ``membercore serve``), over the same engine and the
same staff accounts, in Chinese. Pages are rendered on the server from Jinja2 templates
and sent as plain HTML forms; the browser runs no script of ours. A member of staff signs
in (:mod:`~membercore_adapters.console.signing`), works their queue
(:mod:`~membercore_adapters.console.queue`), opens a member's page
(:mod:`~membercore_adapters.console.members`), completes or claims tasks
(:mod:`~membercore_adapters.console.tasks`) and reads the programme's figures
(:mod:`~membercore_adapters.console.dashboard`). See ``docs/console.md``.

:func:`console` makes the console's router and :func:`templates` the template
configuration the application renders its pages with.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from litestar import Router
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader, ResponseHeader
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from membercore_adapters.console.consent import CONSENT_FORMS
from membercore_adapters.console.dashboard import DASHBOARD, FRESH_FOR, Boards
from membercore_adapters.console.members import MEMBERS
from membercore_adapters.console.pages import CSRF_COOKIE, PATH, console_error
from membercore_adapters.console.queue import QUEUE
from membercore_adapters.console.signing import OPEN, SIGNING, signed_in
from membercore_adapters.console.tasks import TASK_FORMS

__all__ = ["PATH", "console", "templates"]

#: What every page of the console is sent with: never framed by another site's page,
#: nothing but its own style sheet loaded, no script run, no address of it given to
#: another site, and the record it shows kept in no cache.
_HEADERS = [
    ResponseHeader(name="X-Frame-Options", value="DENY"),
    ResponseHeader(
        name="Content-Security-Policy",
        value="default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    ),
    ResponseHeader(name="Referrer-Policy", value="same-origin"),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
]


def _static() -> Router:
    return create_static_files_router(
        path="/static",
        directories=[Path(__file__).parent / "static"],
        name="console-static",
        opt={OPEN: True},
        cache_control=CacheControlHeader(max_age=3600),
    )


def console(*, fresh_for: timedelta = FRESH_FOR) -> Router:
    """The console's pages under ``/console``, for :func:`membercore_adapters.http.app`.

    The pages take no bearer token (the API's guard lets them through): their own guard
    wants the session cookie. Each form carries a token that Litestar's CSRF middleware
    checks against a cookie of its own, signed with a key drawn for this router: a
    restart, which signs everyone out anyway, makes the forms of before it stale, and
    the page refusing one forgets the cookie so that the next page sets a good one.

    Args:
        fresh_for: how long the dashboard's figures are shown before they are taken again.
    """
    boards = Boards(fresh_for)
    protection = CSRFConfig(
        secret=secrets.token_urlsafe(32),
        cookie_name=CSRF_COOKIE,
        cookie_path=PATH,
        cookie_httponly=True,
        cookie_samesite="strict",
    )
    return Router(
        path=PATH,
        route_handlers=[
            *SIGNING,
            *QUEUE,
            *MEMBERS,
            *TASK_FORMS,
            *CONSENT_FORMS,
            *DASHBOARD,
            _static(),
        ],
        guards=[signed_in],
        opt={"public": True},  # no bearer token: the console's guard wants its cookie
        dependencies={"boards": Provide(lambda: boards, sync_to_thread=False)},
        exception_handlers={Exception: console_error},
        middleware=[DefineMiddleware(CSRFMiddleware, config=protection)],
        response_headers=_HEADERS,
        cache_control=CacheControlHeader(no_store=True),
        include_in_schema=False,
    )


def templates() -> TemplateConfig[JinjaTemplateEngine]:
    """The console's templates, shipped in the package, HTML escaped throughout."""
    environment = Environment(
        loader=PackageLoader("membercore_adapters.console"),
        autoescape=select_autoescape(),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))
