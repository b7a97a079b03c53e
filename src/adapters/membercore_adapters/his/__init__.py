"""First-party sources of facts."""

from __future__ import annotations

__all__: list[str] = []
