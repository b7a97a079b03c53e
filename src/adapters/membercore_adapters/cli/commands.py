"""The first-party commands of ``membercore``, added through the same hook as a plugin's.

The ``membercore`` entry point ``commands`` names this module; its
:func:`membercore_register_commands` adds ``demo``, ``walkthrough``, ``config``, the
commands over a store, ``member``, ``household``, ``worker``, ``serve``, and ``token``
and ``staff`` (who may use the programme).
"""

from __future__ import annotations

from collections.abc import Callable

import click

from membercore import hookimpl
from membercore_adapters.cli import (
    access,
    demo,
    programme,
    records,
    report,
    serve,
    store,
    whatif,
    worker,
)

__all__ = ["membercore_register_commands"]


@hookimpl
def membercore_register_commands(register: Callable[[str, click.Command], None]) -> None:
    """Add the first-party commands."""
    for part in (demo, programme, store, worker, serve, records, access, report, whatif):
        for command in part.commands():
            assert command.name is not None
            register(command.name, command)
