"""Database views for membercore: a HIS's read-only views polled by a watermark column.

Many HIS vendors hand other systems read-only views (视图) on the HIS database rather
than messages. This plugin polls them — each view (or query) by a watermark column, a
modification time or an increasing id, with an overlap for rows committed late — through
SQLAlchemy Core, so that the database is the hospital's (MySQL/MariaDB, PostgreSQL, SQL
Server, Oracle). Each view's rows become one fact type through the row mapping the CSV
import shares (:mod:`membercore_adapters.his.rows`). Registered as the HIS source
``dbview``: ``membercore ingest --source dbview VIEWS.toml --resume`` and ``membercore
worker --poll dbview:VIEWS.toml``.
"""

from __future__ import annotations

from collections.abc import Callable

from membercore.hookspecs import SourceFactory, hookimpl
from membercore_dbview.config import View, ViewsConfig, load_views, views_from_dict
from membercore_dbview.source import DbViewSource, ViewUnreadableError
from membercore_dbview.watermarks import Mark, marks_from, position_of

__all__ = [
    "DbViewSource",
    "Mark",
    "View",
    "ViewUnreadableError",
    "ViewsConfig",
    "load_views",
    "marks_from",
    "membercore_register_his_sources",
    "position_of",
    "views_from_dict",
]


@hookimpl
def membercore_register_his_sources(register: Callable[[str, SourceFactory], None]) -> None:
    """Provide the database-view source, ``dbview``."""
    register("dbview", DbViewSource.from_options)
