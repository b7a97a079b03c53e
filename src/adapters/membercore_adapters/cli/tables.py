"""Listings as tables aligned by display width (a Chinese character is two columns).

rich measures each cell as a terminal shows it. A table is as wide as its cells need:
on a terminal it wraps its widest column to the terminal's width; into a file or a pipe
it never wraps, one row a line, trailing blanks trimmed.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo

import click
from rich.table import Table

from membercore_adapters.cli.speech import Words, say
from membercore_adapters.plain import plain

__all__ = ["NONE", "Column", "local_time", "show_table"]

#: A column: its heading, and whether its values line up on the right (numbers).
Column = tuple[Words, bool]


def show_table(columns: Sequence[Column], rows: Iterable[Sequence[str]]) -> int:
    """Write the rows under their headings on standard output; the number of rows.

    With no rows it says there are none.
    """
    table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold")
    for heading, right in columns:
        table.add_column(say(heading), justify="right" if right else "left", overflow="fold")
    count = 0
    for row in rows:
        table.add_row(*row)
        count += 1
    click.echo(render(table) if count else say(NONE))
    return count


#: What a listing with nothing in it says.
NONE = Words("（无）", "(none)")


def render(table: Table) -> str:
    """The table as plain text: a terminal's width at most, else as wide as it is."""
    terminal = sys.stdout.isatty()
    return plain([table], shutil.get_terminal_size().columns if terminal else 100_000)


def local_time(at: datetime, zone: tzinfo) -> str:
    """An instant as the programme's clocks show it, to the minute."""
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
