"""Where a poll of the views stands: each view's last watermark and key taken, as text.

One position names every view of a views file, so that the engine commits it with the
facts of each batch (``Engine.ingest(..., source=...)``) and a poll started again after it
resumes each view exactly: a JSON object from each view's name to ``[watermark, [key
values]]`` (``null`` for a view not read yet), values of types JSON lacks tagged
(``{"datetime": "2025-03-02T10:30:00"}``, ``{"decimal": "12.50"}``, ``{"date": ...}``),
followed by the row it was given for, in words (``view charges, row SF001/1 at 2025-03-02
10:30:00``), which a refusal names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs

__all__ = ["Mark", "Marks", "marks_from", "position_of"]


@attrs.frozen
class Mark:
    """The last row of a view read, and the rows the source refused since the overlap's start.

    Attributes:
        watermark: the last row's watermark.
        key: the last row's key's values.
        refused: the rows the source could not translate (each its watermark and key)
            that a later poll's overlap reads again: it passes over them, their dead
            letters kept already.
    """

    watermark: Any
    key: tuple[Any, ...]
    refused: tuple[tuple[Any, tuple[Any, ...]], ...] = ()


#: Each view's mark (None: not read yet).
Marks = Mapping[str, Mark | None]


def position_of(marks: Marks, said: str) -> str:
    """The position text of ``marks``, followed by ``said`` (the row, in words)."""
    data = {name: None if mark is None else _marked(mark) for name, mark in marks.items()}
    return f"{json.dumps(data, ensure_ascii=False, separators=(',', ':'))} {said}"


def marks_from(position: str | None, views: Sequence[str]) -> dict[str, Mark | None]:
    """Each view's mark in a committed position (None where it names none, or no position).

    A position that is not one of these (a file's ``line 12``) names no mark: every
    view is read from its start.
    """
    marks: dict[str, Mark | None] = dict.fromkeys(views)
    try:
        data, _ = json.JSONDecoder().raw_decode(position or "")
    except ValueError:
        return marks
    if not isinstance(data, dict):
        return marks
    for name in views:
        found = data.get(name)
        if isinstance(found, list) and len(found) in (2, 3) and isinstance(found[1], list):
            refused = found[2] if len(found) == 3 and isinstance(found[2], list) else []
            marks[name] = Mark(
                _typed(found[0]),
                _key(found[1]),
                tuple((_typed(w), _key(k)) for w, k in refused),
            )
    return marks


def _marked(mark: Mark) -> list[object]:
    marked: list[object] = [_plain(mark.watermark), [_plain(v) for v in mark.key]]
    if mark.refused:
        marked.append([[_plain(w), [_plain(v) for v in k]] for w, k in mark.refused])
    return marked


def _key(values: list[object]) -> tuple[Any, ...]:
    return tuple(_typed(value) for value in values)


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _typed(value: object) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((kind, text),) = value.items()
        if kind == "datetime":
            return datetime.fromisoformat(text)
        if kind == "date":
            return date.fromisoformat(text)
        if kind == "decimal":
            return Decimal(text)
    return value
