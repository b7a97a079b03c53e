"""The hooks plugins implement, all named ``membercore_*``.

A plugin is a module or object with functions marked ``@membercore.hookimpl``; it is
found through the ``membercore`` entry-point group (the first-party adapters register
the same way) and collected by :func:`membercore.plugins.collect`. Registration hooks
take a ``register`` callback and may call it any number of times; errors raised while a
plugin registers, or by what it registered, name the plugin.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

from membercore.config import ProgrammeConfig
from membercore.config.journeys import JourneyDefinition
from membercore.journeys.registry import ActionSpec, ConditionSpec
from membercore.ports import Channel, Clock, HisSource, Listening, Store, Webhook

if TYPE_CHECKING:
    from membercore.service.engine import Engine

__all__ = [
    "PROJECT",
    "ChannelFactory",
    "ListenerFactory",
    "SourceFactory",
    "StoreOpener",
    "WebhookFactory",
    "hookimpl",
    "hookspec",
]

PROJECT = "membercore"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: Opens a store from its URL (``sqlite:///var/membercore.db``).
StoreOpener = Callable[[str], Store]
#: Builds a channel from its options: the programme's ``[channels.<name>]`` table, whose
#: values may be tables too (``{"sign_name": "...", "templates": {...}}``).
ChannelFactory = Callable[[Mapping[str, Any]], Channel]
#: Builds an HIS source from its options (``{"path": "facts.jsonl"}``).
SourceFactory = Callable[[Mapping[str, str]], HisSource]
#: Builds a listener feeding an engine from its options (``{"port": "2575"}``).
ListenerFactory = Callable[["Engine", Mapping[str, str]], Listening]
#: Builds a webhook from the engine (on the engine's thread, when the server starts) and
#: its options (``{"mapping": "fhir.toml"}``); the webhook then reaches the engine only
#: through the :class:`~membercore.ports.EngineCall` each request hands it.
WebhookFactory = Callable[["Engine", Mapping[str, str]], Webhook]


@hookspec
def membercore_register_stores(register: Callable[[str, StoreOpener], None]) -> None:
    """Contribute storage backends.

    Args:
        register: call ``register(scheme, open)`` for each URL scheme the plugin serves
            (``memory``, ``sqlite``, ``postgresql``); ``open(url)`` returns a
            :class:`~membercore.ports.Store`. Two plugins may not serve one scheme.
    """


@hookspec
def membercore_register_channels(register: Callable[[str, ChannelFactory], None]) -> None:
    """Contribute outreach channels.

    Args:
        register: call ``register(name, factory)`` for each channel (``wecom``, ``sms``,
            ``email``, ``console``); ``factory(options)`` returns a
            :class:`~membercore.ports.Channel` whose ``name`` is ``name``.
    """


@hookspec
def membercore_register_his_sources(register: Callable[[str, SourceFactory], None]) -> None:
    """Contribute sources of facts.

    Args:
        register: call ``register(name, factory)`` for each source (``jsonl``,
            ``hl7v2``); ``factory(options)`` returns a :class:`~membercore.ports.HisSource`.
    """


@hookspec
def membercore_register_listeners(register: Callable[[str, ListenerFactory], None]) -> None:
    """Contribute listeners the HIS sends to, which ``membercore worker --listen`` runs.

    Args:
        register: call ``register(name, factory)`` for each listener (``hl7v2``);
            ``factory(engine, options)`` returns a :class:`~membercore.ports.Listening`
            that hands what it receives to ``engine``.
    """


@hookspec
def membercore_register_webhooks(register: Callable[[str, WebhookFactory], None]) -> None:
    """Contribute webhooks providers and the HIS call, which ``membercore serve`` serves.

    Args:
        register: call ``register(name, factory)`` for each webhook (``aliyun-smsup``,
            ``fhir``); ``factory(engine, options)`` returns a
            :class:`~membercore.ports.Webhook`, served at ``/webhooks/<name>`` and below
            by ``membercore serve --webhook <name>``. Two plugins may not register one name.
    """


@hookspec
def membercore_register_conditions(register: Callable[[ConditionSpec], None]) -> None:
    """Contribute condition functions that journey guards may name.

    Args:
        register: call ``register(spec)`` with a
            :class:`~membercore.journeys.ConditionSpec` (name, typed parameters, the
            function of the member's situation and the parameters, a docstring). The
            name may not be one membercore or another plugin already provides.
    """


@hookspec
def membercore_register_actions(register: Callable[[ActionSpec], None]) -> None:
    """Contribute actions that journey steps may issue.

    Args:
        register: call ``register(spec)`` with a :class:`~membercore.journeys.ActionSpec`
            whose ``commands`` turns each issued action into the commands of the parts
            that carry it out (a message request, a task, a bonus...). The name may
            not be one membercore or another plugin already provides.
    """


@hookspec
def membercore_register_journeys(
    register: Callable[[JourneyDefinition], None], config: ProgrammeConfig
) -> None:
    """Contribute journeys to the programme, beside those of its configuration.

    Args:
        register: call ``register(definition)`` with a journey definition; it is
            validated with the rest of the programme's journeys (its guards and
            actions, the templates it sends), and its key may not be one the programme
            or another plugin already uses.
        config: the programme, so that a journey may send only templates it has.
    """


@hookspec(firstresult=True)
def membercore_clock() -> Clock | None:
    """The clock the engine reads when none is given (the first plugin to answer wins)."""


@hookspec
def membercore_register_commands(register: Callable[[str, Any], None]) -> None:
    """Add commands to the ``membercore`` command line (``membercore hl7 replay ...``).

    Args:
        register: call ``register(name, command)`` with a :class:`click.Command` or
            :class:`click.Group`, run as ``membercore <name>``; a name another plugin
            (or membercore itself) registers is refused, naming both. Every command, the
            first-party ones too, is added so. The command line says a
            :class:`~membercore.errors.MembercoreError` a command raises without a
            traceback, with the exit status of its kind; a command returns its exit
            status (0 done, 1 input refused, 2 usage, 3 store or configuration). The core
            never imports click: only the command line calls this hook.
    """
