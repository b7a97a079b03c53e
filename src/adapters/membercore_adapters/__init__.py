"""First-party adapters of membercore: storage, channels, HIS sources and the CLI."""

from __future__ import annotations

__all__: list[str] = []
