"""The views to poll and how their rows become facts, read strictly from TOML.

A views file::

    [dbview]
    url_env = "HIS_DB_URL"           # or url = "mysql+pymysql://reader@his-db/his"
    timezone = "Asia/Shanghai"       # the zone of times stored without one
    page_size = 1000                 # rows per query

    [dbview.departments]             # the hospital's codes, shared by every view
    "0301" = "endocrinology"

    [dbview.views.charges]           # one view (or query) per table, one fact type each
    view = "v_mz_sfmx"               # or query = "SELECT ... FROM ..."
    watermark = "修改时间"             # a modification time or an increasing id
    watermark_kind = "time"          # or "number"
    overlap = 300                    # seconds (or ids) read again for rows committed late
    fact = "charge_paid"
    key = ["收费单号", "明细号"]
    patient = { identifier = "就诊卡号", system = "HZ01^CARD" }

    [dbview.views.charges.columns]
    occurred_at = "收费时间"
    ...

Every problem is a :class:`~membercore.errors.ConfigError` naming the key
(``dbview.views.charges.watermark``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from membercore.errors import ConfigError
from membercore.serialization import mapping_files as keys
from membercore_adapters.his.rows import CODE_KEYS, Codes, RowMapping, codes_from, row_mapping

__all__ = ["View", "ViewsConfig", "load_views", "views_from_dict"]

WatermarkKind = Literal["time", "number"]

_TOP = CODE_KEYS | {"url", "url_env", "page_size", "views"}
_VIEW_KEYS = frozenset({"view", "query", "watermark", "watermark_kind", "overlap"})
#: Seconds read again before a time watermark, when the view says nothing.
DEFAULT_OVERLAP = 300


@attrs.frozen(kw_only=True)
class View:
    """One view (or query) polled by its watermark, its rows one fact type.

    Attributes:
        name: the view's name in the file (``charges``): named in positions and fact ids.
        view: the view or table to read (``his.v_mz_sfmx``), or None for ``query``.
        query: a SELECT whose rows are read, or None for ``view``.
        watermark: the column rows are polled by.
        kind: ``time`` (a modification time) or ``number`` (an increasing id).
        overlap: how far before the last watermark taken a poll reads again (seconds
            for a time, ids for a number), to take rows committed late.
        rows: how its rows become facts.
    """

    name: str
    view: str | None
    query: str | None
    watermark: str
    kind: WatermarkKind
    overlap: int
    rows: RowMapping


@attrs.frozen(kw_only=True)
class ViewsConfig:
    """The database and the views polled in it.

    Attributes:
        url: the database's SQLAlchemy URL (it may hold a password: never print it
            but through :meth:`shown`).
        page_size: rows per query.
        views: the views, polled in the file's order.
    """

    url: URL = attrs.field(repr=False)
    page_size: int = 1000
    views: tuple[View, ...]

    def shown(self) -> str:
        """The URL without its password."""
        return self.url.render_as_string(hide_password=True)


def load_views(path: Path, environ: Mapping[str, str] | None = None) -> ViewsConfig:
    """Read a views file (TOML, UTF-8 with or without a byte-order mark).

    Args:
        path: the file.
        environ: where ``url_env`` is looked up (the process's environment by default).

    Raises:
        OSError: the file cannot be read.
        ConfigError: the file is not TOML, or a key is unknown, missing or wrong.
    """
    data = keys.read_toml(path, "the views file")
    return views_from_dict(data, os.environ if environ is None else environ)


def views_from_dict(data: Mapping[str, Any], environ: Mapping[str, str]) -> ViewsConfig:
    """The views of TOML data's table ``dbview``.

    Raises:
        ConfigError: naming the key that is unknown, missing or holds a wrong value.
    """
    table = data.get("dbview")
    if not isinstance(table, Mapping):
        raise ConfigError("dbview", "missing: the views are the table [dbview]")
    keys.known("dbview", table, _TOP)
    codes = codes_from(table, "dbview")
    views = table.get("views")
    if not isinstance(views, Mapping) or not views:
        raise ConfigError("dbview.views", "at least one view: [dbview.views.<name>]")
    page_size = table.get("page_size", 1000)
    if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
        raise ConfigError("dbview.page_size", f"a whole number of rows, not {page_size!r}")
    return ViewsConfig(
        url=_url(table, environ),
        page_size=page_size,
        views=tuple(_view(str(name), view, codes) for name, view in views.items()),
    )


def _url(table: Mapping[str, Any], environ: Mapping[str, str]) -> URL:
    if ("url" in table) == ("url_env" in table):
        raise ConfigError("dbview.url", "either url or url_env (an environment variable)")
    if "url" in table:
        key, text = "dbview.url", table["url"]
    else:
        key, variable = "dbview.url_env", table["url_env"]
        if not isinstance(variable, str) or not variable:
            raise ConfigError(key, f"an environment variable's name, not {variable!r}")
        text = environ.get(variable)
        if not text:
            raise ConfigError(key, f"the environment variable {variable} is not set")
    if not isinstance(text, str):
        raise ConfigError(key, "a database URL (mysql+pymysql://user@host/db)")
    try:
        url = make_url(text)
    except ArgumentError:
        # The URL may hold a password: it is not repeated.
        raise ConfigError(key, "not a database URL (mysql+pymysql://user@host/db)") from None
    if url.host is not None and "@" in url.host:
        # An "@" in the password left as it is: the rest of the password would be taken
        # for the host, and said in every error that names the host.
        problem = "an '@' in the user or the password is written %40 (percent-encoded)"
        raise ConfigError(key, problem)
    return url


def _view(name: str, table: object, codes: Codes) -> View:
    key = f"dbview.views.{name}"
    rows = row_mapping(table, key, codes, ids=f"dbview:{name}", extra=_VIEW_KEYS)
    assert isinstance(table, Mapping)  # row_mapping checked it
    if ("view" in table) == ("query" in table):
        raise ConfigError(f"{key}.view", "either view (a view's name) or query (a SELECT)")
    source = {}
    for option in ("view", "query"):
        if option in table:
            source[option] = keys.text(f"{key}.{option}", table[option])
    watermark = table.get("watermark")
    if not isinstance(watermark, str) or not watermark:
        raise ConfigError(f"{key}.watermark", "the column rows are polled by")
    kind = table.get("watermark_kind", "time")
    if kind not in ("time", "number"):
        raise ConfigError(f"{key}.watermark_kind", f"'time' or 'number', not {kind!r}")
    overlap = table.get("overlap", DEFAULT_OVERLAP if kind == "time" else 0)
    if not isinstance(overlap, int) or isinstance(overlap, bool) or overlap < 0:
        raise ConfigError(f"{key}.overlap", f"a whole number, 0 or more, not {overlap!r}")
    return View(
        name=name,
        view=source.get("view"),
        query=source.get("query"),
        watermark=watermark,
        kind=kind,
        overlap=overlap,
        rows=rows,
    )
