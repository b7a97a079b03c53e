"""What the plugin's tests share: the samples, the mapping, engines on each store, a listener.

The listener runs on the test's own thread (as ``membercore worker`` runs it, the engine
on the event loop's thread); the MLLP client — python-hl7's own — sends from another
thread over loopback, as the HIS's integration engine would.

PostgreSQL: as ``membercore_adapters.testing.server_url`` finds it (MEMBERCORE_TEST_POSTGRES_URL,
or the local default); without a server the PostgreSQL cases skip saying why, except in CI
(env CI set), where that is a failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import hl7
import pytest
from hl7.client import MLLPClient

from membercore import Engine, reference_config
from membercore.plugins import make_plugin_manager
from membercore.testing.clock import ManualClock
from membercore_adapters.stores import memory, postgres, sqlite
from membercore_adapters.testing import postgres_schema, server_url
from membercore_hl7v2 import Hl7Mapping, Listener, mapping_from_dict

SAMPLES = Path(__file__).parent / "samples"
MESSAGES = SAMPLES / "messages"
EXPECTED = SAMPLES / "expected-fhir"
#: After every instant the samples name: the facts come in late, as a replay's would.
NOW = datetime(2030, 1, 7, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
#: The samples' hospital: amounts in US dollars, departments kept as sent.
MAPPING = mapping_from_dict(
    {
        "hl7v2": {
            "currency": "USD",
            "departments": {"default": "outpatient"},
            "lab_tests": {"1554-5": "glucose"},
            "diagnoses": {"SCT": {"64766004": "K51.9"}},
        }
    }
)
T = TypeVar("T")


def sample(name: str) -> bytes:
    """A sample message as the file holds it."""
    return (MESSAGES / name).read_bytes()


def sample_names() -> list[str]:
    """Every sample message's file name."""
    return sorted(path.name for path in MESSAGES.glob("*.hl7"))


def open_engine(url: str, clock: ManualClock | None = None, **options: Any) -> Engine:
    """An engine on the reference programme, with the first-party stores only."""
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite, postgres])
    return Engine.open(
        url,
        config=reference_config(),
        clock=clock or ManualClock(NOW),
        plugin_manager=manager,
        **options,
    )


def send(port: int, *messages: bytes | str) -> list[hl7.Message]:
    """Send messages one after another over one connection; the acknowledgement of each."""
    acks = []
    with MLLPClient("127.0.0.1", port) as client:
        for message in messages:
            data = message if isinstance(message, bytes) else message.encode()
            acks.append(_ack(client.send_message(data)))
    return acks


def _ack(reply: bytes) -> hl7.Message:
    return hl7.parse(reply.strip(b"\x0b\x1c\r").decode())


def listening(
    engine: Engine,
    client: Callable[[int], T],
    mapping: Hl7Mapping = MAPPING,
    **options: Any,
) -> T:
    """Run a listener for ``engine`` on this thread while ``client(port)`` runs on another."""

    async def main() -> T:
        listener = Listener(engine, mapping, port=0, **options)
        await listener.start()
        try:
            return await asyncio.to_thread(client, listener.port)
        finally:
            await listener.stop()

    return asyncio.run(main())


def code(ack: hl7.Message) -> str:
    """An acknowledgement's code (MSA-1)."""
    return str(ack.segment("MSA")(1))


def text(ack: hl7.Message) -> str:
    """An acknowledgement's text (MSA-3)."""
    msa = ack.segment("MSA")
    return str(ack.unescape(str(msa(3)))) if len(msa) > 3 else ""


# -- stores -------------------------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store's URL on each first-party store."""
    if request.param == "memory":
        yield "memory://"
    elif request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/hl7.db"
    else:
        with postgres_schema(server_url("postgresql"), "mc_hl7") as url:
            yield url
