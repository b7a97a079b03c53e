"""First-party adapters of membercore: storage, channels, HIS sources and the CLI."""

from __future__ import annotations

from membercore.moved import relocate

__all__: list[str] = []

# The demo's modules that moved into membercore_adapters.demo in 0.2.0: their old paths
# work until membercore 0.3.0, with a warning.
relocate(
    {
        "membercore_adapters.hospital": "membercore_adapters.demo.hospital",
        "membercore_adapters.walkthrough": "membercore_adapters.demo.walkthrough",
    }
)
