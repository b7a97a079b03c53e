"""The ``membercore`` command.

``membercore demo`` runs the demo hospital and prints its dashboard; ``ingest``,
``import``, ``tick``, ``member``, ``household``, ``outbox``, ``tasks`` and
``dead-letters`` work on a store (``--store URL``, by default
``sqlite:///membercore.db``); ``worker`` runs until stopped; ``config init`` writes a
programme to start from and ``config check`` validates one; ``walkthrough`` explains the
points ledger step by step. It speaks Chinese unless ``--lang en``. Each exits 0 when
done, 1 when input was refused, 2 for a usage mistake and 3 for a store or configuration
error, saying what was wrong in words.

:mod:`~membercore_adapters.cli.app` runs the command line, and every command is added
through the ``membercore_register_commands`` hook (:mod:`~membercore_adapters.cli.commands`),
as a plugin adds its own.
"""

from __future__ import annotations

from membercore_adapters.cli.app import command_line, main
from membercore_adapters.cli.arguments import DEFAULT_STORE

__all__ = ["DEFAULT_STORE", "command_line", "main"]
