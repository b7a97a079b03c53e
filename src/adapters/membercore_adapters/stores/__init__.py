"""The first-party stores: in memory, SQLite and PostgreSQL, and what they share.

Each backend is a plugin serving URL schemes (``memory://``, ``sqlite:///...``,
``postgresql://...``); the engine opens a store by URL and sees only the
:class:`~membercore.ports.Store` port.

- :mod:`.memory`: the in-memory store.
- :mod:`.sqlite` and :mod:`.postgres`: the SQL stores, each a package (its schema, its
  own statements, the store).
- The one check of a commit all three make is the port's own
  (:mod:`membercore.ports.commits`), so that any backend may make it too.
- :mod:`.sql` and :mod:`.rows`: what the SQL stores share (reads, paging, claims'
  checks, deliveries, migration steps, opening read-only; the row mapping).
- :mod:`.base`: closing at the end of a ``with`` block, and the check of a claim.
"""

from __future__ import annotations

__all__: list[str] = []
