"""The testing kit membercore ships.

Hypothesis strategies, an in-memory book of ledgers, a manual clock and the storage
conformance suites (:mod:`.contracts`, one per role of the store port).

Needs Hypothesis and pytest (``pip install membercore[testing]``); each part is
imported when first used, so that importing the kit costs nothing it does not use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from membercore.moved import child, relocate

if TYPE_CHECKING:
    from membercore.testing import strategies
    from membercore.testing.book import Book
    from membercore.testing.clock import ManualClock

__all__ = ["Book", "ManualClock", "strategies"]

# Modules that moved: their old paths work until membercore 0.3.0, with a warning.
relocate({"membercore.testing.contract": "membercore.testing.contracts"})

_WHERE = {
    "Book": "membercore.testing.book",
    "ManualClock": "membercore.testing.clock",
    "strategies": "membercore.testing.strategies",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        return child(__name__, name)  # a module that moved, or AttributeError
    module = importlib.import_module(where)
    return module if name == "strategies" else getattr(module, name)
