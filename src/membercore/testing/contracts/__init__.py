"""The conformance suites every storage backend runs, one per role, shipped as a pytest plugin.

The store port is a protocol per role (:mod:`membercore.ports.store`), and each role has
its contract here: :class:`RecordsContract`, :class:`TimersContract`,
:class:`InboxContract`, :class:`OutboxContract`, :class:`DeadLettersContract`,
:class:`TasksContract`, :class:`IdentitiesContract`, :class:`PositionsContract` and
:class:`InputLogContract`.
:class:`StoreContract` subclasses them all and adds what only the roles together show (a
refused commit writes nothing to any table, every instant comes back in UTC). A backend
runs ``StoreContract``; while it is being written, it can run one role's contract at a
time (each needs the role's methods, ``commit``, ``close`` and ``url``). A store that
keeps accounts too (the optional :class:`~membercore.ports.AccountStore`: API tokens,
staff accounts, look-ups) runs :class:`AccountsContract` besides, and one that erases a
person's data (the optional :class:`~membercore.ports.ErasureStore`) runs
:class:`ErasureContract`; neither is part of ``StoreContract``.

Installing ``membercore[testing]`` prepares pytest for it (entry point ``pytest11``,
plugin name ``membercore``, module :mod:`membercore.testing.pytest_plugin`: the suite's
assertions show their values). A backend's test module subclasses a contract and
overrides one fixture, ``store``, which yields a fresh, empty store and closes it
afterwards::

    import pytest
    from membercore.testing.contracts import StoreContract

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            store = MyStore.open(f"my:///{tmp_path}/db")
            yield store
            store.close()

The contract classes carry no ``Test`` prefix, so pytest collects them only through a
subclass. Every contract test is marked ``store_contract`` (``pytest -m store_contract``
runs just the suite). With plugin autoloading off (``PYTEST_DISABLE_PLUGIN_AUTOLOAD``),
load it with ``-p membercore.testing.pytest_plugin``.

The Hypothesis properties share the one ``store`` across their examples: each example
works under keys of its own, so examples never see each other's records.
"""

from __future__ import annotations

from membercore.testing.contracts.accounts import AccountsContract
from membercore.testing.contracts.builders import T0, assert_empty, every_table
from membercore.testing.contracts.dead_letters import DeadLettersContract
from membercore.testing.contracts.erasure import ErasureContract
from membercore.testing.contracts.identifiers import IdentitiesContract
from membercore.testing.contracts.inbox import InboxContract
from membercore.testing.contracts.inputs import InputLogContract
from membercore.testing.contracts.outbox import OutboxContract
from membercore.testing.contracts.positions import PositionsContract
from membercore.testing.contracts.records import RecordsContract
from membercore.testing.contracts.store import StoreContract
from membercore.testing.contracts.tasks import TasksContract
from membercore.testing.contracts.timers import TimersContract

__all__ = [
    "T0",
    "AccountsContract",
    "DeadLettersContract",
    "ErasureContract",
    "IdentitiesContract",
    "InboxContract",
    "InputLogContract",
    "OutboxContract",
    "PositionsContract",
    "RecordsContract",
    "StoreContract",
    "TasksContract",
    "TimersContract",
    "assert_empty",
    "every_table",
]
