"""First-party adapters of membercore: storage, channels, HIS sources and the CLI."""

from __future__ import annotations

import importlib

from membercore.moved import moves, relocate

__all__: list[str] = []

# Modules that moved in 0.2.0: their old paths work until membercore 0.3.0, with a warning.
relocate(
    {
        "membercore_adapters.memory": "membercore_adapters.stores.memory",
        "membercore_adapters.postgres": "membercore_adapters.stores.postgres",
        "membercore_adapters.sqlite": "membercore_adapters.stores.sqlite",
        "membercore_adapters.storebase": "membercore_adapters.stores.base",
    }
)


def __getattr__(name: str) -> object:
    """A moved module named as an attribute (``membercore_adapters.stores.sqlite``) is imported."""
    if f"{__name__}.{name}" in moves():
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
