"""First-party adapters of membercore: storage, channels, HIS sources and the CLI."""

from __future__ import annotations

from types import ModuleType

from membercore.moved import child, relocate

__all__: list[str] = []

# Modules that moved: their old paths work until membercore 0.3.0, with a warning.
relocate(
    {
        "membercore_adapters.hospital": "membercore_adapters.demo.hospital",
        "membercore_adapters.memory": "membercore_adapters.stores.memory",
        "membercore_adapters.postgres": "membercore_adapters.stores.postgres",
        "membercore_adapters.sqlite": "membercore_adapters.stores.sqlite",
        "membercore_adapters.storebase": "membercore_adapters.stores.base",
        "membercore_adapters.walkthrough": "membercore_adapters.demo.walkthrough",
    }
)


def __getattr__(name: str) -> ModuleType:
    """A moved module named as an attribute (``membercore_adapters.sqlite``), by its old path."""
    return child(__name__, name)
