"""What the adapters' tests (and a plugin's) share: the database servers they run against."""

from __future__ import annotations

from membercore_adapters.testing.servers import SERVERS, server_url

__all__ = ["SERVERS", "server_url"]
