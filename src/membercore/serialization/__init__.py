"""Stored and wire forms: configuration, facts, commands, events, records and snapshots.

Messages are plain dicts with a stable ``type`` tag (the class's ``TYPE``, never its
Python name); instants are ISO 8601 strings with their offset; money and points stay
integers. Configuration is structured strictly: an unknown key or a wrong value raises
:class:`~membercore.errors.ConfigError` naming the key.

Inputs and stored data are read two ways. Facts and commands coming in
(:func:`message_from_dict`, :func:`message_from_json`) are strict: an unknown key is
refused with :class:`~membercore.errors.InvalidFactError` naming it, as bad input must
never be silently dropped. What membercore stored itself — events
(:func:`message_from_stored`), records (:func:`record_from_json`) and ledger snapshots
(:func:`snapshot_from_dict`) — may have been written by an earlier or a later release:
it is brought up to date by the upcasters of its schema version
(:mod:`membercore.upcasting`) and read with tolerance, unknown keys ignored. Both ways
apply the upcasters: an input may carry an old version too.
"""

from __future__ import annotations

from membercore.converters import canonical_form, canonical_json, converter, stored_converter
from membercore.serialization.config_files import (
    dump_config,
    load_config,
    load_config_file,
    load_config_toml,
)
from membercore.serialization.messages import (
    _MESSAGE_TYPES,  # noqa: F401 - the registry, for tools that list every type
    message_classes,
    message_from_dict,
    message_from_json,
    message_from_stored,
    message_to_dict,
    message_to_json,
    message_types,
)
from membercore.serialization.records import (
    record_from_json,
    record_to_json,
    snapshot_from_dict,
    snapshot_to_dict,
)

__all__ = [
    "canonical_form",
    "canonical_json",
    "converter",
    "dump_config",
    "load_config",
    "load_config_file",
    "load_config_toml",
    "message_classes",
    "message_from_dict",
    "message_from_json",
    "message_from_stored",
    "message_to_dict",
    "message_to_json",
    "message_types",
    "record_from_json",
    "record_to_json",
    "snapshot_from_dict",
    "snapshot_to_dict",
    "stored_converter",
]
