"""Finding plugins and collecting what they contribute.

:func:`make_plugin_manager` builds a fresh pluggy manager (never a module-global one),
loads the ``membercore`` entry-point group — where the first-party adapters register
too, so the core never imports them — and checks every hook implementation against the
specs. :func:`collect` asks each plugin for its stores, channels, HIS sources,
listeners, webhooks, condition functions, actions and journeys, and names the plugin in
every error.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

import attrs
import pluggy

from membercore import hookspecs
from membercore.config import ProgrammeConfig
from membercore.config.journeys import JourneyDefinition
from membercore.errors import MembercoreError, PluginError
from membercore.journeys.registry import ActionSpec, ConditionSpec, Registry, builtin_registry
from membercore.journeys.validate import validate
from membercore.ports import Clock

__all__ = [
    "Contribution",
    "Plugins",
    "collect",
    "commands",
    "make_plugin_manager",
]

T = TypeVar("T")

#: Who provides the built-in condition functions and actions, in error messages.
BUILTIN = "membercore (built in)"


@attrs.frozen
class Contribution(Generic[T]):
    """Something a plugin contributed, with the plugin's name for error messages."""

    plugin: str
    value: T


@attrs.frozen(kw_only=True)
class Plugins:
    """Everything the installed plugins contribute.

    Attributes:
        stores: store openers by URL scheme.
        channels: channel factories by channel name.
        sources: HIS source factories by name.
        listeners: listener factories by name.
        webhooks: webhook factories by name.
        registry: the built-in condition functions and actions, and the plugins'.
        journeys: the plugins' journey definitions (validated against ``registry``).
        clock: the default clock a plugin provides, if any.
        names: every registered plugin, by name.
    """

    stores: Mapping[str, Contribution[hookspecs.StoreOpener]]
    channels: Mapping[str, Contribution[hookspecs.ChannelFactory]]
    sources: Mapping[str, Contribution[hookspecs.SourceFactory]]
    listeners: Mapping[str, Contribution[hookspecs.ListenerFactory]] = attrs.field(factory=dict)
    webhooks: Mapping[str, Contribution[hookspecs.WebhookFactory]] = attrs.field(factory=dict)
    registry: Registry
    journeys: tuple[Contribution[JourneyDefinition], ...]
    clock: Clock | None
    names: tuple[str, ...]


def make_plugin_manager(
    *, load_entrypoints: bool = True, plugins: Iterable[object] = ()
) -> pluggy.PluginManager:
    """A new plugin manager with the membercore hooks and the installed plugins.

    Args:
        load_entrypoints: load the ``membercore`` entry-point group (the first-party
            adapters and every installed plugin distribution); each plugin is named by
            its entry point.
        plugins: more plugins (modules or objects with hook implementations) to register,
            e.g. a test's own; each is named by its ``__name__`` (a module's) or its
            class name (``LabStores``, then ``LabStores#2`` for a second instance).

    Raises:
        PluginError: naming the plugin that failed to load, registers twice, or
            implements a hook that does not exist or with parameters the hook lacks.
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    if load_entrypoints:
        for entry_point in importlib.metadata.entry_points(group=hookspecs.PROJECT):
            if manager.has_plugin(entry_point.name):
                continue
            try:
                plugin = entry_point.load()
            except Exception as error:
                raise PluginError(entry_point.name, f"could not be loaded: {error}") from error
            _register(manager, plugin, entry_point.name)
    for plugin in plugins:
        _register(manager, plugin, _plugin_name(manager, plugin))
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as error:
        raise PluginError(_name(manager, error.plugin), str(error)) from error
    return manager


def _plugin_name(manager: pluggy.PluginManager, plugin: object) -> str:
    """A module's name, or an object's class name (``LabStores``, ``LabStores#2``...)."""
    name = getattr(plugin, "__name__", None)
    base = name if isinstance(name, str) else type(plugin).__qualname__
    candidate, number = base, 1
    while manager.has_plugin(candidate):
        number += 1
        candidate = f"{base}#{number}"
    return candidate


def _register(manager: pluggy.PluginManager, plugin: object, name: str) -> None:
    try:
        manager.register(plugin, name=name)
    except (pluggy.PluginValidationError, ValueError) as error:
        raise PluginError(name, f"could not be registered: {error}") from error


def _name(manager: pluggy.PluginManager, plugin: object) -> str:
    return manager.get_name(plugin) or repr(plugin)


def _impls(manager: pluggy.PluginManager, hook: str) -> list[pluggy.HookImpl]:
    """A hook's implementations in registration order (wrappers have nothing to call)."""
    impls: list[pluggy.HookImpl] = getattr(manager.hook, hook).get_hookimpls()
    return [impl for impl in impls if not (impl.hookwrapper or impl.wrapper)]


def _call(impl: pluggy.HookImpl, **kwargs: Any) -> Any:
    try:
        return impl.function(*(kwargs[name] for name in impl.argnames))
    except PluginError:
        raise  # already names its plugin (raised by a register callback)
    except Exception as error:
        raise PluginError(impl.plugin_name, f"{impl.function.__name__} failed: {error}") from error


def _by_name(manager: pluggy.PluginManager, hook: str, what: str) -> dict[str, Contribution[Any]]:
    found: dict[str, Contribution[Any]] = {}
    for impl in _impls(manager, hook):
        _call(impl, register=_registrar(found, impl.plugin_name, what))
    return found


def _registrar(
    found: dict[str, Contribution[Any]], plugin: str, what: str
) -> Callable[[str, object], None]:
    def register(name: str, value: object) -> None:
        if not callable(value):
            raise PluginError(plugin, f"{what} {name!r}: expected a callable")
        held = found.get(name)
        if held is not None and held.plugin != plugin:
            raise PluginError(
                plugin, f"{what} {name!r} is already provided by plugin {held.plugin!r}"
            )
        found[name] = Contribution(plugin, value)

    return register


def _specs(impl: pluggy.HookImpl, kind: type[T]) -> list[T]:
    specs: list[T] = []

    def register(spec: object) -> None:
        if not isinstance(spec, kind):
            raise PluginError(impl.plugin_name, f"{kind.__name__} expected, got {spec!r}")
        specs.append(spec)

    _call(impl, register=register)
    return specs


def _registry(manager: pluggy.PluginManager) -> Registry:
    registry = builtin_registry()
    # Who provides each name: a plugin may not silently replace a built-in condition or
    # action (the programme's journeys rely on them) or another plugin's.
    owners = {f"condition {name}": BUILTIN for name in registry.conditions}
    owners |= {f"action {name}": BUILTIN for name in registry.actions}

    def claim(plugin: str, what: str, name: str) -> None:
        owner = owners.setdefault(f"{what} {name}", plugin)
        if owner != plugin:
            raise PluginError(plugin, f"{what} {name!r} is already provided by {owner!r}")

    for impl in _impls(manager, "membercore_register_conditions"):
        for condition in _specs(impl, ConditionSpec):
            claim(impl.plugin_name, "condition", condition.name)
            registry = registry.with_condition(condition)
    for impl in _impls(manager, "membercore_register_actions"):
        for action in _specs(impl, ActionSpec):
            claim(impl.plugin_name, "action", action.name)
            registry = registry.with_action(action)
    return registry


def _journeys(
    manager: pluggy.PluginManager, config: ProgrammeConfig, registry: Registry
) -> tuple[Contribution[JourneyDefinition], ...]:
    found: list[Contribution[JourneyDefinition]] = []
    # Whose each journey key is: the programme's (None) or a plugin's.
    owners: dict[str, str | None] = {journey.key: None for journey in config.journeys}
    for impl in _impls(manager, "membercore_register_journeys"):
        plugin = impl.plugin_name
        definitions: list[JourneyDefinition] = []
        _call(impl, register=definitions.append, config=config)
        for definition in definitions:
            if not isinstance(definition, JourneyDefinition):
                raise PluginError(plugin, f"JourneyDefinition expected, got {definition!r}")
            owner = owners.setdefault(definition.key, plugin)
            if owner != plugin:
                whose = "the programme" if owner is None else f"plugin {owner!r}"
                raise PluginError(plugin, f"journey {definition.key!r} is already {whose}'s")
            try:
                validate(definition, registry)
                # The programme's own checks, on the journeys the engine will run: the
                # templates a journey sends exist and are for its purpose.
                every = (*config.journeys, *(other.value for other in found), definition)
                attrs.evolve(config, journeys=every)
            except MembercoreError as error:
                raise PluginError(plugin, str(error)) from error
            found.append(Contribution(plugin, definition))
    return tuple(found)


def _clock(manager: pluggy.PluginManager) -> Clock | None:
    # pluggy calls the last registered implementation first; so do we, one by one,
    # so that a failing one is named.
    for impl in reversed(_impls(manager, "membercore_clock")):
        clock: object = _call(impl)
        if clock is None:
            continue
        if not isinstance(clock, Clock):
            raise PluginError(impl.plugin_name, f"Clock expected, got {clock!r}")
        return clock
    return None


def commands(manager: pluggy.PluginManager) -> dict[str, Contribution[Any]]:
    """The commands plugins add to the ``membercore`` command line, by name.

    Raises:
        PluginError: naming the plugin that failed, or registered a name another plugin
            registered.
    """
    return _by_name(manager, "membercore_register_commands", "command")


def collect(manager: pluggy.PluginManager, config: ProgrammeConfig) -> Plugins:
    """Ask every plugin for what it contributes.

    Args:
        manager: from :func:`make_plugin_manager`.
        config: the programme (plugin journeys may depend on its templates).

    Raises:
        PluginError: naming the plugin that failed, contributed something invalid (a
            journey the registry or the programme refuses), or provides a store scheme,
            channel, HIS source, listener, webhook, condition or action another plugin
            (or membercore itself) provides, or a journey the programme or another
            plugin has.
    """
    registry = _registry(manager)
    return Plugins(
        stores=_by_name(manager, "membercore_register_stores", "store scheme"),
        channels=_by_name(manager, "membercore_register_channels", "channel"),
        sources=_by_name(manager, "membercore_register_his_sources", "HIS source"),
        listeners=_by_name(manager, "membercore_register_listeners", "listener"),
        webhooks=_by_name(manager, "membercore_register_webhooks", "webhook"),
        registry=registry,
        journeys=_journeys(manager, config, registry),
        clock=_clock(manager),
        names=tuple(sorted(name for name, _ in manager.list_name_plugin())),
    )
