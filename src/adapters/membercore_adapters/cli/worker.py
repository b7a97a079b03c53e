"""``membercore worker``: one long-running process that listens, polls, ticks and dispatches.

It runs the listeners named by ``--listen`` (each an installed plugin's: ``hl7v2`` from
membercore-hl7v2), reads the files named by ``--poll SOURCE:FILE`` every
``--poll-every`` seconds from the position it last committed (a file the HIS appends
to, read once), ticks the store every ``--tick-every`` seconds and hands the outbox to
the channels every ``--dispatch-every`` seconds, all on one event loop, the engine on
its thread. The channels are those the programme's ``[channels]`` tables configure (the
console's when it configures none); every ``--reports-every`` seconds it reads back
what their providers reported and members replied, and every ``--retain-every`` seconds
(hourly) it lets go of the details past the programme's retention periods. SIGTERM or
SIGINT stops it cleanly: the unit of work in flight commits or rolls back, what was
committed is acknowledged, and nothing else is; it exits 0. It logs what it does with
the standard ``logging`` module (counts and ids, never a patient's details).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import socket
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import attrs
import click

from membercore.errors import ConfigError, MembercoreError
from membercore.ports import Channel, Listening
from membercore.service.engine import Engine
from membercore_adapters.cli.arguments import (
    ENCODING,
    Exit,
    UsageError,
    reading_options,
    store_options,
)
from membercore_adapters.cli.failures import misconfigured, stopped, unreadable
from membercore_adapters.cli.logs import configure
from membercore_adapters.cli.opening import channels_of, check_inputs, engine_on, programme
from membercore_adapters.cli.speech import Words, say

__all__ = ["WorkerSettings", "commands", "run_worker"]

log = logging.getLogger("membercore.worker")


@attrs.frozen(kw_only=True)
class WorkerSettings:
    """What the worker runs and how often (the options of ``membercore worker``).

    Attributes:
        listen: the installed listeners to run, by name.
        poll: ``SOURCE:FILE`` files an installed source reads.
        poll_every: seconds between polls of the files.
        host: the address listeners bind to.
        port: the port they listen on.
        share_port: bind the port so that other workers may listen on it too (the
            system spreads the connections between them): one worker per processor.
        mapping: the listeners' and sources' mapping of the hospital's codes.
        encoding: the messages' character encoding.
        tick_every: seconds between ticks (0: never).
        dispatch_every: seconds between hand-overs of the outbox (0: never).
        reports_every: seconds between readings of delivery reports and replies (0: never).
        retain_every: seconds between passes letting go of details past their retention
            (0: never).
        log_json: write the logs as JSON lines.
    """

    listen: tuple[str, ...] = ()
    poll: tuple[str, ...] = ()
    poll_every: float = 10.0
    host: str = "127.0.0.1"
    port: int = 2575
    share_port: bool = False
    mapping: Path | None = None
    encoding: str | None = None
    tick_every: float = 60.0
    dispatch_every: float = 30.0
    reports_every: float = 60.0
    retain_every: float = 3600.0
    log_json: bool = False


def commands() -> list[click.Command]:
    """``worker``."""
    return [_command()]


def _command() -> click.Command:
    seconds = click.FloatRange(min=0)

    @click.command(
        "worker",
        help=say(
            Words(
                "常驻进程：监听 HIS（--listen）或轮询其文件（--poll），定时处理到期工作并发送消息，"
                "直到收到 SIGTERM",
                "listen for the HIS (--listen) or poll its files (--poll), tick and "
                "dispatch until SIGTERM",
            )
        ),
    )
    @click.option(
        "--listen",
        multiple=True,
        help=say(
            Words(
                "要运行的已安装监听器（安装 membercore-hl7v2 后可用 hl7v2）；可重复",
                "an installed listener to run (hl7v2 with membercore-hl7v2); may be repeated",
            )
        ),
    )
    @click.option(
        "--poll",
        multiple=True,
        metavar="SOURCE:FILE",
        help=say(
            Words(
                "已安装数据源读取的文件（hl7v2:/data/adt.hl7），从上次停下处继续读；可重复",
                "a file an installed source reads (hl7v2:/data/adt.hl7), read from where "
                "the last read stopped; may be repeated",
            )
        ),
    )
    @click.option(
        "--poll-every",
        type=seconds,
        default=10.0,
        show_default=True,
        help=say(Words("两次轮询文件之间的秒数", "seconds between polls of the files")),
    )
    @click.option(
        "--host",
        default="127.0.0.1",
        show_default=True,
        help=say(Words("监听器绑定的地址", "the address listeners bind to")),
    )
    @click.option(
        "--port",
        type=click.IntRange(0, 65535),
        default=2575,
        show_default=True,
        help=say(Words("监听器的端口", "the port they listen on")),
    )
    @click.option(
        "--share-port",
        is_flag=True,
        help=say(
            Words(
                "与同样带此选项的其他 worker 共用端口（SO_REUSEPORT，由系统分配连接）："
                "每个处理器一个 worker",
                "share the port with other workers started so (SO_REUSEPORT: the system "
                "spreads the connections between them): one worker per processor",
            )
        ),
    )
    @click.option(
        "--mapping",
        type=click.Path(path_type=Path, dir_okay=False),
        help=say(Words("监听器对医院编码的映射文件", "the listeners' mapping of the codes")),
    )
    @click.option(
        "--encoding",
        type=ENCODING,
        help=say(Words("消息的字符编码（utf-8）", "the messages' character encoding (utf-8)")),
    )
    @click.option(
        "--tick-every",
        type=seconds,
        default=60.0,
        show_default=True,
        help=say(
            Words("两次处理到期工作之间的秒数（0：从不）", "seconds between ticks (0: never)")
        ),
    )
    @click.option(
        "--dispatch-every",
        type=seconds,
        default=30.0,
        show_default=True,
        help=say(
            Words(
                "两次把待发消息交给渠道之间的秒数（0：从不）",
                "seconds between hand-overs of the outbox to the channels (0: never)",
            )
        ),
    )
    @click.option(
        "--reports-every",
        type=seconds,
        default=60.0,
        show_default=True,
        help=say(
            Words(
                "两次读取服务商送达回执和会员回复之间的秒数（0：从不）",
                "seconds between readings of the providers' delivery reports and "
                "members' replies (0: never)",
            )
        ),
    )
    @click.option(
        "--retain-every",
        type=seconds,
        default=3600.0,
        show_default=True,
        help=say(
            Words(
                "两次删除超过保留期限的细节（[retention]）之间的秒数（0：从不）",
                "seconds between passes letting go of details past their retention "
                "([retention]; 0: never)",
            )
        ),
    )
    @click.option(
        "--log-json",
        is_flag=True,
        help=say(
            Words(
                "日志写为 JSON 行（time、level、logger、message），供日志采集",
                "write the logs as JSON lines (time, level, logger, message) for a log shipper",
            )
        ),
    )
    @store_options
    def worker(
        store: str,
        config: Path | None,
        listen: tuple[str, ...],
        poll: tuple[str, ...],
        poll_every: float,
        host: str,
        port: int,
        share_port: bool,
        mapping: Path | None,
        encoding: str | None,
        tick_every: float,
        dispatch_every: float,
        reports_every: float,
        retain_every: float,
        log_json: bool,
    ) -> int:
        settings = WorkerSettings(
            listen=listen,
            poll=poll,
            poll_every=poll_every,
            host=host,
            port=port,
            share_port=share_port,
            mapping=mapping,
            encoding=encoding,
            tick_every=tick_every,
            dispatch_every=dispatch_every,
            reports_every=reports_every,
            retain_every=retain_every,
            log_json=log_json,
        )
        configure(json_lines=log_json)  # the store's opening is logged too
        # Before the store is opened (and perhaps created): what it will listen on and
        # read, and where.
        _check_settings(config, settings)
        if listen:
            _check_address(settings)
        with engine_on(store, config, use="write") as engine:
            return run_worker(engine, settings)

    return worker


def run_worker(engine: Engine, settings: WorkerSettings) -> int:
    """Run until SIGTERM or SIGINT; 0 when it stopped cleanly."""
    configure(json_lines=settings.log_json)
    channels = channels_of(engine, None)
    listeners = [_listener(engine, name, settings) for name in settings.listen]
    polled = [_polled(engine, named, settings) for named in settings.poll]
    asyncio.run(_work(engine, channels, listeners, polled, settings))
    return Exit.DONE


_NO_LISTENER = Words(
    "没有名为 {name!r} 的监听器（已安装：{known}）",
    "no listener is named {name!r} (installed: {known})",
)


def _listener(engine: Engine, name: str, settings: WorkerSettings) -> Listening:
    found = engine.plugins.listeners.get(name)
    if found is None:
        known = ", ".join(sorted(engine.plugins.listeners)) or "-"
        raise UsageError(say(_NO_LISTENER, name=name, known=known))
    options = reading_options(
        settings.mapping, settings.encoding, host=settings.host, port=str(settings.port)
    )
    if settings.share_port:
        options["shared"] = "true"
    return found.value(engine, options)


_POLL = Words(
    "--poll {polled!r}：应为 数据源:文件，数据源须已安装（{known}）",
    "--poll {polled!r}: SOURCE:FILE with an installed source ({known})",
)


def _polled(engine: Engine, polled: str, settings: WorkerSettings) -> tuple[str, dict[str, str]]:
    """A ``--poll SOURCE:FILE``: the name its position is kept under, and its options.

    The source is built once here, so that a wrong name or mapping stops the worker
    before it starts.

    Raises:
        UsageError: no installed source has that name.
        ConfigError: the mapping is invalid, naming the key.
        OSError: the mapping cannot be read.
    """
    name, _, path = polled.partition(":")
    found = engine.plugins.sources.get(name)
    if found is None or not path:
        known = ", ".join(sorted(engine.plugins.sources)) or "-"
        raise UsageError(say(_POLL, polled=polled, known=known))
    options = reading_options(settings.mapping, settings.encoding, path=path, growing="true")
    found.value(options)
    return f"{name}:{Path(path).resolve()}", options


def _poll(engine: Engine, source: str, options: dict[str, str]) -> None:
    """Read what was added to one polled file since the position last committed."""
    name = source.partition(":")[0]
    position = engine.position(source)
    reading = {**options, "after": position} if position is not None else options
    try:
        # The engine logs what each batch did, under the source's name.
        engine.ingest(engine.plugins.sources[name].value(reading).read(), source=source)
    except OSError as error:
        log.warning("cannot read %s: %s", error.filename or options["path"], error.strerror)


def _read_reports(engine: Engine, channels: Mapping[str, Channel]) -> None:
    """What the providers said of the messages they took, and members' replies.

    The engine logs what it read; a store that failed is read again next time.
    """
    try:
        engine.read_reports(channels)
    except MembercoreError as error:
        log.warning("reports not read: %s", error)


def _retain(engine: Engine) -> None:
    try:
        engine.retain()  # the engine logs what it let go of
    except MembercoreError as error:
        log.warning("retention not applied: %s", error)


_PORT_TAKEN = Words(
    "端口 {host}:{port} 已被占用（另一程序或另一 worker）；"
    "多个 worker 共用一个端口时，每个（包括这一个）都须带 --share-port 启动",
    "the port {host}:{port} is taken (by another program or another worker); workers "
    "share a port only when every one of them, this one too, is started with --share-port",
)


_HOST_UNKNOWN = Words(
    "--host {host!r}：无法解析为地址（{why}）",
    "--host {host!r}: not an address this machine can resolve ({why})",
)

_HOST_ELSEWHERE = Words(
    "--host {host}：不是本机的地址；用本机某个网卡的地址，或 0.0.0.0（所有网卡）",
    "--host {host}: not an address of this machine; give one of its interfaces' "
    "addresses, or 0.0.0.0 (every interface)",
)

_PORT_PRIVILEGED = Words(
    "--port {port}：低于 1024 的端口须有特权才能监听；用 1024 以上的端口（HL7 常用 2575）",
    "--port {port}: a port below 1024 needs privileges to listen on; use one above "
    "1024 (HL7 commonly 2575)",
)


def _check_settings(config: Path | None, settings: WorkerSettings) -> None:
    """Make the listeners and the polled sources once, on a scratch engine, and let them go.

    A listener or a source not installed, a mapping that is missing or invalid, stop the
    worker as they would once started, but before its store is opened: a worker that
    never started leaves no new, empty store behind. A setting a listener, a source or a
    channel refuses — an invalid mapping, one not given — is the set-up's (exit 3,
    naming the file, if any, and the key).

    Raises:
        Stop: what was wrong.
    """
    if settings.mapping is not None:
        check_inputs((settings.mapping,))
    chosen = programme(config)
    try:
        with Engine.open("memory://", config=chosen) as scratch:
            channels_of(scratch, config)
            for name in settings.listen:
                _listener(scratch, name, settings)
            for polled in settings.poll:
                _polled(scratch, polled, settings)
    except ConfigError as error:
        # Nothing is read yet: a setting refused is the set-up's (3), whichever file
        # (the mapping, the programme, or none: the reference) it came from.
        raise misconfigured(error, settings.mapping or config) from error
    except MembercoreError as error:
        raise stopped(error) from error
    except OSError as error:
        raise unreadable(error) from error


def _check_address(settings: WorkerSettings) -> None:
    """Listen on the listeners' address for a moment, as they will, then let it go.

    An address the worker could not listen on is refused before the store is opened:
    a store the worker would create (a new SQLite file) is not left behind by a worker
    that never started. Another program may still take the port before the listeners
    do: :func:`_start` refuses it then.

    Raises:
        UsageError: as :func:`_start`.
    """

    async def bind() -> None:
        server = await asyncio.get_running_loop().create_server(
            asyncio.Protocol, settings.host, settings.port, reuse_port=settings.share_port or None
        )
        server.close()
        await server.wait_closed()

    with _refused(settings):
        asyncio.run(bind())


async def _start(listener: Listening, settings: WorkerSettings) -> None:
    """Start listening; an address or port that cannot be listened on is the caller's to fix.

    Raises:
        UsageError: the port is taken, the host cannot be resolved or is not this
            machine's, or the port needs privileges the worker does not have.
    """
    with _refused(settings):
        await listener.start()


@contextlib.contextmanager
def _refused(settings: WorkerSettings) -> Iterator[None]:
    """An address or port that cannot be listened on, said as the worker's usage mistake."""
    host, port = settings.host, settings.port
    try:
        yield
    except socket.gaierror as error:
        raise UsageError(say(_HOST_UNKNOWN, host=host, why=error.strerror)) from error
    except OSError as error:
        refusals = {
            errno.EADDRINUSE: _PORT_TAKEN,
            errno.EADDRNOTAVAIL: _HOST_ELSEWHERE,
            errno.EACCES: _PORT_PRIVILEGED,
        }
        refusal = refusals.get(error.errno or 0)
        if refusal is None:
            raise
        raise UsageError(say(refusal, host=host, port=port)) from error


async def _work(
    engine: Engine,
    channels: Mapping[str, Channel],
    listeners: list[Listening],
    polled: list[tuple[str, dict[str, str]]],
    settings: WorkerSettings,
) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sign in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sign, stopping.set)
    for listener in listeners:
        await _start(listener, settings)
    log.info("worker started on %s, channels %s", engine.store.url, ", ".join(channels))
    due = {"poll": 0.0, "tick": 0.0, "dispatch": 0.0, "reports": 0.0, "retain": 0.0}
    every = {
        "poll": settings.poll_every if settings.poll else 0.0,
        "tick": settings.tick_every,
        "dispatch": settings.dispatch_every,
        "reports": settings.reports_every,
        "retain": settings.retain_every,
    }
    while not stopping.is_set():
        now = time.monotonic()
        if every["poll"] > 0 and now >= due["poll"]:
            for source, options in polled:
                _poll(engine, source, options)
            due["poll"] = now + every["poll"]
        if every["tick"] > 0 and now >= due["tick"]:
            engine.tick()  # the engine logs what it ticked, as what it hands over
            due["tick"] = now + every["tick"]
        if every["dispatch"] > 0 and now >= due["dispatch"]:
            engine.dispatch(channels)
            due["dispatch"] = now + every["dispatch"]
        if every["reports"] > 0 and now >= due["reports"]:
            _read_reports(engine, channels)
            due["reports"] = now + every["reports"]
        if every["retain"] > 0 and now >= due["retain"]:
            _retain(engine)
            due["retain"] = now + every["retain"]
        waits = [due[k] - time.monotonic() for k in due if every[k] > 0]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=max(0.05, min(waits, default=3600)))
    log.info("stopping")
    for listener in listeners:
        await listener.stop()
    log.info("worker stopped")
