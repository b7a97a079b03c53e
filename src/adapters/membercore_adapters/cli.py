"""The ``membercore`` command.

``membercore demo`` runs the demo hospital and prints its dashboard; ``ingest``,
``tick``, ``member show``, ``outbox``, ``tasks`` and ``dead-letters`` work on a store
(``--store URL``, by default ``sqlite:///membercore.db``); ``config check`` validates a
programme; ``walkthrough`` explains the points ledger step by step.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from membercore import ConfigError, MembercoreError, reference_config, tiers
from membercore.config import ProgrammeConfig
from membercore.journeys import check_tags, validate
from membercore.ledger import balances
from membercore.plans import active_plans
from membercore.plugins import collect, make_plugin_manager
from membercore.segments import segment_of, tags
from membercore.serialization import load_config_file, message_types
from membercore.service.dispatch import dispatch
from membercore.service.engine import Engine
from membercore_adapters.channels.console import ConsoleChannel
from membercore_adapters.demo import HospitalSpec, ProgressBar, dashboard, run_demo
from membercore_adapters.demo.walkthrough import ledger_walkthrough
from membercore_adapters.his.jsonl import JsonLinesSource

__all__ = ["main"]

DEFAULT_STORE = "sqlite:///membercore.db"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="membercore", description="The membership programme of a private hospital."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the demo hospital and print its dashboard")
    demo.add_argument("--patients", type=int, default=10_000)
    demo.add_argument("--months", type=int, default=18)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--store", default="sqlite:///membercore-demo.db")
    demo.add_argument("--workers", type=int, default=2, help="processes sharing the work")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    commands.add_parser("walkthrough", help="walk through the points ledger, step by step")
    for name, text in (
        ("ingest", "take facts from a JSON-lines file"),
        ("tick", "run everything due (timers, plan terms, expiry, reviews)"),
        ("outbox", "list pending messages (or deliver them with --dispatch)"),
        ("tasks", "list open staff tasks"),
        ("dead-letters", "list refused inputs with their reasons"),
    ):
        sub = commands.add_parser(name, help=text)
        _store_options(sub)
        if name == "ingest":
            sub.add_argument("file", type=Path)
        if name == "tick":
            sub.add_argument("--now", type=datetime.fromisoformat, help="ISO instant")
        if name == "outbox":
            sub.add_argument("--dispatch", action="store_true", help="deliver to the console")
    member = commands.add_parser("member", help="a member's record")
    member_commands = member.add_subparsers(dest="member_command", required=True)
    show = member_commands.add_parser("show", help="points, tier, plans, journeys and tags")
    show.add_argument("member_id")
    _store_options(show)
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
    return parser


def _store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", default=DEFAULT_STORE, help=f"store URL ({DEFAULT_STORE})")
    parser.add_argument("--config", type=Path, help="programme TOML (the reference one)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``membercore`` command; return its exit status."""
    args = _parser().parse_args(argv)
    if args.command == "demo":
        return _demo(args)
    if args.command == "walkthrough":
        ledger_walkthrough()
        return 0
    if args.command == "config":
        return _check_config(args.file, with_plugins=not args.without_plugins)
    return _with_store(args)


def _with_store(args: argparse.Namespace) -> int:
    """A command over the store: its answer, or what was wrong in words (never a traceback)."""
    try:
        config = _config(args.config)
        with Engine.open(args.store, config=config) as engine:
            return _on_store(args, engine)
    except ConfigError as error:
        print(f"{args.config}: {error}", file=sys.stderr)
        return 1
    except MembercoreError as error:
        print(f"membercore: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # a file named on the command line that cannot be read
        print(f"membercore: cannot read {error.filename}: {error.strerror}", file=sys.stderr)
        return 2


def _config(path: Path | None) -> ProgrammeConfig:
    if path is None:
        return reference_config()
    return load_config_file(path)


def _on_store(args: argparse.Namespace, engine: Engine) -> int:
    if args.command == "ingest":
        report = engine.ingest(JsonLinesSource(args.file).read())
        lines = report.applied + report.duplicates + report.rejected
        print(
            f"{args.file}: {lines} lines read to the end: {report.applied} applied, "
            f"{report.duplicates} duplicates, {report.rejected} rejected "
            f"(listed with their reasons by `membercore dead-letters`)"
        )
        return 0
    if args.command == "tick":
        ticked = engine.tick(args.now)
        print(f"{ticked.records} records ticked, {ticked.events} events")
        return 0
    if args.command == "member":
        print(json.dumps(_member_view(engine, args.member_id), ensure_ascii=False, indent=2))
        return 0
    if args.command == "outbox":
        return _outbox(engine, dispatching=args.dispatch)
    if args.command == "tasks":
        for task in engine.store.tasks():
            who = task.assignee or f"any {task.role}"
            print(f"{task.due_at.isoformat()}  {task.kind:<10} {task.key:<20} {who}")
        return 0
    for letter in engine.store.dead_letters():
        print(f"{letter.at.isoformat()}  {letter.fact_id}  {letter.fact_type}: {letter.reason}")
    return 0


def _outbox(engine: Engine, *, dispatching: bool) -> int:
    if dispatching:
        channels = {name: ConsoleChannel(name) for name in ("wecom", "sms", "email")}
        report = dispatch(engine.store, channels, engine.now())
        print(
            f"{report.delivered} delivered, {report.retrying} to retry, {report.failed} failed",
            file=sys.stderr,
        )
        return 0
    for message in engine.store.outbox("pending"):
        text = json.loads(message.payload).get("text", "")
        print(f"{message.send_at.isoformat()}  {message.channel:<6} {message.key}  {text}")
    return 0


def _member_view(engine: Engine, member_id: str) -> dict[str, Any]:
    member = engine.member(member_id)
    config, now = engine.config, engine.now()
    points = balances(member.ledger, config, now)
    return {
        "member": member_id,
        "tier": tiers.tier_of(member.tier, config),
        "tier_history": [
            f"{change.at.date()} {change.from_tier} → {change.to_tier} ({change.reason})"
            for change in tiers.history(member.tier)
        ],
        "points": {"available": points.available, "pending": points.pending},
        "plans": list(active_plans(member.plans, now)),
        "household": member.household_id,
        "journeys": [
            f"{instance.journey}: {instance.state}"
            for instance in member.journeys.instances.values()
            if instance.ended is None
        ],
        "tags": sorted(tags(member.profile)),
        "segment": segment_of(member.profile),
        "health_manager": member.work.health_manager,
    }


def _demo(args: argparse.Namespace) -> int:
    spec = HospitalSpec(patients=args.patients, months=args.months, seed=args.seed)
    _fresh(args.store)
    bar = None if args.quiet else ProgressBar(spec)
    result = run_demo(spec, args.store, workers=args.workers, progress=bar)
    if bar is not None:
        bar.close()
    print(dashboard(result, reference_config()))
    return 0


def _fresh(url: str) -> None:
    """Start the demo from an empty database file."""
    path = url.removeprefix("sqlite:///")
    if url.startswith("sqlite:///") and path != ":memory:":
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)


def _check_config(path: Path, *, with_plugins: bool) -> int:
    try:
        config = load_config_file(path)
        plugins = collect(make_plugin_manager(load_entrypoints=with_plugins), config)
        known = message_types()
        for journey in (*config.journeys, *(found.value for found in plugins.journeys)):
            check_tags(validate(journey, plugins.registry), known)
    except OSError as error:
        print(f"{path}: cannot read: {error.strerror}", file=sys.stderr)
        return 2
    except MembercoreError as error:  # a key, or a journey naming what no plugin has
        print(f"{path}: {error}", file=sys.stderr)
        return 1
    print(f"{path}: valid programme {config.name!r} v{config.version} ({config.timezone})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
