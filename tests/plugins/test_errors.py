"""Whatever goes wrong with a plugin, the error names the plugin."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from membercore import reference_config
from membercore.config import ProgrammeConfig
from membercore.errors import ConfigError, HouseholdError, LedgerError, PluginError
from membercore.hookspecs import StoreOpener, hookimpl
from membercore.journeys import (
    ActionSpec,
    Call,
    ConditionSpec,
    JourneyDefinition,
    Parameter,
    Trigger,
)
from membercore.plugins import BUILTIN, collect, make_plugin_manager
from membercore.ports import Clock
from membercore.service.engine import Engine
from membercore_adapters.stores.memory import MemoryStore

CONFIG = reference_config()


def _collect(*plugins: object, config: ProgrammeConfig = CONFIG) -> None:
    collect(make_plugin_manager(load_entrypoints=False, plugins=plugins), config)


def _journey(**changes: Any) -> JourneyDefinition:
    journey = JourneyDefinition(
        key="lab_follow_up",
        label="化验随访",
        states=("open",),
        initial="open",
        entry=Trigger(kind="fact", type="lab_result_recorded"),
        entry_actions=(
            Call(name="send_message", params={"template": "hba1c_recheck", "purpose": "care"}),
        ),
    )
    return attrs.evolve(journey, **changes)


class ExplodingStores:
    @hookimpl
    def membercore_register_stores(self, register: Callable[[str, StoreOpener], None]) -> None:
        raise RuntimeError("the vendor's licence file is missing")


class MisspelledHook:
    @hookimpl
    def membercore_register_store(self, register: Callable[[str, StoreOpener], None]) -> None:
        register("x", MemoryStore)


class UnknownParameter:
    @hookimpl
    def membercore_register_stores(
        self, register: Callable[[str, StoreOpener], None], url: str
    ) -> None:
        register("x", MemoryStore)


class WardStores:
    @hookimpl
    def membercore_register_stores(self, register: Callable[[str, StoreOpener], None]) -> None:
        register("ward", MemoryStore)


class OtherWardStores:
    @hookimpl
    def membercore_register_stores(self, register: Callable[[str, StoreOpener], None]) -> None:
        register("ward", MemoryStore)


class SmsGateway:
    @hookimpl
    def membercore_register_channels(self, register: Callable[[str, object], None]) -> None:
        register("sms", MemoryStore)


class OtherSmsGateway(SmsGateway):
    pass


class HisFeed:
    @hookimpl
    def membercore_register_his_sources(self, register: Callable[[str, object], None]) -> None:
        register("hl7v2", MemoryStore)


class OtherHisFeed(HisFeed):
    pass


class SmsUpHooks:
    @hookimpl
    def membercore_register_webhooks(self, register: Callable[[str, object], None]) -> None:
        register("aliyun-smsup", MemoryStore)


class OtherSmsUpHooks(SmsUpHooks):
    pass


class NotCallableStore:
    @hookimpl
    def membercore_register_stores(self, register: Callable[[str, object], None]) -> None:
        register("ward", "sqlite:///ward.db")


class Journeys:
    """Registers the journeys it is given."""

    def __init__(self, *journeys: object) -> None:
        self.journeys = journeys

    @hookimpl
    def membercore_register_journeys(self, register: Callable[[object], None]) -> None:
        for journey in self.journeys:
            register(journey)


class Conditions:
    """Registers the conditions it is given."""

    def __init__(self, *conditions: object) -> None:
        self.conditions = conditions

    @hookimpl
    def membercore_register_conditions(self, register: Callable[[object], None]) -> None:
        for condition in self.conditions:
            register(condition)


class Actions:
    """Registers the actions it is given."""

    def __init__(self, *actions: object) -> None:
        self.actions = actions

    @hookimpl
    def membercore_register_actions(self, register: Callable[[object], None]) -> None:
        for action in self.actions:
            register(action)


class BadTrigger:
    @hookimpl
    def membercore_register_journeys(self, register: Callable[[object], None]) -> None:
        register(_journey(entry=Trigger(kind="after")))  # a timer without its delay


class NotAClock:
    @hookimpl
    def membercore_clock(self) -> object:
        return "2026-03-02T10:00"


class BrokenClock:
    @hookimpl
    def membercore_clock(self) -> Clock:
        raise OSError("no time server")


def _condition(name: str) -> ConditionSpec:
    return ConditionSpec(
        name=name, params=(Parameter(name="value", kind=int),), fn=lambda s, p: True, doc="x"
    )


def test_a_hook_that_raises_is_reported_with_its_plugin_and_cause() -> None:
    with pytest.raises(PluginError) as raised:
        _collect(ExplodingStores())
    assert raised.value.plugin == "ExplodingStores"
    assert "membercore_register_stores" in str(raised.value)
    assert "licence file is missing" in str(raised.value)
    assert isinstance(raised.value.__cause__, RuntimeError)


def test_a_misspelled_hook_is_refused_when_the_manager_is_built() -> None:
    with pytest.raises(PluginError) as raised:
        make_plugin_manager(load_entrypoints=False, plugins=[MisspelledHook()])
    assert raised.value.plugin == "MisspelledHook"
    assert "membercore_register_store" in str(raised.value)


def test_a_hook_asking_for_a_parameter_the_hook_lacks_is_refused() -> None:
    with pytest.raises(PluginError) as raised:
        make_plugin_manager(load_entrypoints=False, plugins=[UnknownParameter()])
    assert raised.value.plugin == "UnknownParameter"
    assert "url" in str(raised.value)


def test_one_plugin_object_registered_twice_is_refused() -> None:
    plugin = WardStores()
    with pytest.raises(PluginError, match="WardStores"):
        make_plugin_manager(load_entrypoints=False, plugins=[plugin, plugin])


def test_two_plugins_serving_one_store_scheme_are_both_named() -> None:
    with pytest.raises(PluginError) as raised:
        _collect(WardStores(), OtherWardStores())
    assert raised.value.plugin == "OtherWardStores"
    assert "'WardStores'" in str(raised.value)
    assert "'ward'" in str(raised.value)


@pytest.mark.parametrize(
    ("first", "second", "name"),
    [
        (SmsGateway, OtherSmsGateway, "channel 'sms'"),
        (HisFeed, OtherHisFeed, "source 'hl7v2'"),
        (SmsUpHooks, OtherSmsUpHooks, "webhook 'aliyun-smsup'"),
    ],
)
def test_two_plugins_providing_one_channel_source_or_webhook_are_both_named(
    first: type, second: type, name: str
) -> None:
    with pytest.raises(PluginError) as raised:
        _collect(first(), second())
    assert raised.value.plugin == second.__name__
    assert f"already provided by plugin {first.__name__!r}" in str(raised.value)
    assert name in str(raised.value)


def test_a_store_opener_must_be_callable() -> None:
    with pytest.raises(PluginError) as raised:
        _collect(NotCallableStore())
    assert raised.value.plugin == "NotCallableStore"
    assert "expected a callable" in str(raised.value)


def test_an_entry_point_that_cannot_be_imported_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = importlib.metadata.EntryPoint(
        name="hl7_feed", value="membercore_no_such_plugin_module", group="membercore"
    )

    def entry_points(**selection: str) -> list[importlib.metadata.EntryPoint]:
        assert selection == {"group": "membercore"}
        return [broken]

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    with pytest.raises(PluginError) as raised:
        make_plugin_manager()
    assert raised.value.plugin == "hl7_feed"
    assert "could not be loaded" in str(raised.value)
    assert isinstance(raised.value.__cause__, ImportError)


def test_a_journey_that_fails_validation_names_the_plugin_and_the_problem() -> None:
    unknown_guard = _journey(entry_guards=(Call(name="bmi_over", params={"value": 28}),))
    with pytest.raises(PluginError) as raised:
        _collect(Journeys(unknown_guard))
    assert raised.value.plugin == "Journeys"
    assert "'lab_follow_up'" in str(raised.value)
    assert "unknown 'bmi_over'" in str(raised.value)


def test_a_journey_of_bad_shape_names_the_plugin() -> None:
    unreachable = _journey(states=("open", "closed"))
    with pytest.raises(PluginError, match="cannot be reached") as raised:
        _collect(Journeys(unreachable))
    assert raised.value.plugin == "Journeys"


def test_a_journey_sending_a_template_the_programme_lacks_names_the_plugin() -> None:
    sends = (Call(name="send_message", params={"template": "obesity_course", "purpose": "care"}),)
    with pytest.raises(PluginError, match="obesity_course") as raised:
        _collect(Journeys(_journey(entry_actions=sends)))
    assert raised.value.plugin == "Journeys"


def test_a_journey_sending_a_template_for_another_purpose_names_the_plugin() -> None:
    sends = (Call(name="send_message", params={"template": "win_back", "purpose": "care"}),)
    with pytest.raises(PluginError, match="marketing") as raised:
        _collect(Journeys(_journey(entry_actions=sends)))
    assert raised.value.plugin == "Journeys"


def test_a_journey_the_programme_already_has_is_refused() -> None:
    with pytest.raises(PluginError, match="'diabetes' is already the programme's"):
        _collect(Journeys(_journey(key="diabetes")))


def test_two_plugins_contributing_one_journey_are_both_named() -> None:
    class OtherJourneys(Journeys):
        pass

    with pytest.raises(PluginError) as raised:
        _collect(Journeys(_journey()), OtherJourneys(_journey()))
    assert raised.value.plugin.endswith("OtherJourneys")
    assert "plugin 'Journeys'" in str(raised.value)


def test_a_valid_plugin_journey_is_collected() -> None:
    manager = make_plugin_manager(load_entrypoints=False, plugins=[Journeys(_journey())])
    plugins = collect(manager, CONFIG)
    assert [(found.plugin, found.value) for found in plugins.journeys] == [("Journeys", _journey())]


def test_something_else_than_a_journey_is_refused() -> None:
    with pytest.raises(PluginError, match="JourneyDefinition expected") as raised:
        _collect(Journeys({"key": "lab_follow_up"}))
    assert raised.value.plugin == "Journeys"


def test_something_else_than_a_condition_spec_is_refused() -> None:
    with pytest.raises(PluginError, match="ConditionSpec expected") as raised:
        _collect(Conditions(lambda situation, params: True))
    assert raised.value.plugin == "Conditions"


def test_something_else_than_an_action_spec_is_refused() -> None:
    with pytest.raises(PluginError, match="ActionSpec expected") as raised:
        _collect(Actions(_condition("notify")))
    assert raised.value.plugin == "Actions"


def test_a_plugin_may_not_replace_a_built_in_condition() -> None:
    with pytest.raises(PluginError) as raised:
        _collect(Conditions(_condition("field_equals")))
    assert raised.value.plugin == "Conditions"
    assert BUILTIN in str(raised.value)


def test_two_plugins_contributing_one_action_are_both_named() -> None:
    class OtherActions(Actions):
        pass

    notify = ActionSpec(name="notify", params=(), doc="x", commands=lambda action: [])
    with pytest.raises(PluginError) as raised:
        _collect(Actions(notify), OtherActions(notify))
    assert raised.value.plugin.endswith("OtherActions")
    assert "'Actions'" in str(raised.value)


def test_a_clock_plugin_that_fails_is_named() -> None:
    with pytest.raises(PluginError) as raised:
        _collect(BrokenClock())
    assert raised.value.plugin == "BrokenClock"
    assert "no time server" in str(raised.value)


def test_a_programme_error_raised_inside_a_hook_names_the_plugin() -> None:
    with pytest.raises(PluginError) as raised:
        _collect(BadTrigger())
    assert raised.value.plugin == "BadTrigger"
    assert "delay" in str(raised.value)
    assert isinstance(raised.value.__cause__, ConfigError)


def test_a_clock_plugin_answering_with_something_else_than_a_clock_is_named() -> None:
    with pytest.raises(PluginError, match="Clock expected") as raised:
        _collect(NotAClock())
    assert raised.value.plugin == "NotAClock"


def test_the_engine_does_not_open_with_a_failing_plugin() -> None:
    manager = make_plugin_manager(plugins=[ExplodingStores()])
    with pytest.raises(PluginError, match="ExplodingStores"):
        Engine.open("memory://", config=CONFIG, plugin_manager=manager)


def test_a_family_root_raised_as_it_is_names_its_fields() -> None:
    assert str(HouseholdError("H-1", "P-1")) == "household_id 'H-1', member_id 'P-1'"
    assert repr(LedgerError("P-1")) == "LedgerError(\"member_id 'P-1'\")"
