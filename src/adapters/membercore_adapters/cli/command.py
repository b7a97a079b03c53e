"""Running ``membercore``: each command, the demo, the walk-through and the config check."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from membercore import MembercoreError, reference_config
from membercore.config import ProgrammeConfig
from membercore.errors import PluginError, StorageError
from membercore.journeys import check_tags, validate
from membercore.plugins import Plugins, collect, make_plugin_manager
from membercore.ports import Commit, SourcePosition, Store, carriage
from membercore.serialization import load_config_file, message_types
from membercore.service.channels import build_channels
from membercore.service.engine import Engine
from membercore.testing.clock import ManualClock
from membercore_adapters.cli.arguments import Exit, parser
from membercore_adapters.cli.store import with_store
from membercore_adapters.cli.summary import summary
from membercore_adapters.demo import HospitalSpec, ProgressBar, dashboard, run_demo
from membercore_adapters.demo.walkthrough import ledger_walkthrough
from membercore_adapters.stores.sql import without_migrating
from membercore_adapters.stores.sqlite import database_path

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``membercore`` command; return its exit status.

    A reader that stops reading (``membercore outbox | head``) ends the command quietly
    with status 1, as other command-line tools do.
    """
    try:
        return int(_run(argv))
    except BrokenPipeError:
        _quiet_stdout()
        return Exit.REFUSED


def _quiet_stdout() -> None:
    """Send what is left of the output nowhere: the reader has gone (Python's own advice)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a file: nothing is flushed to it
        pass


def _run(argv: Sequence[str] | None) -> int:
    args = parser().parse_args(argv)
    if args.command == "demo":
        return _demo(args)
    if args.command == "walkthrough":
        ledger_walkthrough()
        return 0
    if args.command == "config":
        return _check_config(args.file, with_plugins=not args.without_plugins)
    return with_store(args)


#: The source name under which a demo marks the store it writes (a committed position).
DEMO_MARK = "membercore demo"


def _demo(args: argparse.Namespace) -> int:
    spec = HospitalSpec(patients=args.patients, months=args.months, seed=args.seed)
    try:
        _claim(args.store, spec)
        bar = None if args.quiet else ProgressBar(spec)
        result = run_demo(spec, args.store, workers=args.workers, progress=bar)
    except MembercoreError as error:  # the store refused, unreachable or not a store
        print(f"membercore demo: {error}", file=sys.stderr)
        return Exit.STORE
    if bar is not None:
        bar.close()
    print(dashboard(result, reference_config()))
    return Exit.DONE


class NotTheDemosError(StorageError):
    """A store holds records a demo did not write: the demo leaves it alone."""

    def __init__(self, url: str) -> None:
        super().__init__(
            url,
            "存储中已有非演示数据，演示不会改动它 / holds records the demo did not write: "
            "the demo leaves it as it is; run it on a new file (--store "
            "sqlite:///membercore-demo.db) or a store an earlier demo wrote",
        )


def _claim(url: str, spec: HospitalSpec) -> None:
    """Make the store the demo's: a new or empty one, or an earlier demo's started afresh.

    A SQLite file an earlier demo wrote is deleted and written anew; any other store
    that holds records is refused, and nothing in it is changed. The demo then marks the
    store as its own with a committed position, which only it writes.

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
    with _engine(url, spec) as engine:
        mark = f"seed {spec.seed}, {spec.patients} patients, {spec.months} months"
        engine.store.commit(Commit(positions=[SourcePosition(source=DEMO_MARK, position=mark)]))


def _engine(url: str, spec: HospitalSpec) -> Engine:
    return Engine.open(url, config=reference_config(), clock=ManualClock(spec.start))


def _empty(store: Store) -> bool:
    """Whether the store holds no record, message, task or refused input."""
    held = (store.scan(), store.outbox(), store.tasks(None), store.dead_letters())
    return all(next(iter(listing), None) is None for listing in held)


def _check_config(path: Path, *, with_plugins: bool) -> int:
    try:
        config = load_config_file(path)
        plugins = collect(make_plugin_manager(load_entrypoints=with_plugins), config)
        known = message_types()
        journeys = (*config.journeys, *(found.value for found in plugins.journeys))
        for journey in journeys:
            check_tags(validate(journey, plugins.registry), known)
        carried = _carriage(config, plugins) if with_plugins else []
    except OSError as error:
        print(f"{path}: cannot read: {error.strerror}", file=sys.stderr)
        return Exit.STORE
    except MembercoreError as error:  # a key, or a journey naming what no plugin has
        print(f"{path}: {error}", file=sys.stderr)
        if isinstance(error, PluginError) and isinstance(error.__cause__, MembercoreError):
            print(
                f"{path}: an installed plugin needs this of the programme; "
                "`membercore config check --without-plugins` checks the programme alone",
                file=sys.stderr,
            )
        return Exit.REFUSED
    print(f"{path}: valid programme {config.name!r} v{config.version} ({config.timezone})")
    for line in (*summary(config, journeys), *carried):
        print(line)
    return Exit.DONE


def _carriage(config: ProgrammeConfig, plugins: Plugins) -> list[str]:
    """How each configured channel carries the templates that may go by it, to print.

    Building the channels checks their options, their environment variables and that
    they carry every such template (a ConfigError naming the key otherwise).
    """
    lines: list[str] = []
    for name, channel in build_channels(config, plugins).items():
        lines.append(f"channel {name} ({config.channels[name].use}):")
        going = [t for t in config.outreach.templates if name in t.channels]
        lines += [f"  {key}: {how}" for key, how in carriage(channel, going).items()]
        if not going:
            lines.append("  (no programme template goes by it)")
        closing = getattr(channel, "close", None)
        if callable(closing):
            closing()
    return lines
