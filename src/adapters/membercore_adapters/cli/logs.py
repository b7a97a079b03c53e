"""How ``membercore worker`` writes its logs: text lines, or JSON lines with ``--log-json``.

A JSON line holds the record's instant (ISO 8601, UTC), level, logger and message, and
the exception when there is one: what a log shipper (journald, Loki, ELK) indexes.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

__all__ = ["JsonLines", "configure"]

TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonLines(logging.Formatter):
    """Each record as one JSON object on a line."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON text."""
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure(*, json_lines: bool) -> None:
    """Log INFO and above to standard error, as text lines or JSON lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines() if json_lines else logging.Formatter(TEXT))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
