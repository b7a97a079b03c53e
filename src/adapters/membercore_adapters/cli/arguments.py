"""The command line of ``membercore``: its commands and their options."""

from __future__ import annotations

import argparse
import enum
from datetime import datetime
from importlib.metadata import version
from pathlib import Path

from membercore.errors import MembercoreError
from membercore_adapters.stores.postgres.schema import SCHEMA_VERSION as POSTGRES_SCHEMA
from membercore_adapters.stores.sqlite.schema import SCHEMA_VERSION as SQLITE_SCHEMA

__all__ = [
    "DEFAULT_STORE",
    "DEMO_STORE",
    "Exit",
    "UsageError",
    "instant",
    "parser",
    "reading_options",
]

DEFAULT_STORE = "sqlite:///membercore.db"
DEMO_STORE = "sqlite:///membercore-demo.db"


class Exit(enum.IntEnum):
    """The exit status of ``membercore`` (the README's "Exit codes")."""

    DONE = 0
    REFUSED = 1  # an input refused, or some of them (and a reader that stopped reading)
    USAGE = 2  # the command line: an option, an input file or a mapping, a plugin it names
    STORE = 3  # the store or the programme: missing, unreachable, invalid, not the demo's


class UsageError(MembercoreError):
    """The command line asks for what cannot be: its options, or a plugin it names."""


def instant(text: str) -> datetime:
    """An ISO 8601 instant with its UTC offset, for ``--now`` and ``--cutoff``.

    Raises:
        argparse.ArgumentTypeError: not such an instant (argparse says so, exit 2).
    """
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None or parsed.utcoffset() is None:
        raise argparse.ArgumentTypeError(
            f"需要带 UTC 偏移的 ISO 8601 时刻 / an ISO 8601 instant with its UTC offset "
            f"(2025-06-01T10:00:00+08:00), not {text!r}"
        )
    return parsed


# The commands over a store, with their help.
_STORE_COMMANDS = (
    ("ingest", "take facts from a file (JSON lines, or another source's: --source)"),
    (
        "import",
        "load a hospital's history from a file (JSON lines, or another source's: --source), "
        "each fact at its instant",
    ),
    ("tick", "run everything due (timers, plan terms, expiry, reviews)"),
    ("outbox", "list pending messages (or deliver them with --dispatch)"),
    ("tasks", "list open staff tasks"),
    ("dead-letters", "list refused inputs with their reasons"),
    (
        "migrate",
        "bring a store an earlier release wrote to this release's schema (one-way: back it "
        "up and stop the earlier release's workers first); no other command migrates",
    ),
    (
        "repack",
        "pack the journal and snapshots an earlier release wrote, as this release writes "
        "them (the store stays in use meanwhile)",
    ),
)


def parser() -> argparse.ArgumentParser:
    """The parser of the ``membercore`` command line."""
    root = argparse.ArgumentParser(
        prog="membercore", description="The membership programme of a private hospital."
    )
    root.add_argument(
        "--version",
        action="version",
        version=f"membercore {version('membercore')} (store schema: SQLite {SQLITE_SCHEMA}, "
        f"PostgreSQL {POSTGRES_SCHEMA})",
    )
    commands = root.add_subparsers(dest="command", required=True)
    _demo(commands)
    commands.add_parser("walkthrough", help="walk through the points ledger, step by step")
    _store_commands(commands)
    _worker(commands)
    _member(commands)
    _household(commands)
    _config(commands)
    return root


def _demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser("demo", help="run the demo hospital and print its dashboard")
    demo.add_argument("--patients", type=int, default=10_000, help="patients in the hospital")
    demo.add_argument("--months", type=int, default=18, help="months of the hospital's life")
    demo.add_argument("--seed", type=int, default=7, help="the random seed (same seed, same run)")
    demo.add_argument(
        "--store",
        default=DEMO_STORE,
        help=f"store URL ({DEMO_STORE}): one the demo created, started afresh, or a new or "
        "empty one; any other is refused",
    )
    demo.add_argument("--workers", type=int, default=2, help="processes sharing the work")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")


def _store_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, text in _STORE_COMMANDS:
        sub = commands.add_parser(name, help=text)
        _store_options(sub)
        if name in ("ingest", "import"):
            sub.add_argument("file", type=Path)
            _source_options(sub)
        if name == "import":
            sub.add_argument(
                "--cutoff",
                type=instant,
                help="ISO 8601 instant with its UTC offset (2025-06-01T10:00:00+08:00): "
                "nothing dated before it reaches anyone (default: now, the import's start)",
            )
        if name == "tick":
            sub.add_argument(
                "--now",
                type=instant,
                help="ISO 8601 instant with its UTC offset (2025-06-01T10:00:00+08:00)",
            )
        if name == "outbox":
            sub.add_argument(
                "--dispatch",
                action="store_true",
                help="hand them to the programme's channels (or the console's)",
            )
        if name == "dead-letters":
            sub.add_argument(
                "--raw", action="store_true", help="each refused input as it was received, too"
            )


def _source_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--source",
        default="jsonl",
        help="the installed HIS source that reads the file (jsonl; hl7v2 with membercore-hl7v2...)",
    )
    sub.add_argument("--mapping", type=Path, help="the source's mapping of the hospital's codes")
    sub.add_argument("--encoding", help="the file's character encoding, for sources that read one")
    sub.add_argument(
        "--resume",
        action="store_true",
        help="start after the position the last run committed for this file (ingest only)",
    )


def _worker(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = commands.add_parser(
        "worker",
        help="listen for the HIS (--listen) or poll its files (--poll), tick and dispatch "
        "until SIGTERM",
    )
    _store_options(worker)
    worker.add_argument(
        "--listen",
        action="append",
        help="an installed listener to run (hl7v2 with membercore-hl7v2); may be repeated",
    )
    worker.add_argument(
        "--poll",
        action="append",
        default=[],
        help="SOURCE:FILE, a file an installed source reads (hl7v2:/data/adt.hl7), read "
        "from where the last read stopped; may be repeated",
    )
    worker.add_argument(
        "--poll-every", type=float, default=10.0, help="seconds between polls of the files"
    )
    worker.add_argument("--host", default="127.0.0.1", help="the address listeners bind to")
    worker.add_argument("--port", type=int, default=2575, help="the port they listen on")
    worker.add_argument("--mapping", type=Path, help="the listeners' mapping of the codes")
    worker.add_argument("--encoding", help="the messages' character encoding (utf-8)")
    worker.add_argument(
        "--tick-every", type=float, default=60.0, help="seconds between ticks (0: never)"
    )
    worker.add_argument(
        "--dispatch-every",
        type=float,
        default=30.0,
        help="seconds between hand-overs of the outbox to the channels (0: never)",
    )
    worker.add_argument(
        "--log-json",
        action="store_true",
        help="write the logs as JSON lines (time, level, logger, message) for a log shipper",
    )
    worker.add_argument(
        "--reports-every",
        type=float,
        default=60.0,
        help="seconds between readings of the providers' delivery reports and members' "
        "replies (0: never)",
    )


def _member(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    member = commands.add_parser("member", help="a member's record")
    member_commands = member.add_subparsers(dest="member_command", required=True)
    show = member_commands.add_parser("show", help="points, tier, plans, journeys and tags")
    show.add_argument("member_id")
    _store_options(show)
    _journal(member_commands, "member_id", "the member's")


def _household(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    household = commands.add_parser("household", help="a household's record")
    household_commands = household.add_subparsers(dest="household_command", required=True)
    _journal(household_commands, "household_id", "the household's")


def _journal(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], named: str, whose: str
) -> None:
    journal = commands.add_parser(
        "journal",
        help=f"{whose} events in order, a JSON line each (version, type, instant, event)",
    )
    journal.add_argument(named)
    journal.add_argument(
        "--after-version",
        type=int,
        default=0,
        help="only the events of the commits after this version of the record",
    )
    _store_options(journal)


def _config(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = commands.add_parser("config", help="programme configuration")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    check = config_commands.add_parser(
        "check", help="validate a programme config (TOML), with the installed plugins' journeys"
    )
    check.add_argument("file", type=Path)
    check.add_argument(
        "--without-plugins",
        action="store_true",
        help="check the programme alone, not the journeys installed plugins add to it",
    )


def _store_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--store", default=DEFAULT_STORE, help=f"store URL ({DEFAULT_STORE})")
    sub.add_argument("--config", type=Path, help="programme TOML (the reference one)")


def reading_options(args: argparse.Namespace, **options: str) -> dict[str, str]:
    """``options`` and what ``--mapping`` and ``--encoding`` give a source or a listener."""
    if args.mapping is not None:
        options["mapping"] = str(args.mapping)
    if args.encoding is not None:
        options["encoding"] = args.encoding
    return options
