"""Reading a hospital's mapping files: TOML read strictly, every error naming its key.

A source's mapping (how the HIS's codes become the programme's words), a views file, an
export's columns: each is a TOML file its source reads with these pieces, so that every
one says the same thing of the same mistake — ``not UTF-8 text``, ``not TOML: ...``,
``unknown key (known: ...)``, ``non-empty text, not 3`` — under the key it was found at
(``hl7v2.departments.SUR``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from membercore.errors import ConfigError
from membercore.facts.icd10 import is_code

__all__ = ["codes", "icd10_tables", "known", "read_toml", "table", "text", "texts", "zone"]


def read_toml(path: Path, what: str = "the mapping") -> dict[str, Any]:
    """A TOML file's data (UTF-8, with or without a byte-order mark).

    Args:
        path: the file.
        what: what the file is, for the advice on its encoding (``the views file``).

    Raises:
        OSError: the file cannot be read.
        ConfigError: the file is not UTF-8 text or not TOML (key ``$``).
    """
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError("$", f"not UTF-8 text: save {what} as UTF-8") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError("$", f"not TOML: {error}") from None


def known(key: str, found: Mapping[str, Any], names: frozenset[str] | set[str]) -> None:
    """Refuse a key of the table at ``key`` that is not one of ``names``.

    Raises:
        ConfigError: naming the first unknown key and the known ones.
    """
    for name in found:
        if name not in names:
            raise ConfigError(f"{key}.{name}", f"unknown key (known: {', '.join(sorted(names))})")


def table(key: str, value: object) -> Mapping[str, Any]:
    """``value``, a table.

    Raises:
        ConfigError: it is not a table, naming ``key``.
    """
    if not isinstance(value, Mapping):
        raise ConfigError(key, f"a table, not {type(value).__name__}")
    return value


def text(key: str, value: object) -> str:
    """``value``, non-empty text.

    Raises:
        ConfigError: it is not text, or blank, naming ``key``.
    """
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, f"non-empty text, not {value!r}")
    return value


def texts(key: str, value: object) -> list[str]:
    """``value``, a non-empty list of non-empty texts.

    Raises:
        ConfigError: naming ``key``, or the item's place in it (``key[2]``).
    """
    if not isinstance(value, list) or not value:
        raise ConfigError(key, f"a list of names, not {value!r}")
    return [text(f"{key}[{number}]", item) for number, item in enumerate(value)]


def zone(key: str, value: object) -> ZoneInfo:
    """The time zone ``value`` names (``Asia/Shanghai``).

    Raises:
        ConfigError: no time zone has that name, naming ``key``.
    """
    name = text(key, value)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(key, f"no time zone is named {name!r}") from None


def codes(key: str, value: object) -> dict[str, str]:
    """A table of codes to names (``SUR = "surgery"``), every name non-empty text.

    Raises:
        ConfigError: naming the key of the code whose name is wrong.
    """
    return {str(code): text(f"{key}.{code}", named) for code, named in table(key, value).items()}


def icd10_tables(key: str, value: object) -> dict[str, dict[str, str]]:
    """Per code system, its codes to ICD-10 codes (``[...diagnoses.SCT]``).

    Raises:
        ConfigError: naming the code whose ICD-10 code is not one.
    """
    tables: dict[str, dict[str, str]] = {}
    for system, found in table(key, value).items():
        named = f"{key}.{system}"
        mapped = codes(named, found)
        for code, icd10 in mapped.items():
            if not is_code(icd10):
                raise ConfigError(f"{named}.{code}", f"{icd10!r} is not an ICD-10 code")
        tables[str(system)] = mapped
    return tables
