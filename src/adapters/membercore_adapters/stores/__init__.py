"""The first-party stores: in memory, SQLite and PostgreSQL, and what they share.

Each backend is a plugin serving URL schemes (``memory://``, ``sqlite:///...``,
``postgresql://...``); the engine opens a store by URL and sees only the
:class:`~membercore.ports.Store` port.
"""

from __future__ import annotations

__all__: list[str] = []
