"""``membercore demo`` and ``membercore walkthrough``: the demo hospital and the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click

from membercore import MembercoreError
from membercore.errors import StorageError
from membercore.ports import AccountStore, Commit, SourcePosition, Store
from membercore.service.engine import Engine
from membercore.testing.clock import ManualClock
from membercore_adapters.cli.arguments import DEMO_STORE, Exit
from membercore_adapters.cli.failures import stopped
from membercore_adapters.cli.report import report_missing
from membercore_adapters.cli.speech import Words, echo, language, say, warn
from membercore_adapters.demo import HospitalSpec, ProgressBar, dashboard, run_demo
from membercore_adapters.demo.programme import demo_programme
from membercore_adapters.demo.runner import DemoResult
from membercore_adapters.demo.walkthrough import ledger_walkthrough
from membercore_adapters.stores.postgres import drop_store
from membercore_adapters.stores.sql import without_migrating
from membercore_adapters.stores.sqlite import database_path

__all__ = ["DEMO_MARK", "commands"]

#: The source name under which a demo marks the store it writes (a committed position).
DEMO_MARK = "membercore demo"


def commands() -> list[click.Command]:
    """``demo`` and ``walkthrough``."""
    return [_demo(), _walkthrough()]


def _demo() -> click.Command:
    @click.command(
        "demo",
        help=say(
            Words(
                "运行演示医院并打印其看板（写入它自己的存储）",
                "run the demo hospital and print its dashboard (into a store of its own)",
            )
        ),
    )
    @click.option(
        "--patients",
        type=click.IntRange(min=1),
        default=10_000,
        show_default=True,
        help=say(Words("医院的患者人数", "patients in the hospital")),
    )
    @click.option(
        "--months",
        type=click.IntRange(min=1),
        default=18,
        show_default=True,
        help=say(Words("模拟医院运营的月数", "months of the hospital's life")),
    )
    @click.option(
        "--seed",
        type=int,
        default=7,
        show_default=True,
        help=say(Words("随机种子（同一种子，同一结果）", "the random seed (same seed, same run)")),
    )
    @click.option(
        "--store",
        default=DEMO_STORE,
        show_default=True,
        metavar="URL",
        help=say(
            Words(
                "存储 URL：演示自己创建的（重新开始）、新的或空的；其他存储一律拒绝",
                "store URL: one the demo created (started afresh), or a new or empty one; "
                "any other is refused",
            )
        ),
    )
    @click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=2,
        show_default=True,
        help=say(Words("分担工作的进程数", "processes sharing the work")),
    )
    @click.option(
        "--quiet",
        is_flag=True,
        help=say(
            Words(
                "不显示进度条（非终端时本就不显示）", "no progress bar (none off a terminal anyway)"
            )
        ),
    )
    @click.option(
        "--report",
        "report_path",
        type=click.Path(path_type=Path, dir_okay=False),
        help=say(
            Words(
                "经营报告写到哪里（默认：存储旁的 membercore-demo-report.html）",
                "where the management report goes (by default membercore-demo-report.html "
                "beside the store)",
            )
        ),
    )
    def demo(
        patients: int,
        months: int,
        seed: int,
        store: str,
        workers: int,
        quiet: bool,
        report_path: Path | None,
    ) -> int:
        spec = HospitalSpec(patients=patients, months=months, seed=seed)
        bar = None if quiet else ProgressBar(spec, language=language())
        try:
            _claim(store, spec)
            result = run_demo(spec, store, workers=workers, progress=bar)
        except MembercoreError as error:  # the store refused, unreachable or not a store
            raise stopped(error, store=store) from error
        finally:
            if bar is not None:
                bar.close()
        echo(dashboard(result, demo_programme(), language=language()))
        _report(store, result, report_path or _beside(store))
        return Exit.DONE

    return demo


_REPORT_EXTRA = Words(
    "未写经营报告：需要 report 扩展（缺少 {missing}）：pip install 'membercore[report]'",
    "no management report: it needs the report extra ({missing} is missing): "
    "pip install 'membercore[report]'",
)
_REPORT_WRITTEN = Words(
    "经营报告：{html}（数据：{json}，CSV：{csv}）",
    "The management report: {html} (figures: {json}, CSV: {csv})",
)
REPORT_NAME = "membercore-demo-report.html"


def _beside(url: str) -> Path:
    """The report's file: beside a SQLite store's file, named after it.

    The default store's is ``membercore-demo-report.html``; a store not in a file's is in
    the working directory.
    """
    path = database_path(url) if url.startswith("sqlite:") else None
    if path is None or path == ":memory:":
        return Path(REPORT_NAME)
    return Path(path).with_name(f"{Path(path).stem}-report.html")


def _report(url: str, result: DemoResult, out: Path) -> None:
    """Write the demo's management report (when the report extra is installed)."""
    missing = report_missing()
    if missing:
        warn(_REPORT_EXTRA, missing=", ".join(missing))
        return
    from membercore_adapters.report import Report, write_report  # noqa: PLC0415 - the extra

    report = Report(
        measurement=result.measurement,
        figures=result.figures,
        config=demo_programme(),
        experiments=result.experiments,
    )
    written = write_report(out, report, language())
    echo(_REPORT_WRITTEN, html=written.html, json=written.json, csv=written.csv)


_NOT_THE_DEMOS = Words(
    "存储中已有非演示数据，演示不会改动它；请在新文件上运行（--store sqlite:///membercore-demo.db）"
    "或使用之前演示写过的存储",
    "holds records the demo did not write: the demo leaves it as it is; run it on a new "
    "file (--store sqlite:///membercore-demo.db) or a store an earlier demo wrote",
)


class NotTheDemosError(StorageError):
    """A store holds records a demo did not write: the demo leaves it alone."""

    def __init__(self, url: str) -> None:
        super().__init__(url, say(_NOT_THE_DEMOS))


def _claim(url: str, spec: HospitalSpec) -> None:
    """Make the store the demo's: a new or empty one, or an earlier demo's started afresh.

    A SQLite file an earlier demo wrote is deleted, a PostgreSQL schema emptied of its
    tables (:func:`~membercore_adapters.stores.postgres.drop_store`), and written anew;
    any other store that holds records is refused, and nothing in it is changed. The
    demo then marks the store as its own with a committed position, which only it writes.

    Raises:
        NotTheDemosError: the store holds records and no demo marked it.
        StorageError: the store cannot be opened (nor migrated: the demo never migrates).
    """
    path = database_path(url) if url.startswith("sqlite:") else None
    if path != ":memory:" and (path is None or Path(path).exists()):
        with without_migrating(), _engine(url, spec) as engine:
            store = engine.store
            ours = store.position(DEMO_MARK) is not None
            if not ours and not _empty(store):
                raise NotTheDemosError(url)
        if ours and path is not None:
            for suffix in ("", "-wal", "-shm"):
                Path(path + suffix).unlink(missing_ok=True)
        elif ours and url.startswith(("postgresql:", "postgres:")):
            drop_store(url)
    with _engine(url, spec) as engine:
        mark = f"seed {spec.seed}, {spec.patients} patients, {spec.months} months"
        engine.store.commit(Commit(positions=[SourcePosition(source=DEMO_MARK, position=mark)]))


def _engine(url: str, spec: HospitalSpec) -> Engine:
    return Engine.open(url, config=demo_programme(), clock=ManualClock(spec.start))


def _empty(store: Store) -> bool:
    """Whether the store holds no record, message, task, refused input or account.

    An API token, a staff account or a look-up is a hospital's as much as a record is.
    """
    held: list[Iterator[object]] = [
        store.scan(),
        store.outbox(),
        store.tasks(None),
        store.dead_letters(),
    ]
    if isinstance(store, AccountStore):
        held += [store.tokens(), store.staff_accounts(), store.lookups()]
    return all(next(iter(listing), None) is None for listing in held)


def _walkthrough() -> click.Command:
    @click.command(
        "walkthrough",
        help=say(
            Words(
                "逐步讲解积分账本：一个家庭的积分如何获得、兑换、退还和共享",
                "walk through the points ledger, step by step: how a family's points are "
                "earned, redeemed, refunded and pooled",
            )
        ),
    )
    def walkthrough() -> int:
        ledger_walkthrough(echo, language=language())
        return Exit.DONE

    return walkthrough
