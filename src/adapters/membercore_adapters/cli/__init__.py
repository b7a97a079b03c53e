"""The ``membercore`` command.

``membercore demo`` runs the demo hospital and prints its dashboard; ``ingest``,
``tick``, ``member show``, ``outbox``, ``tasks`` and ``dead-letters`` work on a store
(``--store URL``, by default ``sqlite:///membercore.db``); ``config check`` validates a
programme; ``walkthrough`` explains the points ledger step by step. Each exits 0 when
done, 1 when input was refused, 2 for a usage mistake and 3 for a store or
configuration error, saying what was wrong in words.

:mod:`~membercore_adapters.cli.arguments` reads the command line,
:mod:`~membercore_adapters.cli.command` runs the command (the demo, the walk-through and
the config check itself), and :mod:`~membercore_adapters.cli.store` the commands over a
store.
"""

from __future__ import annotations

from membercore_adapters.cli.arguments import DEFAULT_STORE
from membercore_adapters.cli.command import main

__all__ = ["DEFAULT_STORE", "main"]
