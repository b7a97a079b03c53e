"""The commands over a store.

``ingest``, ``import``, ``tick``, ``retain``, ``outbox``, ``tasks``, ``dead-letters``,
``migrate`` and ``repack``.
Each opens the store as it needs it (:mod:`~membercore_adapters.cli.opening`), answers,
and says in words what was wrong if something was.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import click

from membercore.plugins import collect, make_plugin_manager
from membercore.ports import HisSource, Reporting, SourceInput
from membercore.service.engine import Engine
from membercore.service.history import in_time_order
from membercore.service.recording import MEMBER, member_of
from membercore.service.reports import IngestReport
from membercore_adapters.cli.arguments import (
    ENCODING,
    INSTANT,
    Exit,
    UsageError,
    reading_options,
    store_options,
)
from membercore_adapters.cli.opening import (
    channels_of,
    check_inputs,
    engine_on,
    programme,
    stopping,
)
from membercore_adapters.cli.speech import Words, echo, language, say, warn
from membercore_adapters.cli.tables import NONE, local_time, show_table
from membercore_adapters.his.jsonl import JsonLinesSource
from membercore_adapters.his.marks import resume_line
from membercore_adapters.labels import CHANNELS, TASK_KINDS, named

__all__ = ["commands"]


def commands() -> list[click.Command]:
    """The commands over a store."""
    return [
        _ingest(),
        _import(),
        _tick(),
        _retain(),
        _outbox(),
        _tasks(),
        _dead_letters(),
        _migrate(),
        _repack(),
    ]


def _source_options(command: click.Command) -> click.Command:
    click.argument("file", type=click.Path(path_type=Path))(command)
    options = [
        click.option(
            "--source",
            default="jsonl",
            show_default=True,
            help=say(
                Words(
                    "读取文件的已安装 HIS 数据源（jsonl；安装 membercore-hl7v2 后可用 hl7v2 等）",
                    "the installed HIS source that reads the file (jsonl; hl7v2 with "
                    "membercore-hl7v2...)",
                )
            ),
        ),
        click.option(
            "--mapping",
            type=click.Path(path_type=Path, dir_okay=False),
            help=say(
                Words("数据源对医院编码的映射文件", "the source's mapping of the hospital's codes")
            ),
        ),
        click.option(
            "--encoding",
            type=ENCODING,
            help=say(
                Words(
                    "文件的字符编码（对读取编码的数据源）",
                    "the file's character encoding, for sources that read one",
                )
            ),
        ),
    ]
    for option in options:
        option(command)
    return command


def _ingest() -> click.Command:
    @click.command(
        "ingest",
        help=say(
            Words(
                "从文件读取事实（JSON lines，或另一数据源的格式：--source）",
                "take facts from a file (JSON lines, or another source's: --source)",
            )
        ),
    )
    @click.option(
        "--resume",
        is_flag=True,
        help=say(
            Words(
                "从上次为此文件提交的位置之后继续",
                "start after the position the last run committed for this file",
            )
        ),
    )
    @store_options
    def ingest(
        file: Path,
        source: str,
        mapping: Path | None,
        encoding: str | None,
        resume: bool,
        store: str,
        config: Path | None,
    ) -> int:
        reader = _reader(store, config, file, source, mapping, encoding, growing=resume)
        # From the start, the file's first input is read before the store opens.
        first = None if resume else reader(None)
        started = None if first is None else _started(store, config, first.read())
        with engine_on(store, config, use="write", inputs=(file,)) as engine:
            name = f"{source}:{file.resolve()}"
            reading = first or reader(engine.position(name))
            inputs = started if started is not None else reading.read()
            return _reported(file, reading, engine.ingest(inputs, source=name))

    return _source_options(ingest)


def _import() -> click.Command:
    @click.command(
        "import",
        help=say(
            Words(
                "导入医院的历史记录（JSON lines，或另一数据源的格式：--source），每个事实按其时刻",
                "load a hospital's history from a file (JSON lines, or another source's: "
                "--source), each fact at its instant",
            )
        ),
    )
    @click.option(
        "--cutoff",
        type=INSTANT,
        help=say(
            Words(
                "带 UTC 偏移的 ISO 8601 时刻（2025-06-01T10:00:00+08:00）：早于它的不会触达任何人"
                "（默认：现在，导入开始时）",
                "ISO 8601 instant with its UTC offset (2025-06-01T10:00:00+08:00): nothing "
                "dated before it reaches anyone (default: now, the import's start)",
            )
        ),
    )
    @click.option(
        "--resume",
        is_flag=True,
        hidden=True,  # said to be for ingest, rather than unknown
    )
    @store_options
    def import_(
        file: Path,
        source: str,
        mapping: Path | None,
        encoding: str | None,
        cutoff: datetime | None,
        resume: bool,
        store: str,
        config: Path | None,
    ) -> int:
        if resume:
            raise UsageError(say(_RESUME))
        reading = _reader(store, config, file, source, mapping, encoding, growing=False)(None)
        with stopping(store, config):  # read whole before the store opens
            inputs = in_time_order(reading.read())
        with engine_on(store, config, use="write", inputs=(file,)) as engine:
            return _reported(file, reading, engine.ingest(inputs, history=True, cutoff=cutoff))

    return _source_options(import_)


_RESUME = Words(
    "--resume 仅用于 ingest：导入按时间顺序决定",
    "--resume is for ingest: an import is decided in time order",
)


def _reader(
    store: str,
    config: Path | None,
    file: Path,
    source: str,
    mapping: Path | None,
    encoding: str | None,
    *,
    growing: bool,
) -> Callable[[str | None], HisSource]:
    """The source that reads the file (JSON lines, or an installed plugin's), from a position.

    Made before the store opens: a source that is not installed, or whose mapping or
    settings refuse the file, stops the command before a store is created for nothing.

    Raises:
        Stop: the file is missing, no source has that name, or the source refused its
            settings.
    """
    check_inputs((file,))
    if source == "jsonl" and mapping is None and encoding is None:
        return lambda position: JsonLinesSource(file, after=resume_line(position, file))
    with stopping(store, config):
        sources = collect(make_plugin_manager(), programme(config)).sources
        found = sources.get(source)
        if found is None:
            known = ", ".join(sorted(sources)) or "-"
            raise UsageError(say(_NO_SOURCE, name=source, known=known))

        def made(position: str | None) -> HisSource:
            options = reading_options(mapping, encoding, path=str(file))
            if position is not None:
                options["after"] = position
            if growing:
                options["growing"] = "true"  # a message still being written waits
            return found.value(options)

        first = made(None)
    return lambda position: first if position is None else made(position)


def _started(
    store: str, config: Path | None, inputs: Iterable[SourceInput]
) -> Iterator[SourceInput]:
    """``inputs`` with the first of them read now, before the store opens.

    A file its source refuses as a whole (a header that is not in its encoding, a
    mapping naming a column it lacks) stops the command with no store created.
    """
    iterator = iter(inputs)
    with stopping(store, config):
        first = next(iterator, None)
    return iterator if first is None else itertools.chain((first,), iterator)


_NO_SOURCE = Words(
    "没有名为 {name!r} 的 HIS 数据源（已安装：{known}）",
    "no HIS source is named {name!r} (installed: {known})",
)
_READ = Words(
    "{file}：读到末尾共 {read} 条输入：{applied} 条已应用，{duplicates} 条重复，{rejected} 条被拒",
    "{file}: {read} inputs read to the end: {applied} applied, {duplicates} duplicates, "
    "{rejected} rejected",
)
_LISTED = Words(
    "（被拒的输入及原因见 `membercore dead-letters`）",
    " (listed with their reasons by `membercore dead-letters`)",
)
_REFUSED = Words("  被拒：{reason}", "  refused: {reason}")
_MORE = Words("  ……另有 {count} 条被拒", "  ... and {count} more refused")
#: The refusals an ingestion prints at most (the dead letters keep every one).
_SHOWN = 100


def _reported(file: Path, source: HisSource, report: IngestReport) -> int:
    """What an ingestion did; 0 when every input was taken (or taken before), else 1."""
    read = report.applied + report.duplicates + report.rejected
    said = say(
        _READ,
        file=file,
        read=read,
        applied=report.applied,
        duplicates=report.duplicates,
        rejected=report.rejected,
    )
    echo(said + (say(_LISTED) if report.rejected else ""))
    if isinstance(source, Reporting):
        for line in source.report():
            echo(f"  {line}")
    for _, reason in report.refusals[:_SHOWN]:
        echo(_REFUSED, reason=reason)
    if len(report.refusals) > _SHOWN:
        echo(_MORE, count=len(report.refusals) - _SHOWN)
    return Exit.REFUSED if report.rejected else Exit.DONE


_TICKED = Words(
    "已处理 {records} 条记录，{events} 个事件", "{records} records ticked, {events} events"
)


#: How far past the present ``tick --now`` may be without ``--future`` (clocks differ).
_AHEAD = timedelta(minutes=5)

_IN_THE_FUTURE = Words(
    "--now {now} 晚于现在：处理过的每条记录都会在该时刻作出决定并保留这个时钟（此后的事实"
    "都在其后决定）；确要提前（在存储的副本上）请加 --future",
    "--now {now} is later than the present: every record ticked would be decided at that "
    "instant and keep its clock (facts that follow are decided after it); add --future "
    "to tick ahead on purpose (on a copy of the store)",
)


def _tick() -> click.Command:
    @click.command(
        "tick",
        help=say(
            Words(
                "运行所有到期的工作（计时器、计划期限、积分过期、等级评审）",
                "run everything due (timers, plan terms, expiry, reviews)",
            )
        ),
    )
    @click.option(
        "--now",
        type=INSTANT,
        help=say(
            Words(
                "带 UTC 偏移的 ISO 8601 时刻（2025-06-01T10:00:00+08:00；默认：现在）",
                "ISO 8601 instant with its UTC offset (2025-06-01T10:00:00+08:00; default: now)",
            )
        ),
    )
    @click.option(
        "--future",
        is_flag=True,
        help=say(
            Words(
                "允许 --now 晚于现在（在存储的副本上试看时间的作用）：处理过的记录保留该时钟",
                "let --now be later than the present (to see what time will do, on a copy "
                "of a store): every record ticked keeps that clock",
            )
        ),
    )
    @store_options
    def tick(now: datetime | None, future: bool, store: str, config: Path | None) -> int:
        with engine_on(store, config, use="tend") as engine:
            if now is not None and not future and now > engine.now() + _AHEAD:
                raise UsageError(say(_IN_THE_FUTURE, now=now.isoformat()))
            ticked = engine.tick(now)
        echo(_TICKED, records=ticked.records, events=ticked.events)
        return Exit.DONE

    return tick


_RETAINED = Words(
    "已按保留期限删除：消息正文 {messages} 条（会员日志 {journals} 份），送达地址与错误 "
    "{deliveries} 条，被拒输入的原始内容 {dead_letters} 条",
    "let go past their retention: {messages} message bodies ({journals} members' "
    "journals), {deliveries} delivery addresses and errors, {dead_letters} raw payloads "
    "of inputs refused",
)


_WOULD_RETAIN = Words(
    "将按保留期限删除（未做改动）：消息正文 {messages} 条（会员日志 {journals} 份），"
    "送达地址与错误 {deliveries} 条，被拒输入的原始内容 {dead_letters} 条",
    "would let go past their retention (nothing changed): {messages} message bodies "
    "({journals} members' journals), {deliveries} delivery addresses and errors, "
    "{dead_letters} raw payloads of inputs refused",
)


def _retain() -> click.Command:
    @click.command(
        "retain",
        help=say(
            Words(
                "删除超过保留期限的消息正文、送达地址和被拒输入的原始内容（[retention]；"
                "worker 每小时运行一次）",
                "let go of the message bodies, delivery addresses and raw payloads of "
                "inputs refused past their retention ([retention]; the worker runs it "
                "hourly)",
            )
        ),
    )
    @click.option(
        "--now",
        type=INSTANT,
        help=say(
            Words(
                "带 UTC 偏移的 ISO 8601 时刻（默认：现在）",
                "ISO 8601 instant with its UTC offset (default: now)",
            )
        ),
    )
    @click.option(
        "--dry-run",
        is_flag=True,
        help=say(Words("只说明将删除什么，不做任何改动", "only say what would go; change nothing")),
    )
    @store_options
    def retain(now: datetime | None, dry_run: bool, store: str, config: Path | None) -> int:
        with engine_on(store, config, use="read" if dry_run else "tend") as engine:
            report = engine.retain(now=now, dry_run=dry_run)
        echo(
            _WOULD_RETAIN if dry_run else _RETAINED,
            messages=report.messages,
            journals=report.journals,
            deliveries=report.deliveries,
            dead_letters=report.dead_letters,
        )
        return Exit.DONE

    return retain


_HANDED = Words(
    "{delivered} 条已送达，{retrying} 条待重试，{failed} 条失败",
    "{delivered} delivered, {retrying} to retry, {failed} failed",
)


def _dispatched(engine: Engine, config: Path | None) -> None:
    """Hand the due messages to the channels, and say what became of them and what waits."""
    now = engine.now()
    report = engine.dispatch(channels_of(engine, config), now=now)
    handed = say(
        _HANDED, delivered=report.delivered, retrying=report.retrying, failed=report.failed
    )
    if report.held:
        handed += say(_HELD, held=report.held)
    if report.cancelled:
        handed += say(_CANCELLED, cancelled=report.cancelled)
    warn(handed + (say(_WHY_FAILED) if report.failed else ""))
    pending = list(engine.store.outbox("pending"))
    later = [m.send_at for m in pending if m.send_at > now]
    if later:
        warn(_WAITING, count=len(later), first=local_time(min(later), engine.config.tz))
    # Due, and yet not to be sent now: a retry's time, or quiet hours' end, to come
    # (those this hand-over held back or is to retry are said above).
    due = sum(1 for m in pending if m.send_at <= now)
    ready = len(engine.store.pending_outbox(now, max(due, 1)))
    waiting = due - ready - report.held - report.retrying
    if waiting > 0:
        warn(_TRIED_AGAIN, count=waiting)


_TRIED_AGAIN = Words(
    "另有 {count} 条消息等待再次交出（失败后的重试，或静默时段结束）",
    "{count} more wait to be handed over again (a retry after a failure, or the end of quiet "
    "hours)",
)
_HELD = Words(
    "，{held} 条因静默时段暂缓（静默时段结束后再交给渠道）",
    ", {held} held back for quiet hours (handed over when they end)",
)
_CANCELLED = Words(
    "，{cancelled} 条在交出前取消（同意已撤回、会员已故等）",
    ", {cancelled} cancelled before they were handed over (consent withdrawn, a death...)",
)
_WHY_FAILED = Words(
    "；失败的消息及原因见 `membercore outbox --status failed`",
    "; `membercore outbox --status failed` lists the failed ones with why",
)
_STATUSES = ("pending", "failed", "delivered", "cancelled")


_WAITING = Words(
    "另有 {count} 条消息等待发送时间（静默时段或预约的时刻），最早 {first}",
    "{count} more wait for their send time (quiet hours, or a time asked for), the first "
    "at {first}",
)


def _outbox() -> click.Command:
    @click.command(
        "outbox",
        help=say(
            Words(
                "列出待发送的消息（或某一状态的消息；或用 --dispatch 交给渠道发送）",
                "list the messages waiting to go (or those of a status; or deliver them "
                "with --dispatch)",
            )
        ),
    )
    @click.option(
        "--status",
        type=click.Choice(_STATUSES),
        default="pending",
        show_default=True,
        help=say(
            Words(
                "列出此状态的消息：待发送、失败（附原因）、已送达、已取消",
                "the messages of this status: waiting, given up (with why), delivered, cancelled",
            )
        ),
    )
    @click.option(
        "--dispatch",
        is_flag=True,
        help=say(
            Words(
                "交给方案配置的渠道（未配置时为控制台）",
                "hand them to the programme's channels (or the console's)",
            )
        ),
    )
    @store_options
    def outbox(status: str, dispatch: bool, store: str, config: Path | None) -> int:
        with engine_on(store, config, use="tend" if dispatch else "read") as engine:
            if dispatch:
                _dispatched(engine, config)
                return Exit.DONE
            zone = engine.config.tz
            failed = status == "failed"
            rows = [
                (
                    local_time(message.send_at, zone),
                    named(CHANNELS, message.channel, language()),
                    message.key.partition(":")[2] or message.key,
                    *((str(message.attempts), message.last_error or "") if failed else ()),
                    json.loads(message.payload).get("text", ""),
                )
                for message in sorted(engine.store.outbox(status), key=lambda m: m.send_at)
            ]
            show_table(_FAILED if failed else _OUTBOX, rows)
        return Exit.DONE

    return outbox


_OUTBOX = (
    (Words("发送时间", "send at"), False),
    (Words("渠道", "channel"), False),
    (Words("会员", "member"), False),
    (Words("内容", "text"), False),
)
_FAILED = (
    *_OUTBOX[:3],
    (Words("尝试次数", "attempts"), True),
    (Words("原因", "why"), False),
    _OUTBOX[3],
)
_TASKS = (
    (Words("到期", "due"), False),
    (Words("类型", "kind"), False),
    (Words("会员", "member"), False),
    (Words("负责人", "assignee"), False),
    (Words("任务", "task"), False),
)
_ANYONE = Words("任一{role}", "any {role}")
_UNASSIGNED = Words("未分配（{reason}）", "unassigned ({reason})")


_RELISTED_TASKS = Words(
    "{url}：从会员档案补回任务列表缺少的 {written} 个任务",
    "{url}: {written} tasks the task lists lacked written again from the members' records",
)


def _tasks() -> click.Command:
    @click.command("tasks", help=say(Words("列出未完成的员工任务", "list open staff tasks")))
    @click.option(
        "--relist",
        is_flag=True,
        help=say(
            Words(
                "先从会员档案补回任务列表缺少的任务（旧版本的存储中，两位会员同键的任务只列出"
                "一个；迁移后运行一次，先停止 worker）",
                "first write again the tasks the members' records hold that the task lists "
                "lack (a store of an earlier release listed one of two members' tasks of one "
                "key; run once after migrating, the workers stopped)",
            )
        ),
    )
    @store_options
    def tasks(relist: bool, store: str, config: Path | None) -> int:
        with engine_on(store, config, use="tend" if relist else "read") as engine:
            if relist:
                written = engine.relist_tasks()
                echo(_RELISTED_TASKS, url=engine.store.url, written=written)
            zone = engine.config.tz
            rows = []
            for task in engine.store.tasks():
                who = task.assignee or say(_ANYONE, role=task.role)
                if task.unassigned_reason:
                    who = say(_UNASSIGNED, reason=task.unassigned_reason)
                kind = named(TASK_KINDS, task.kind, language())
                member = member_of(task.key) if task.key.startswith(MEMBER) else task.key
                rows.append((local_time(task.due_at, zone), kind, member, who, task.task_key))
            show_table(_TASKS, rows)
        return Exit.DONE

    return tasks


def _dead_letters() -> click.Command:
    @click.command(
        "dead-letters",
        help=say(Words("列出被拒的输入及原因", "list refused inputs with their reasons")),
    )
    @click.option(
        "--raw",
        is_flag=True,
        help=say(Words("同时列出每条被拒输入的原文", "each refused input as it was received, too")),
    )
    @store_options
    def dead_letters(raw: bool, store: str, config: Path | None) -> int:
        with engine_on(store, config, use="read") as engine:
            listed = 0
            for letter in engine.store.dead_letters():
                when = letter.at.isoformat()
                kind = letter.fact_type or "—"  # an input that could not be read as any type
                echo(f"{when}  {letter.fact_id}  {kind}: {letter.reason}")
                if raw:
                    for line in letter.payload.splitlines():
                        echo(f"    {line}")
                listed += 1
            if not listed:
                echo(say(NONE))
        return Exit.DONE

    return dead_letters


_AT_VERSION = Words(
    "{url}：架构版本 {version}，即本版本的", "{url}: at schema version {version}, this release's"
)


def _migrate() -> click.Command:
    @click.command(
        "migrate",
        help=say(
            Words(
                "把旧版本写的存储升级到本版本的架构（单向：先备份并停止旧版本的 worker）；"
                "其他命令都不会迁移",
                "bring a store an earlier release wrote to this release's schema (one-way: "
                "back it up and stop the earlier release's workers first); no other "
                "command migrates",
            )
        ),
    )
    @store_options
    def migrate(store: str, config: Path | None) -> int:
        with engine_on(store, config, use="migrate") as engine:
            version = getattr(engine.store, "schema_version", None)
            echo(_AT_VERSION, url=engine.store.url, version=version)
        return Exit.DONE

    return migrate


_NOTHING_TO_REPACK = Words(
    "{url}：无需重新打包（此存储不打包）", "{url}: nothing to repack (the store does not pack)"
)
_REPACKED = Words(
    "{url}：{moved} 个事件移入日志，{packed} 个快照已打包；VACUUM（SQLite）或 VACUUM FULL"
    "（PostgreSQL）可归还空间",
    "{url}: {moved} events moved into the journal, {packed} snapshots packed; VACUUM "
    "(SQLite) or VACUUM FULL (PostgreSQL) gives the room back",
)


def _repack() -> click.Command:
    @click.command(
        "repack",
        help=say(
            Words(
                "按本版本的方式重新打包旧版本写的日志和快照（存储可继续使用）",
                "pack the journal and snapshots an earlier release wrote, as this release "
                "writes them (the store stays in use meanwhile)",
            )
        ),
    )
    @store_options
    def repack(store: str, config: Path | None) -> int:
        with engine_on(store, config, use="tend") as engine:
            packing = getattr(engine.store, "repack", None)
            if packing is None:
                echo(_NOTHING_TO_REPACK, url=engine.store.url)
                return Exit.DONE
            moved, packed = packing()
            echo(_REPACKED, url=engine.store.url, moved=moved, packed=packed)
        return Exit.DONE

    return repack
