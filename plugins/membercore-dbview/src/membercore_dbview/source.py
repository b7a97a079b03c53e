"""Polling views by their watermark: each view's rows after the last taken, page by page.

A view's rows are read in the order of (watermark, key), a page at a time, each page
after the last row of the one before (keyset paging: many rows sharing one modification
time are read across a page's end, none twice, none missed). A poll that resumes after a
committed position first reads again the rows up to ``overlap`` before the last
watermark taken — rows committed late, with an earlier watermark than rows already
read, are taken then; those taken before are duplicates, which the engine ignores (their
fact ids are their keys) — then the rows after it. Every input is positioned with every
view's last row taken (:mod:`~membercore_dbview.watermarks`), so that the engine
commits the watermarks with the facts of each batch. Rows whose watermark or key is
NULL are not read: a view's key is what names its rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    Connection,
    Engine,
    and_,
    column,
    create_engine,
    not_,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.exc import NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import NullPool
from sqlalchemy.sql import FromClause

from membercore.errors import ConfigError, MembercoreError
from membercore.ports import Positioned, Unreadable
from membercore_adapters.his.logs import logged_read
from membercore_adapters.his.rows import RowReader
from membercore_dbview.config import View, ViewsConfig, load_views
from membercore_dbview.watermarks import Mark, marks_from, position_of

__all__ = ["DbViewSource", "ViewUnreadableError"]


class ViewUnreadableError(MembercoreError, ConnectionError):
    """A view could not be read: the database did not answer, or refused the query.

    It is an ``OSError`` too, so that ``membercore worker`` logs it and polls again
    later, as it does a file it cannot read.

    Attributes:
        view: the view's name in the views file.
        problem: what the database said.
    """

    def __init__(self, view: str, problem: str) -> None:
        ConnectionError.__init__(self, None, problem, f"view {view!r}")
        self.view = view
        self.problem = problem

    def __str__(self) -> str:
        return f"view {self.view!r}: {self.problem}"


class DbViewSource:
    """Reads the rows of the views of a views file added since a position.

    Args:
        config: the database and its views.
        after: the position the engine committed for the views file, or None to read
            every view from its start.
    """

    name = "dbview"

    def __init__(self, config: ViewsConfig, *, after: str | None = None) -> None:
        self.config = config
        self.after = after
        _dialect(config)  # the driver is installed, or say which one to install

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> DbViewSource:
        """Build one from options: ``path`` (the views file) and ``after`` if given.

        Raises:
            ConfigError: the views file is invalid, naming the key.
            OSError: the views file cannot be read.
        """
        return cls(load_views(Path(options["path"])), after=options.get("after"))

    def read(self) -> Iterator[Positioned]:
        """Every view's rows since the position, each row's inputs positioned.

        What the read did is logged under ``membercore.source.dbview``
        (:mod:`membercore_adapters.his.logs`): no patient's details.

        Raises:
            ViewUnreadableError: the database did not answer or refused a query.
        """
        views = self.config.views
        what = f"views {', '.join(view.name for view in views)}"
        columns = {name for view in views for name in (*view.rows.read_columns(), view.watermark)}
        return logged_read(self.name, self._read(), what=what, after=self.after, keep=columns)

    def _read(self) -> Iterator[Positioned]:
        marks = marks_from(self.after, [view.name for view in self.config.views])
        engine = create_engine(self.config.url, poolclass=NullPool)
        try:
            with _connected(engine, self.config.views[0]) as connection:
                for view in self.config.views:
                    yield from self._view(connection, view, marks)
        finally:
            engine.dispose()

    def _view(
        self, connection: Connection, view: View, marks: dict[str, Mark | None]
    ) -> Iterator[Positioned]:
        source = _selectable(view)
        order = [source.c[view.watermark], *(source.c[key] for key in view.rows.key_columns)]
        present = and_(*(named.is_not(None) for named in order))
        reader = RowReader(view.rows)
        last = marks[view.name]
        pages = _Pages(connection, view, source, order, self.config.page_size)
        if last is not None:
            low = _minus(view, last.watermark)
            again = and_(present, order[0] >= low, not_(_after(order, last)))
            for row in pages.rows(again):
                if _key(view, row) not in {key for _, key in last.refused}:
                    yield from _read(reader, view, row, marks, moved=False)
            present = and_(present, _after(order, last))
        for row in pages.rows(present):
            yield from _read(reader, view, row, marks, moved=True)


def _read(
    reader: RowReader,
    view: View,
    row: dict[str, Any],
    marks: dict[str, Mark | None],
    *,
    moved: bool,
) -> list[Positioned]:
    """A row's inputs, positioned with the marks it leaves (the view's moved to it if ``moved``).

    A row the source refuses is named among the view's refused rows, so that a later
    poll's overlap passes over it (its dead letter is kept already).
    """
    said = _said(view, row)
    before = position_of(marks, said)
    last = marks[view.name]
    inputs = reader.inputs(row, where=before, before=before)
    refused = isinstance(inputs[-1].raw, Unreadable)
    if moved or refused:
        mark = _mark(view, row) if moved or last is None else last
        kept = last.refused if last is not None else ()
        if refused:
            kept = (*kept, (row[view.watermark], _key(view, row)))
        low = _minus(view, mark.watermark)
        marks[view.name] = attrs.evolve(mark, refused=tuple(r for r in kept if not r[0] < low))
    where = position_of(marks, said)
    return [
        attrs.evolve(item, position=where if n == len(inputs) - 1 else before, place=said)
        for n, item in enumerate(inputs)
    ]


def _dialect(config: ViewsConfig) -> None:
    """Load the URL's dialect and driver (connecting to nothing).

    Raises:
        ConfigError: the URL names a database or driver that is not installed.
    """
    try:
        create_engine(config.url, poolclass=NullPool).dispose()
    except (ImportError, NoSuchModuleError) as error:
        raise ConfigError(
            "dbview.url",
            f"no driver for {config.url.drivername}:// is installed ({error}): install the "
            "HIS database's and name it in the URL — mysql+pymysql://, "
            "postgresql+psycopg://, mssql+pyodbc://, oracle+oracledb://",
        ) from None


def _connected(engine: Engine, first: View) -> Connection:
    """A connection to the database, or why there is none (naming the view it was for)."""
    try:
        return engine.connect()
    except SQLAlchemyError as error:
        raise _unreadable(first, error) from error


def _unreadable(view: View, error: SQLAlchemyError) -> ViewUnreadableError:
    """The database's own words (never the URL, which may hold a password)."""
    cause = getattr(error, "orig", None) or error
    return ViewUnreadableError(view.name, f"{type(cause).__name__}: {cause}")


class _Pages:
    """A view's rows in (watermark, key) order, a page per query."""

    def __init__(
        self,
        connection: Connection,
        view: View,
        source: FromClause,
        order: Sequence[ColumnElement[Any]],
        size: int,
    ) -> None:
        self.connection = connection
        self.view = view
        self.source = source
        self.order = order
        self.size = size

    def rows(self, where: ColumnElement[bool]) -> Iterator[dict[str, Any]]:
        """The rows ``where`` holds, page after page."""
        cursor: Mark | None = None
        while True:
            condition = where if cursor is None else and_(where, _after(self.order, cursor))
            query = select(*self.source.c).where(condition).order_by(*self.order)
            page = self._fetch(query.limit(self.size))
            yield from page
            if len(page) < self.size:
                return
            cursor = _mark(self.view, page[-1])

    def _fetch(self, query: Any) -> list[dict[str, Any]]:
        try:
            rows = [dict(row._mapping) for row in self.connection.execute(query)]
            self.connection.rollback()  # no read transaction held between pages
        except SQLAlchemyError as error:
            raise _unreadable(self.view, error) from error
        return rows


def _selectable(view: View) -> FromClause:
    """The view (or the query, as a subquery) with the columns its mapping reads."""
    columns: list[ColumnClause[Any]] = [
        column(name) for name in dict.fromkeys([*view.rows.read_columns(), view.watermark])
    ]
    if view.query is not None:
        return text(view.query).columns(*columns).subquery("membercore_rows")
    assert view.view is not None
    schema, _, name = view.view.rpartition(".")
    return table(name, *columns, schema=schema or None)


def _after(order: Sequence[ColumnElement[Any]], mark: Mark) -> ColumnElement[bool]:
    """Rows after ``mark`` in (watermark, key) order, as the database compares them."""
    values = [mark.watermark, *mark.key]
    condition: ColumnElement[bool] = order[-1] > values[-1]
    for named, value in zip(reversed(order[:-1]), reversed(values[:-1]), strict=True):
        condition = or_(named > value, and_(named == value, condition))
    return condition


_TEXT_TIME = re.compile(r"\d{4}-\d{2}-\d{2}([ T])\d{2}:\d{2}:\d{2}(\.\d+)?")


def _minus(view: View, watermark: Any) -> Any:
    """The watermark ``overlap`` before ``watermark``: seconds for a time, ids for a number.

    A time stored as text (SQLite) is written back in the layout it was read in, so that
    the database compares it as it compares its own; a date goes back whole days.

    Raises:
        ViewUnreadableError: the overlap cannot be taken before a watermark of this kind
            (rows committed late would be missed without a word).
    """
    overlap = view.overlap
    if isinstance(watermark, datetime):
        return watermark - timedelta(seconds=overlap)
    if isinstance(watermark, date):
        return watermark - timedelta(days=-(-overlap // 86_400))
    if isinstance(watermark, int | Decimal | float) and not isinstance(watermark, bool):
        return watermark - overlap
    if isinstance(watermark, str) and (found := _TEXT_TIME.fullmatch(watermark)):
        earlier = datetime.fromisoformat(watermark) - timedelta(seconds=overlap)
        fraction = found.group(2)
        spec = "seconds" if fraction is None else "microseconds"
        written = earlier.isoformat(sep=found.group(1), timespec=spec)
        return written[: len(watermark)] if fraction is not None else written
    if not overlap:
        return watermark
    raise ViewUnreadableError(
        view.name,
        f"column {view.watermark!r} holds {watermark!r}, which the overlap of {overlap} "
        f"cannot be taken before: a watermark_kind {view.kind!r} column holds "
        + ("date-times" if view.kind == "time" else "numbers"),
    )


def _mark(view: View, row: Mapping[str, Any]) -> Mark:
    return Mark(row[view.watermark], _key(view, row))


def _key(view: View, row: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(row[key] for key in view.rows.key_columns)


def _said(view: View, row: Mapping[str, Any]) -> str:
    key = "/".join(str(row[k]) for k in view.rows.key_columns)
    watermark = row[view.watermark]
    shown = watermark.isoformat(sep=" ") if isinstance(watermark, datetime) else watermark
    return f"view {view.name}, row {key} at {shown}"
