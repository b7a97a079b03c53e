"""Plugins are found through the ``membercore`` entry-point group, or given by a test."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from membercore import reference_config
from membercore.errors import EngineError, PluginError, UnknownStoreError
from membercore.hookspecs import ChannelFactory, SourceFactory, StoreOpener, hookimpl
from membercore.journeys import builtin_registry
from membercore.plugins import collect, make_plugin_manager
from membercore.ports import Channel, Clock, HisSource, OutboxMessage, Store
from membercore.service.engine import Engine
from membercore.testing.clock import ManualClock
from membercore_adapters.channels.console import ConsoleChannel
from membercore_adapters.clock import SystemClock
from membercore_adapters.his.jsonl import JsonLinesSource
from membercore_adapters.stores import memory
from membercore_adapters.stores.memory import MemoryStore

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
FIRST_PARTY = {"clock", "console", "jsonl", "memory", "sqlite"}


class LabStores:
    """A test's own plugin: a store scheme of its own, backed by the memory store."""

    def __init__(self) -> None:
        self.opened: list[str] = []

    def open(self, url: str) -> Store:
        self.opened.append(url)
        return MemoryStore(url)

    @hookimpl
    def membercore_register_stores(self, register: Callable[[str, StoreOpener], None]) -> None:
        register("lab", self.open)


class Pager:
    """A channel of a test's own."""

    name = "pager"

    def __init__(self, options: Mapping[str, str]) -> None:
        self.number = options["number"]

    def send(self, message: OutboxMessage) -> str:
        return f"{self.number}:{message.message_id}"


class LabFeed:
    """A source of facts of a test's own."""

    name = "lab_feed"

    def __init__(self, options: Mapping[str, str]) -> None:
        self.lines = options["lines"].split("|")

    def read(self) -> Iterator[str]:
        yield from self.lines


class WardSystems:
    """One plugin contributing a channel and a source."""

    @hookimpl
    def membercore_register_channels(self, register: Callable[[str, ChannelFactory], None]) -> None:
        register("pager", Pager)

    @hookimpl
    def membercore_register_his_sources(
        self, register: Callable[[str, SourceFactory], None]
    ) -> None:
        register("lab_feed", LabFeed)


class FixedClock:
    @hookimpl
    def membercore_clock(self) -> Clock:
        return ManualClock(T0)


class NoClock:
    @hookimpl
    def membercore_clock(self) -> Clock | None:
        return None


def test_the_first_party_adapters_and_the_example_plugin_are_found_by_entry_point() -> None:
    plugins = collect(make_plugin_manager(), reference_config())
    assert set(plugins.names) >= {*FIRST_PARTY, "clinic_example"}
    assert {"memory", "sqlite"} <= set(plugins.stores)
    assert plugins.stores["memory"].plugin == "memory"
    assert plugins.stores["sqlite"].plugin == "sqlite"
    assert plugins.channels["console"].plugin == "console"
    assert plugins.sources["jsonl"].plugin == "jsonl"
    assert isinstance(plugins.clock, SystemClock)
    assert "bmi_at_least" in plugins.registry.conditions
    assert "notify_clinic" in plugins.registry.actions
    assert [(found.plugin, found.value.key) for found in plugins.journeys] == [
        ("clinic_example", "weight_management")
    ]


def test_what_the_first_party_plugins_register_builds_working_adapters(tmp_path: Path) -> None:
    plugins = collect(make_plugin_manager(), reference_config())
    memory = plugins.stores["memory"].value("memory://")
    sqlite = plugins.stores["sqlite"].value(f"sqlite:///{tmp_path / 'programme.db'}")
    try:
        assert isinstance(memory, MemoryStore)
        assert isinstance(sqlite, Store)
        assert sqlite.url.startswith("sqlite:///")
    finally:
        memory.close()
        sqlite.close()
    channel = plugins.channels["console"].value({"path": str(tmp_path / "out.jsonl")})
    assert isinstance(channel, ConsoleChannel)
    assert isinstance(channel, Channel)
    assert channel.name == "console"
    source = plugins.sources["jsonl"].value({"path": str(tmp_path / "facts.jsonl")})
    assert isinstance(source, JsonLinesSource)
    assert isinstance(source, HisSource)


def test_without_entry_points_only_the_given_plugins_and_the_builtins_count() -> None:
    stores = LabStores()
    plugins = collect(
        make_plugin_manager(load_entrypoints=False, plugins=[stores]), reference_config()
    )
    assert plugins.names == ("LabStores",)
    assert list(plugins.stores) == ["lab"]
    assert (plugins.channels, plugins.sources, plugins.journeys) == ({}, {}, ())
    assert plugins.clock is None
    assert plugins.registry == builtin_registry()


def test_a_plugins_channels_and_sources_are_collected_by_name() -> None:
    manager = make_plugin_manager(load_entrypoints=False, plugins=[WardSystems()])
    plugins = collect(manager, reference_config())
    assert plugins.channels["pager"].plugin == "WardSystems"
    assert plugins.sources["lab_feed"].plugin == "WardSystems"
    channel = plugins.channels["pager"].value({"number": "8021"})
    assert isinstance(channel, Channel)
    message = OutboxMessage(
        message_id="p-1/msg/1", key="member:p-1", channel="pager", payload="{}", send_at=T0
    )
    assert channel.send(message) == "8021:p-1/msg/1"
    source = plugins.sources["lab_feed"].value({"lines": "a|b"})
    assert isinstance(source, HisSource)
    assert list(source.read()) == ["a", "b"]


def test_a_module_is_a_plugin_named_after_itself() -> None:
    plugins = collect(
        make_plugin_manager(load_entrypoints=False, plugins=[memory]), reference_config()
    )
    assert plugins.names == ("membercore_adapters.stores.memory",)
    assert plugins.stores["memory"].plugin == "membercore_adapters.stores.memory"


def test_two_instances_of_one_plugin_class_are_both_registered_under_their_own_names() -> None:
    manager = make_plugin_manager(load_entrypoints=False, plugins=[NoClock(), NoClock()])
    assert sorted(name for name, _ in manager.list_name_plugin()) == ["NoClock", "NoClock#2"]


def test_each_manager_is_fresh() -> None:
    with_lab = make_plugin_manager(load_entrypoints=False, plugins=[LabStores()])
    without = make_plugin_manager(load_entrypoints=False)
    assert "lab" in collect(with_lab, reference_config()).stores
    assert collect(without, reference_config()).stores == {}


def test_the_engine_opens_a_url_through_the_plugin_serving_its_scheme() -> None:
    stores = LabStores()
    manager = make_plugin_manager(load_entrypoints=False, plugins=[stores, FixedClock()])
    with Engine.open("lab://ward-7", config=reference_config(), plugin_manager=manager) as engine:
        assert stores.opened == ["lab://ward-7"]
        assert engine.store.url == "lab://ward-7"
        assert engine.now() == T0  # no clock given: the plugin's


def test_the_engine_adds_plugin_journeys_to_the_programmes() -> None:
    config = reference_config()
    with Engine.open("memory://", config=config, clock=ManualClock(T0)) as engine:
        keys = [journey.key for journey in engine.config.journeys]
    assert keys == [*(journey.key for journey in config.journeys), "weight_management"]


def test_a_url_no_plugin_serves_names_the_schemes_that_are_served() -> None:
    manager = make_plugin_manager(load_entrypoints=False, plugins=[LabStores()])
    with pytest.raises(UnknownStoreError) as raised:
        Engine.open(
            "mongodb://x", config=reference_config(), clock=ManualClock(T0), plugin_manager=manager
        )
    assert "mongodb" in str(raised.value)
    assert "lab" in str(raised.value)


def test_the_engine_needs_a_clock_when_no_plugin_provides_one() -> None:
    manager = make_plugin_manager(load_entrypoints=False, plugins=[LabStores(), NoClock()])
    with pytest.raises(EngineError, match="clock"):
        Engine.open("lab://", config=reference_config(), plugin_manager=manager)


def test_the_first_clock_a_plugin_answers_with_wins() -> None:
    # pluggy asks the last registered plugin first; one answering None passes its turn.
    manager = make_plugin_manager(load_entrypoints=False, plugins=[FixedClock(), NoClock()])
    clock = collect(manager, reference_config()).clock
    assert clock is not None
    assert clock.now() == T0


class TasksOnly:
    """A store that has only the tasks role of the store port."""

    url = "tasksonly://"
    closed = 0

    def commit(self, commit: object) -> None:
        """Keep nothing."""

    def close(self) -> None:
        TasksOnly.closed += 1

    def tasks(self, *, status: str | None = None) -> list[object]:
        return []

    def task_loads(self) -> dict[str, int]:
        return {}

    def case_loads(self) -> dict[str, int]:
        return {}


class PartialStores:
    """A plugin whose store implements one role of the port only."""

    @hookimpl
    def membercore_register_stores(self, register: Callable[[str, StoreOpener], None]) -> None:
        register("tasksonly", lambda _url: TasksOnly())  # type: ignore[arg-type, return-value]


def test_a_plugin_store_that_lacks_roles_of_the_port_is_refused_naming_them() -> None:
    manager = make_plugin_manager(load_entrypoints=False, plugins=[PartialStores()])
    with pytest.raises(PluginError) as caught:
        Engine.open(
            "tasksonly://x",
            config=reference_config(),
            plugin_manager=manager,
            clock=ManualClock(T0),
        )
    assert caught.value.plugin == "PartialStores"
    problem = caught.value.problem
    assert "tasksonly://" in problem
    assert "RecordStore (events, load, scan)" in problem
    assert "InboxStore (seen)" in problem
    assert "TaskStore" not in problem  # the role it has
    assert "Recorder" not in problem
    assert TasksOnly.closed == 1  # the store refused is closed, not left open
