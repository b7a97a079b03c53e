"""Running ``membercore``: each command, the demo, the walk-through and the config check."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from membercore import MembercoreError, reference_config
from membercore.config import ProgrammeConfig
from membercore.errors import PluginError
from membercore.journeys import check_tags, validate
from membercore.plugins import Plugins, collect, make_plugin_manager
from membercore.ports import carriage
from membercore.serialization import load_config_file, message_types
from membercore.service.channels import build_channels
from membercore_adapters.cli.arguments import parser
from membercore_adapters.cli.store import with_store
from membercore_adapters.demo import HospitalSpec, ProgressBar, dashboard, run_demo
from membercore_adapters.demo.walkthrough import ledger_walkthrough

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``membercore`` command; return its exit status.

    A reader that stops reading (``membercore outbox | head``) ends the command quietly
    with status 1, as other command-line tools do.
    """
    try:
        return _run(argv)
    except BrokenPipeError:
        _quiet_stdout()
        return 1


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
        carried = _carriage(config, plugins) if with_plugins else []
    except OSError as error:
        print(f"{path}: cannot read: {error.strerror}", file=sys.stderr)
        return 2
    except MembercoreError as error:  # a key, or a journey naming what no plugin has
        print(f"{path}: {error}", file=sys.stderr)
        if isinstance(error, PluginError) and isinstance(error.__cause__, MembercoreError):
            print(
                f"{path}: an installed plugin needs this of the programme; "
                "`membercore config check --without-plugins` checks the programme alone",
                file=sys.stderr,
            )
        return 1
    print(f"{path}: valid programme {config.name!r} v{config.version} ({config.timezone})")
    for line in carried:
        print(line)
    return 0


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
