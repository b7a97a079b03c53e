"""A ``[channels.sms]`` table, read strictly: every mistake a ConfigError naming its key.

The keys every SMS channel takes (:data:`COMMON_KEYS`) and each provider's own are read
here; the keys are named relative to the channel's table (``templates.offer.code``), as
the engine prefixes them with ``channels.<name>.``. Credentials are never in the table:
it names the environment variables that hold them, read once when the channel is built
and kept in :class:`Secret` wrappers that never print.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import attrs

from membercore.errors import ConfigError

__all__ = [
    "COMMON_KEYS",
    "CommonSettings",
    "MissingVariableError",
    "ProviderTemplate",
    "Secret",
    "common_settings",
    "flag",
    "refuse_unknown",
    "secret",
    "table",
    "text",
    "variable_names",
]

#: The keys of every SMS channel's table (the engine gives ``name``).
COMMON_KEYS = frozenset({"name", "sign_name", "templates", "endpoint", "timeout", "extend_code"})
#: Seconds a request may take unless ``timeout`` says otherwise.
DEFAULT_TIMEOUT = 10.0


class Secret:
    """A credential held in memory: its repr and str never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The credential itself, for signing."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__


class MissingVariableError(KeyError):
    """A template parameter's programme variable is not among the message's variables.

    Attributes:
        variable: the variable's name.
    """

    def __init__(self, variable: str) -> None:
        super().__init__(variable)
        self.variable = variable


@attrs.frozen(kw_only=True)
class ProviderTemplate:
    """How one programme template goes by SMS: a provider template approved in advance.

    Attributes:
        template_id: Aliyun's template code (``SMS_15302``) or Tencent Cloud's template
            id (``1110``).
        params: the template's parameters, in order, each with the programme variable
            that fills it: (Aliyun's parameter name, variable), or for Tencent Cloud
            (its position from ``1``, variable).
        opt_out: the approved template carries the opt-out text (``回T退订``,
            ``拒收请回复R``), which a marketing message must.
    """

    template_id: str
    params: tuple[tuple[str, str], ...] = ()
    opt_out: bool = False

    def fill(self, variables: Mapping[str, str]) -> list[tuple[str, str]]:
        """Each parameter with its value from ``variables``.

        Raises:
            MissingVariableError: a variable the template needs is not given.
        """
        filled = []
        for parameter, variable in self.params:
            if variable not in variables:
                raise MissingVariableError(variable)
            filled.append((parameter, variables[variable]))
        return filled

    def describe(self) -> str:
        """``SMS_15302 (name, price)``: the template, and the variables filling it."""
        shown = [
            variable if parameter in (variable, str(place)) else f"{parameter}={variable}"
            for place, (parameter, variable) in enumerate(self.params, start=1)
        ]
        marks = ["opt-out text"] if self.opt_out else []
        inside = "; ".join(part for part in (", ".join(shown), *marks) if part)
        return f"{self.template_id} ({inside})" if inside else self.template_id


@attrs.frozen(kw_only=True)
class CommonSettings:
    """What every SMS channel's table gives.

    Attributes:
        name: the programme's channel it serves (``sms``).
        sign_name: the approved SMS signature (签名, ``某某医院``).
        endpoint: the provider's API address (``https://dysmsapi.aliyuncs.com``).
        timeout: seconds one request may take.
        extend_code: the extension code replies come back on (Aliyun
            ``SmsUpExtendCode``, Tencent Cloud ``ExtendCode``), or None.
        templates: the raw ``templates`` table, which each provider reads its own way.
    """

    name: str
    sign_name: str
    endpoint: str
    timeout: float
    extend_code: str | None
    templates: Mapping[str, Any]


def refuse_unknown(key: str, found: Mapping[str, Any], known: frozenset[str]) -> None:
    """Refuse a key of the table at ``key`` (``""``: the channel's own) not in ``known``.

    Raises:
        ConfigError: naming the first unknown key and the known ones.
    """
    for name in found:
        if name not in known:
            where = f"{key}.{name}" if key else str(name)
            raise ConfigError(where, f"unknown key (known: {', '.join(sorted(known))})")


def table(key: str, value: object) -> Mapping[str, Any]:
    """``value``, a table.

    Raises:
        ConfigError: it is not one.
    """
    if not isinstance(value, Mapping):
        raise ConfigError(key, f"must be a table, not {type(value).__name__}")
    return value


def text(key: str, value: object) -> str:
    """``value``, non-empty text (an integer is taken as its digits: ``1400006666``).

    Raises:
        ConfigError: it is neither, or blank.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, f"must be non-empty text, not {value!r}")
    return value.strip()


def flag(key: str, value: object) -> bool:
    """``value``, true or false.

    Raises:
        ConfigError: it is not a boolean.
    """
    if not isinstance(value, bool):
        raise ConfigError(key, f"must be true or false, not {value!r}")
    return value


def secret(options: Mapping[str, Any], key: str) -> Secret:
    """The credential in the environment variable that option ``key`` names.

    Raises:
        ConfigError: the option is missing or blank, or the variable is not set (the
            problem names the variable, never a value).
    """
    if key not in options:
        raise ConfigError(key, "missing: name the environment variable that holds it")
    variable = text(key, options[key])
    value = os.environ.get(variable, "")
    if not value.strip():
        raise ConfigError(key, f"the environment variable {variable} is not set")
    return Secret(value.strip())


def _endpoint(value: object) -> str:
    address = text("endpoint", value).rstrip("/")
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("endpoint", f"must be an http(s) URL, not {address!r}")
    if parts.query or parts.fragment or parts.path not in ("", "/"):
        raise ConfigError("endpoint", f"must be the API's address alone, not {address!r}")
    return f"{parts.scheme}://{parts.netloc}"


def _timeout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError("timeout", f"must be a number of seconds, not {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ConfigError("timeout", f"must be positive, not {value!r}")
    return float(value)


def _extend_code(value: object) -> str:
    code = text("extend_code", value)
    if not code.isdigit() or len(code) > 12:
        raise ConfigError("extend_code", f"must be up to 12 digits, not {code!r}")
    return code


def common_settings(
    options: Mapping[str, Any], *, own_keys: frozenset[str], default_endpoint: str
) -> CommonSettings:
    """Read the keys every SMS channel takes.

    A key that neither they nor the provider's (``own_keys``) are is refused.

    Raises:
        ConfigError: naming the key.
    """
    refuse_unknown("", table("", options), COMMON_KEYS | own_keys)
    if "sign_name" not in options:
        raise ConfigError("sign_name", "missing: the approved SMS signature (签名)")
    if "templates" not in options:
        raise ConfigError("templates", "missing: SMS sends only the provider's approved templates")
    return CommonSettings(
        name=text("name", options.get("name", "sms")),
        sign_name=text("sign_name", options["sign_name"]),
        endpoint=_endpoint(options.get("endpoint", default_endpoint)),
        timeout=_timeout(options.get("timeout", DEFAULT_TIMEOUT)),
        extend_code=_extend_code(options["extend_code"]) if "extend_code" in options else None,
        templates=table("templates", options["templates"]),
    )


def variable_names(key: str, value: object) -> Sequence[str]:
    """``value``, a list of programme variable names (Tencent Cloud's ordered parameters).

    Raises:
        ConfigError: it is not a list of non-empty texts.
    """
    if not isinstance(value, list | tuple):
        raise ConfigError(key, f"must be a list of programme variables, not {value!r}")
    return [text(f"{key}[{place}]", item) for place, item in enumerate(value)]
