"""What the adapters' tests (and a plugin's) share: the database servers they run against."""

from __future__ import annotations

from membercore_adapters.testing.servers import (
    SERVERS,
    postgres_schema,
    schema_relations,
    server_url,
)

__all__ = ["SERVERS", "postgres_schema", "schema_relations", "server_url"]
