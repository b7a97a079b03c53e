"""``membercore serve``: the HTTP API for the hospital's systems, under uvicorn.

The same server answers the staff console under ``/console/`` (docs/console.md). It
needs the ``http`` extra (``pip install 'membercore[http]'``: Litestar, uvicorn, Jinja2);
without it, the command says so and exits 2. The store is checked (and created, as the
worker does) before the server starts, so a wrong URL or programme stops it with its
exit status; the engine is then opened on its own thread inside the server. Callers
are the store's API tokens (``membercore token create``) and its staff accounts, who
sign in (``POST /sessions``); ``--token-file`` adds tokens kept in a file (see
:func:`membercore_adapters.http.auth.load_token_file`), which is warned of when it is
open to others than its owner. ``--cors-origin`` lets the web pages of an origin call
the API. ``--webhook NAME`` serves an installed plugin's webhook at ``/webhooks/NAME``
(:mod:`~membercore_adapters.cli.webhooks`). SIGTERM or SIGINT stops it cleanly:
requests in flight finish, for at most ``--graceful-timeout`` seconds (a client that
sends its request slowly, or never finishes it, does not hold the server up longer);
then the engine closes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from membercore import MembercoreError
from membercore_adapters.cli.arguments import Exit, store_options
from membercore_adapters.cli.failures import Stop, not_installed, stopped, unreadable
from membercore_adapters.cli.logs import configure
from membercore_adapters.cli.opening import engine_on, programme
from membercore_adapters.cli.speech import Words, say, warn
from membercore_adapters.cli.webhooks import served_webhooks, webhook_options

__all__ = ["commands"]

log = logging.getLogger("membercore.http")

_NO_EXTRA = Words(
    "membercore serve 需要 http 扩展（缺少 {missing}）：pip install 'membercore[http]'",
    "membercore serve needs the http extra ({missing} is missing): pip install 'membercore[http]'",
)
_TOKENS = Words("--token-file {path}：{why}", "--token-file {path}: {why}")
_EXPOSED = Words(
    "令牌文件 {path} 对同组或其他用户开放（权限 {mode}）：请执行 chmod 600 {path}",
    "the token file {path} is open to its group or others (mode {mode}): chmod 600 {path}",
)


def commands() -> list[click.Command]:
    """``serve``."""
    return [_command()]


def _command() -> click.Command:
    @click.command(
        "serve",
        help=say(
            Words(
                "提供 HTTP 接口（需安装 http 扩展），供 HIS、小程序与 CRM 调用，直到收到 SIGTERM",
                "serve the HTTP API (the http extra) to the HIS, the mini-program and the "
                "CRM until SIGTERM",
            )
        ),
    )
    @click.option(
        "--host",
        default="127.0.0.1",
        show_default=True,
        help=say(Words("绑定的地址", "the address to bind to")),
    )
    @click.option(
        "--port",
        type=click.IntRange(1, 65535),
        default=8000,
        show_default=True,
        help=say(Words("端口", "the port")),
    )
    @click.option(
        "--token-file",
        type=click.Path(path_type=Path, dir_okay=False),
        help=say(
            Words(
                "另加的令牌文件（JSON 列表：token、kind、id、scopes、role）；存储中的 API "
                "令牌与员工账号始终有效",
                "a file of further tokens (a JSON list: token, kind, id, scopes, role); the "
                "store's API tokens and staff accounts are always used",
            )
        ),
    )
    @click.option(
        "--cors-origin",
        "cors_origins",
        multiple=True,
        metavar="URL",
        help=say(
            Words(
                "允许其网页调用接口的来源（CORS），如 https://crm.example.cn；可重复；默认不允许",
                "an origin whose web pages may call the API (CORS), as "
                "https://crm.example.cn; may be repeated; none by default",
            )
        ),
    )
    @click.option(
        "--graceful-timeout",
        type=click.IntRange(min=1),
        default=30,
        show_default=True,
        help=say(
            Words(
                "收到 SIGTERM 后等待进行中请求完成的最长秒数，逾时即中断",
                "seconds requests in flight may take to finish after SIGTERM before they "
                "are cut off",
            )
        ),
    )
    @click.option(
        "--keep-alive-timeout",
        type=click.IntRange(min=1),
        default=5,
        show_default=True,
        help=say(
            Words(
                "空闲的持久连接保留的秒数（放在负载均衡之后时，应长于其空闲超时）",
                "seconds an idle keep-alive connection is kept open (behind a load "
                "balancer, longer than its idle timeout)",
            )
        ),
    )
    @click.option(
        "--log-json",
        is_flag=True,
        help=say(Words("日志写为 JSON 行", "write the logs as JSON lines")),
    )
    @webhook_options
    @store_options
    def serve(
        store: str,
        config: Path | None,
        host: str,
        port: int,
        token_file: Path | None,
        cors_origins: tuple[str, ...],
        graceful_timeout: int,
        keep_alive_timeout: int,
        log_json: bool,
        webhooks: tuple[str, ...],
        mapping: Path | None,
    ) -> int:
        missing = not_installed("litestar", "uvicorn", "jinja2")
        if missing:
            raise Stop(say(_NO_EXTRA, missing=", ".join(missing)), Exit.USAGE)
        import uvicorn  # noqa: PLC0415 - only with the http extra

        from membercore_adapters.http import app  # noqa: PLC0415 - only with the http extra
        from membercore_adapters.http.auth import StaticTokens, load_token_file  # noqa: PLC0415
        from membercore_adapters.http.cross_origin import origin  # noqa: PLC0415

        try:
            origins = [origin(text) for text in cors_origins]
        except ValueError as error:
            raise Stop(f"--cors-origin: {error}", Exit.USAGE) from error

        chosen = programme(config)
        tokens: StaticTokens | None = None
        if token_file is not None:
            try:
                _warn_if_exposed(token_file)
                tokens = load_token_file(token_file)
            except OSError as error:
                raise unreadable(error) from error
            except MembercoreError as error:
                raise Stop(say(_TOKENS, path=token_file, why=error), Exit.USAGE) from error
        with engine_on(store, config, use="write") as engine:
            # The store is there (created if it was not), of this release's schema, and
            # the webhooks asked for are installed and take their options.
            wanted = served_webhooks(engine, webhooks, mapping)
        configure(json_lines=log_json)
        log.info("serving %s on http://%s:%d", store, host, port)
        settings = uvicorn.Config(
            app(store, authenticator=tokens, config=chosen, cors_origins=origins, webhooks=wanted),
            host=host,
            port=port,
            log_config=None,
            lifespan="on",
            server_header=False,
            timeout_keep_alive=keep_alive_timeout,
            timeout_graceful_shutdown=graceful_timeout,
        )
        try:
            _served(uvicorn.Server, settings)
        except MembercoreError as error:
            raise stopped(error, store=store) from error
        return Exit.DONE

    return serve


def _warn_if_exposed(path: Path) -> None:
    """Warn when a token file is open to its group or others (on POSIX systems).

    Raises:
        OSError: the file's mode cannot be read (it is missing).
    """
    mode = path.stat().st_mode
    if os.name == "posix" and mode & 0o077:
        warn(_EXPOSED, path=path, mode=f"{mode & 0o777:o}")


def _served(server: type[Any], settings: Any) -> None:
    """Serve until SIGTERM or SIGINT, then return (exit status 0), as the worker does.

    uvicorn raises a signal it caught again once it has stopped, so that the process
    ends by the signal; ``membercore serve`` ends as every command does, with its status.

    Raises:
        SystemExit: the application did not start (status 3): the engine could not open.
    """

    class Served(server):  # type: ignore[misc] # uvicorn.Server, imported late
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            caught = (signal.SIGINT, signal.SIGTERM)
            before = {sign: signal.signal(sign, self.handle_exit) for sign in caught}
            try:
                yield
            finally:
                for sign, handler in before.items():
                    signal.signal(sign, handler)

    held = Served(settings)
    held.run()
    if not held.started:
        raise SystemExit(Exit.STORE)
