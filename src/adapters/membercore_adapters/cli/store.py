"""The commands over a store.

``ingest``, ``import``, ``worker``, ``tick``, ``member show``, ``member journal``,
``household journal``, ``outbox``, ``tasks``, ``dead-letters``, ``migrate`` and
``repack``: each opens the store, answers, and says in words what was wrong if something
was.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from membercore import ConfigError, MembercoreError, reference_config, tiers
from membercore.config import ProgrammeConfig
from membercore.errors import (
    JourneyError,
    OutdatedSchemaError,
    PluginError,
    StorageError,
    StoreUnavailableError,
)
from membercore.ledger import balances
from membercore.plans import active_plans
from membercore.ports import HisSource, Reporting
from membercore.serialization import load_config_file
from membercore.service.engine import Engine
from membercore.service.history import in_time_order
from membercore.service.recording import household_key, member_key
from membercore.service.reports import IngestReport
from membercore_adapters.channels.console import programme_channels
from membercore_adapters.cli.arguments import Exit, UsageError, reading_options
from membercore_adapters.cli.worker import run_worker
from membercore_adapters.his.jsonl import JsonLinesSource
from membercore_adapters.his.marks import resume_line
from membercore_adapters.stores.sql import without_migrating
from membercore_adapters.stores.sqlite import database_path

__all__ = ["with_store"]


#: The commands that read or tend a store: none creates one (there is nothing to tend).
_READING = ("member", "household", "outbox", "tasks", "dead-letters", "tick", "migrate", "repack")


def with_store(args: argparse.Namespace) -> int:
    """A command over the store: its answer, or what was wrong in words (never a traceback).

    Only ``membercore migrate`` migrates a store an earlier release wrote; every other
    command refuses it and changes nothing. Only ``ingest``, ``import`` and ``worker``
    create a SQLite file that is not there; the others say so and create nothing.

    Returns:
        An :class:`~membercore_adapters.cli.arguments.Exit` status.
    """
    config: ProgrammeConfig | None = None
    try:
        config = _config(args.config)
        if args.command in _READING:
            _must_exist(args.store)
        if args.command in ("ingest", "import") and not args.file.exists():
            # Said before the store opens, which would create it for nothing.
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(args.file))
        allowed = nullcontext() if args.command == "migrate" else without_migrating()
        with allowed:
            engine = Engine.open(args.store, config=config)
        with engine:
            return _on_store(args, engine)
    except MembercoreError as error:
        return _said(error, args, named=args.config if config is None else None)
    except BrokenPipeError:
        raise  # the reader went away: not a file that cannot be read
    except OSError as error:  # a file named on the command line, or a port to listen on
        return _unreadable(args, error)


def _said(error: MembercoreError, args: argparse.Namespace, *, named: Path | None) -> int:
    """Say what was wrong; the exit status of its kind.

    Args:
        error: what was wrong.
        args: the command line.
        named: the programme file, when it was reading it that failed.
    """
    if isinstance(error, OutdatedSchemaError):
        print(
            f"membercore: {error}. Back the store up and stop the workers of the earlier "
            f"release, then run: membercore migrate --store {args.store}",
            file=sys.stderr,
        )
        return Exit.STORE
    if isinstance(error, ConfigError):
        # The programme's is the set-up (3); a source's mapping or settings refuse the
        # input read through them (1), as the refusal of a line does.
        print(f"{named or 'membercore'}: {error}", file=sys.stderr)
        return Exit.STORE if named is not None else Exit.REFUSED
    print(f"membercore: {error}", file=sys.stderr)
    if isinstance(error, UsageError):
        return Exit.USAGE
    if isinstance(error, (StorageError, PluginError, JourneyError)):  # the store, the set-up
        return Exit.STORE
    return Exit.REFUSED  # what was asked of the records


def _must_exist(url: str) -> None:
    """Refuse a SQLite file that is not there, before opening would create it.

    Raises:
        StoreUnavailableError: the URL names a file that does not exist.
    """
    if not url.startswith("sqlite:"):
        return
    path = database_path(url)
    if path != ":memory:" and not Path(path).exists():
        raise StoreUnavailableError(
            url,
            f"没有这个存储 / no store at {path!r}: nothing was created "
            "(`membercore ingest` or `membercore import` creates one)",
        )


def _unreadable(args: argparse.Namespace, error: OSError) -> int:
    """A file that cannot be read: the programme's is the set-up (3), the others usage (2).

    A file with no name is a port to listen on, or the like: the set-up (3).
    """
    if error.filename is None:
        print(f"membercore: {error.strerror or error}", file=sys.stderr)
        return Exit.STORE
    print(f"membercore: cannot read {error.filename}: {error.strerror}", file=sys.stderr)
    if args.config is not None and str(error.filename) == str(args.config):
        return Exit.STORE
    return Exit.USAGE


def _config(path: Path | None) -> ProgrammeConfig:
    if path is None:
        return reference_config()
    return load_config_file(path)


def _on_store(args: argparse.Namespace, engine: Engine) -> int:
    if args.command in ("ingest", "import"):
        return _ingest(engine, args)
    if args.command in ("migrate", "repack", "tick", "worker"):
        return _maintain(engine, args)
    if args.command in ("member", "household"):
        return _record(engine, args)
    if args.command == "outbox":
        return _outbox(engine, dispatching=args.dispatch)
    if args.command == "tasks":
        return _tasks(engine)
    for letter in engine.store.dead_letters():
        print(f"{letter.at.isoformat()}  {letter.fact_id}  {letter.fact_type}: {letter.reason}")
        if args.raw:
            for line in letter.payload.splitlines():
                print(f"    {line}")
    return 0


def _maintain(engine: Engine, args: argparse.Namespace) -> int:
    """``migrate`` (done by opening), ``repack``, ``tick`` and ``worker``."""
    if args.command == "worker":
        return run_worker(engine, args)
    store = engine.store
    if args.command == "migrate":
        version = getattr(store, "schema_version", None)
        print(f"{store.url}: at schema version {version}, this release's")
    elif args.command == "repack":
        repack = getattr(store, "repack", None)
        if repack is None:
            print(f"{store.url}: nothing to repack (the store does not pack)")
            return 0
        moved, packed = repack()
        print(
            f"{store.url}: {moved} events moved into the journal, {packed} snapshots packed; "
            "VACUUM (SQLite) or VACUUM FULL (PostgreSQL) gives the room back"
        )
    else:
        ticked = engine.tick(args.now)
        print(f"{ticked.records} records ticked, {ticked.events} events")
    return 0


def _ingest(engine: Engine, args: argparse.Namespace) -> int:
    """``ingest`` and ``import``: 0 when every input was taken (or taken before), else 1."""
    path: Path = args.file
    history = args.command == "import"
    name = f"{args.source}:{path.resolve()}"
    if history and args.resume:
        raise UsageError("--resume is for ingest: an import is decided in time order")
    source = _source(engine, args, name)
    inputs = source.read()
    if history:
        report = engine.ingest(in_time_order(inputs), history=True, cutoff=args.cutoff)
    else:
        report = engine.ingest(inputs, source=name)
    read = report.applied + report.duplicates + report.rejected
    listed = " (listed with their reasons by `membercore dead-letters`)" if report.rejected else ""
    print(
        f"{path}: {read} inputs read to the end: {report.applied} applied, "
        f"{report.duplicates} duplicates, {report.rejected} rejected{listed}"
    )
    if isinstance(source, Reporting):
        for line in source.report():
            print(f"  {line}")
    _refusals(report)
    return 1 if report.rejected else 0


#: The refusals an ingestion prints at most (the dead letters keep every one).
_SHOWN = 100


def _refusals(report: IngestReport) -> None:
    """Each input refused, with its place in the source and the reason, in the order read."""
    for _, reason in report.refusals[:_SHOWN]:
        print(f"  refused: {reason}")
    if len(report.refusals) > _SHOWN:
        print(f"  ... and {len(report.refusals) - _SHOWN} more refused")


def _source(engine: Engine, args: argparse.Namespace, name: str) -> HisSource:
    """The source that reads the file: JSON lines, or an installed plugin's."""
    position = engine.position(name) if args.resume else None
    if args.source == "jsonl" and args.mapping is None and args.encoding is None:
        return JsonLinesSource(args.file, after=resume_line(position, args.file))
    found = engine.plugins.sources.get(args.source)
    if found is None:
        known = ", ".join(sorted(engine.plugins.sources)) or "none"
        raise UsageError(f"no HIS source is named {args.source!r} (installed: {known})")
    options = reading_options(args, path=str(args.file))
    if position is not None:
        options["after"] = position
    if args.resume:
        options["growing"] = "true"  # a message still being written waits for the next run
    return found.value(options)


def _tasks(engine: Engine) -> int:
    for task in engine.store.tasks():
        who = task.assignee or f"any {task.role}"
        if task.unassigned_reason:
            who = f"unassigned ({task.unassigned_reason})"
        print(f"{task.due_at.isoformat()}  {task.kind:<10} {task.key:<20} {task.task_key}  {who}")
    return 0


def _outbox(engine: Engine, *, dispatching: bool) -> int:
    if dispatching:
        channels = programme_channels(engine)
        report = engine.dispatch(channels)
        print(
            f"{report.delivered} delivered, {report.retrying} to retry, {report.failed} failed",
            file=sys.stderr,
        )
        return 0
    for message in engine.store.outbox("pending"):
        text = json.loads(message.payload).get("text", "")
        print(f"{message.send_at.isoformat()}  {message.channel:<6} {message.key}  {text}")
    return 0


def _record(engine: Engine, args: argparse.Namespace) -> int:
    """``member show``, ``member journal`` and ``household journal``."""
    if args.command == "member" and args.member_command == "show":
        print(json.dumps(_member_view(engine, args.member_id), ensure_ascii=False, indent=2))
        return 0
    return _journal(engine, args)


def _journal(engine: Engine, args: argparse.Namespace) -> int:
    """A record's events as the store keeps them, one JSON line each, oldest first."""
    household = args.command == "household"
    named = args.household_id if household else args.member_id
    key = household_key(named) if household else member_key(named)
    if not engine.store.load([key]):
        print(f"membercore: {args.command} {named!r} is not known", file=sys.stderr)
        return 1
    for event in engine.store.events(key, after_version=args.after_version):
        line = {
            "version": event.version,
            "type": event.type,
            "at": event.at.isoformat(),
            "event": json.loads(event.payload),
        }
        print(json.dumps(line, ensure_ascii=False))
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
        "tags": sorted(engine.tags(member_id)),
        "segment": engine.segment(member_id),
        "health_manager": member.work.health_manager,
    }
