"""The ``membercore`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from membercore import ConfigError, load_config_toml
from membercore_adapters.demo import ledger_walkthrough

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``membercore`` command; return its exit status."""
    parser = argparse.ArgumentParser(
        prog="membercore", description="The membership programme of a private hospital."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="walk through the points ledger of the reference programme")
    config = commands.add_parser("config", help="programme configuration")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    check = config_commands.add_parser("check", help="validate a programme config (TOML)")
    check.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    if args.command == "demo":
        ledger_walkthrough()
        return 0
    return _check_config(args.file)


def _check_config(path: Path) -> int:
    try:
        config = load_config_toml(path.read_text(encoding="utf-8"))
    except OSError as error:
        print(f"{path}: cannot read: {error.strerror}", file=sys.stderr)
        return 2
    except ConfigError as error:
        print(f"{path}: {error}", file=sys.stderr)
        return 1
    print(f"{path}: valid programme {config.name!r} v{config.version} ({config.timezone})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
