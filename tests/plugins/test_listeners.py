"""A listener contributed by a plugin, run by ``membercore worker`` until SIGTERM.

The toy listener here takes its facts from a list when it starts, as a real one takes
them from the HIS, and then asks the worker to stop the way an operator would (SIGTERM).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from membercore import Engine, PatientRegistered, reference_config
from membercore.errors import MembercoreError
from membercore.hookspecs import ListenerFactory, hookimpl
from membercore.plugins import make_plugin_manager
from membercore.ports import Listening
from membercore.testing.clock import ManualClock
from membercore_adapters.cli.worker import WorkerSettings, run_worker
from membercore_adapters.stores import memory

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


class Ward:
    """A listener that hands the engine one registration per patient it was told of."""

    def __init__(self, engine: Engine, options: Mapping[str, str]) -> None:
        self.engine = engine
        self.patients = options["patients"].split(",")
        self.stopped = False

    async def start(self) -> None:
        self.engine.ingest(
            [
                PatientRegistered(fact_id=f"reg-{p}", patient_id=p, occurred_at=T0)
                for p in self.patients
            ]
        )
        signal.raise_signal(signal.SIGTERM)

    async def stop(self) -> None:
        self.stopped = True


built: list[Ward] = []


class WardPlugin:
    @hookimpl
    def membercore_register_listeners(
        self, register: Callable[[str, ListenerFactory], None]
    ) -> None:
        def factory(engine: Engine, options: Mapping[str, str]) -> Listening:
            ward = Ward(engine, {"patients": "p-1,p-2", **options})
            built.append(ward)
            return ward

        register("ward", factory)


def _arguments(listen: str) -> WorkerSettings:
    return WorkerSettings(listen=(listen,), port=0, tick_every=0, dispatch_every=0, reports_every=0)


def _engine() -> Engine:
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, WardPlugin()])
    return Engine.open(
        "memory://", config=reference_config(), clock=ManualClock(T0), plugin_manager=manager
    )


def test_the_worker_runs_a_plugins_listener_and_stops_it_on_sigterm() -> None:
    with _engine() as engine:
        assert isinstance(engine.plugins.listeners["ward"].value(engine, {}), Listening)
        built.clear()
        assert run_worker(engine, _arguments("ward")) == 0
        (ward,) = built
        assert ward.stopped
        assert sorted(r.key for r in engine.store.scan("member:")) == ["member:p-1", "member:p-2"]


def test_the_worker_refuses_a_listener_no_plugin_provides_naming_those_installed() -> None:
    with _engine() as engine, pytest.raises(MembercoreError, match=r"已安装：ward"):
        run_worker(engine, _arguments("mllp"))
