"""First-party outreach channels."""

from __future__ import annotations

__all__: list[str] = []
