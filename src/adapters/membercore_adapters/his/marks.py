"""Where a file's reader resumes: a place in the file, and the start of the file it was in.

A position names the file's start as it was read (``line 1204 of 512:5f3c...``: a
digest of its first 512 bytes), so that a file replaced under the same name — today's
export written over yesterday's — is read again from its start, rather than after a
line of another file. A position without it (written by an earlier release) resumes
where it says.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

__all__ = [
    "HEAD",
    "head_digest",
    "head_mark",
    "line_position",
    "resume_line",
    "resume_row",
    "row_position",
    "same_head",
]

#: How much of a file's start names it.
HEAD = 512
_LINE = re.compile(r"^line (\d+)(?: of (\d+):([0-9a-f]+))?")
_ROW = re.compile(r"^row (\d+)(?: of (\d+):([0-9a-f]+))?")


def head_digest(path: Path, length: int) -> str:
    """A digest of the first ``length`` bytes of ``path``."""
    with path.open("rb") as file:
        return hashlib.blake2b(file.read(length), digest_size=8).hexdigest()


def head_mark(path: Path, *, whole: bool = False) -> str:
    """What names the file's start (or, ``whole``, the file): ``of <length>:<digest>``.

    A workbook is named whole: it is a zip archive whose start says nothing of its
    sheets, and is replaced rather than appended to.
    """
    size = path.stat().st_size
    length = size if whole else min(HEAD, size)
    return f"of {length}:{head_digest(path, length)}"


def same_head(path: Path, length: int, digest: str) -> bool:
    """Whether the file still starts as it did when ``digest`` was taken of ``length`` bytes."""
    return path.stat().st_size >= length and head_digest(path, length) == digest


def line_position(number: int, mark: str) -> str:
    """The position after line ``number`` of the file ``mark`` names."""
    return f"line {number} {mark}"


def row_position(number: int, mark: str) -> str:
    """The position after row ``number`` of the workbook ``mark`` names."""
    return f"row {number} {mark}"


def resume_line(position: str | None, path: Path | None = None) -> int:
    """The lines to pass over, from a committed position (0: read from the start).

    With ``path``, a position taken in a file that started otherwise (replaced since) is
    read from the start again: what was taken before is a duplicate.
    """
    return _resume(_LINE, position, path)


def resume_row(position: str | None, path: Path | None = None) -> int:
    """The rows of a workbook to pass over, as :func:`resume_line` reads lines."""
    return _resume(_ROW, position, path)


def _resume(pattern: re.Pattern[str], position: str | None, path: Path | None) -> int:
    found = pattern.match(position or "")
    if not found:
        return 0
    length, digest = found.group(2), found.group(3)
    if path is not None and length is not None and not same_head(path, int(length), digest):
        return 0
    return int(found.group(1))
