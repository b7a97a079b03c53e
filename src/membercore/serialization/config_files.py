"""A programme's configuration read from data, TOML text or a file, and written back.

Configuration is structured strictly: an unknown key or a wrong value raises
:class:`~membercore.errors.ConfigError` naming the key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cattrs

from membercore.config import ProgrammeConfig
from membercore.config.experiments import check_experiment_tags
from membercore.converters import converter
from membercore.errors import (
    ConfigError,
)
from membercore.serialization.messages import message_types
from membercore.serialization.problems import not_the_data, summary
from membercore.text import brief

__all__ = ["dump_config", "load_config", "load_config_file", "load_config_toml"]


def load_config(data: Mapping[str, Any]) -> ProgrammeConfig:
    """Structure and validate a programme configuration.

    Raises:
        ConfigError: naming the first offending key (``$.earning.sharing.points``...).
    """
    try:
        config = converter().structure(dict(data), ProgrammeConfig)
        check_experiment_tags(config.experiments, message_types())
    except cattrs.BaseValidationError as error:
        if (cause := not_the_data(error)) is not None:
            raise cause from error
        raise _config_error(error) from error
    except ConfigError as error:
        # Raised by the programme's own cross-checks, once its parts are structured.
        raise ConfigError(f"$.{error.key}", error.problem) from error
    except (ArithmeticError, LookupError, RecursionError, TypeError, ValueError) as error:
        raise ConfigError("$", f"cannot be read: {brief(str(error))[1:-1]}") from error
    return config


def load_config_toml(text: str) -> ProgrammeConfig:
    """Load a programme configuration from TOML text.

    Raises:
        ConfigError: the TOML does not parse, or a key is invalid.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError("$", f"not valid TOML: {error}") from error
    except RecursionError:
        raise ConfigError("$", "not valid TOML: arrays or tables nested too deep") from None
    except ValueError as error:  # a number too long for Python to read
        raise ConfigError("$", f"not valid TOML: {brief(str(error))[1:-1]}") from None
    if not data:
        # In code, load_config({}) is the default programme; an empty file is a mistake.
        raise ConfigError("$", "the programme is empty: give at least its name and tiers")
    return load_config(data)


def load_config_file(path: Path) -> ProgrammeConfig:
    """Load a programme configuration from a TOML file (UTF-8, with or without a BOM).

    Raises:
        OSError: the file cannot be read.
        ConfigError: the file is empty, not UTF-8 text or not TOML, or a key is invalid.
    """
    if path.stat().st_size > _MAX_PROGRAMME:
        size = path.stat().st_size
        raise ConfigError("$", f"a programme of {size} bytes, more than {_MAX_PROGRAMME}")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        problem = (
            f"not UTF-8 text (byte 0x{raw[error.start]:02x} at position {error.start}); "
            "save the programme as UTF-8"
        )
        raise ConfigError("$", problem) from None
    return load_config_toml(text)


def dump_config(config: ProgrammeConfig) -> dict[str, Any]:
    """A programme configuration as plain data (the inverse of :func:`load_config`)."""
    data: dict[str, Any] = converter().unstructure(config)
    return data


#: The largest programme file read (a programme is tens of kilobytes).
_MAX_PROGRAMME = 5_000_000


def _config_error(error: cattrs.BaseValidationError) -> ConfigError:
    key, problem = summary(error)
    return ConfigError(key, problem)
