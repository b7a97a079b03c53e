"""rich tables and texts as plain text: aligned by display width, no escape codes.

The dashboard and the command's listings are written as rich renders them (a Chinese
character two columns wide), then printed as plain lines: the same on a terminal, in a
file and in a pipe, without colour codes or trailing blanks.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from rich.console import Console, RenderableType

__all__ = ["plain"]


def plain(renderables: Iterable[RenderableType], width: int) -> str:
    """The renderables one after the other, ``width`` display columns at most."""
    written = io.StringIO()
    console = Console(
        file=written,
        width=width,
        force_terminal=False,
        no_color=True,
        color_system=None,
        highlight=False,
        markup=False,
        emoji=False,
        legacy_windows=False,
    )
    for renderable in renderables:
        console.print(renderable)
    return "\n".join(line.rstrip() for line in written.getvalue().splitlines())
