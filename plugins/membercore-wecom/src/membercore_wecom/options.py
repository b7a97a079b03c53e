"""The channel's options: the programme's ``[channels.wecom]`` table, read strictly.

::

    [channels.wecom]
    use = "wecom"
    corp_id = "ww0123456789abcdef"
    secret_env = "WECOM_CONTACT_SECRET"     # 客户联系 secret: messages to patients
    app_secret_env = "WECOM_APP_SECRET"     # the self-built app's: messages to staff
    agent_id = 1000002                      # that app's AgentId
    default_sender = "zhanghua"             # for members without a health manager
    monthly_limit_per_customer = 4
    per_minute = 30
    per_hour_per_member = 1000
    templates = ["checkup_reminder", "annual_plan_offer"]   # only these (default: all)

    [channels.wecom.staff]                  # staff id -> WeCom userid
    "S0012" = "zhanghua"

    [channels.staff]                        # notices to staff of their tasks
    use = "wecom-staff"
    corp_id = "ww0123456789abcdef"
    app_secret_env = "WECOM_APP_SECRET"
    agent_id = 1000002
    staff = { "S0012" = "zhanghua" }

Credentials are named by their environment variables, read when the channel is built:
an unknown key, a missing one, a wrong value or an environment variable not set is a
:class:`~membercore.errors.ConfigError` naming the option (``secret_env``; the engine
names it ``channels.wecom.secret_env``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

from membercore.config.outreach import MessageTemplate
from membercore.errors import ConfigError
from membercore_wecom.api import DEFAULT_BASE_URL, Secret

__all__ = ["KNOWN_KEYS", "STAFF_KEYS", "WeComOptions", "allows", "carriage"]

KNOWN_KEYS = frozenset(
    {
        "name",
        "corp_id",
        "secret_env",
        "app_secret_env",
        "agent_id",
        "default_sender",
        "staff",
        "monthly_limit_per_customer",
        "per_minute",
        "per_hour_per_member",
        "confirm_within_hours",
        "base_url",
        "timeout",
        "templates",
    }
)

#: The keys of a staff channel's table (``use = "wecom-staff"``): the app's.
STAFF_KEYS = KNOWN_KEYS - {
    "secret_env",
    "default_sender",
    "monthly_limit_per_customer",
    "confirm_within_hours",
}


@attrs.frozen(kw_only=True)
class WeComOptions:
    """What ``[channels.wecom]`` says.

    Attributes:
        name: the programme's channel it serves (``wecom``; ``staff`` for notices).
        corp_id: the corp id (企业ID).
        secret_env: the environment variable holding the customer contact (客户联系)
            secret, or that of a self-built app allowed to call the customer contact
            APIs (可调用应用); required for the patients' channel.
        app_secret_env: the environment variable holding the self-built app's secret,
            for messages to staff (may name the same variable as ``secret_env``).
        agent_id: the self-built app's AgentId, for messages to staff.
        default_sender: the WeCom userid who sends to members without a health manager.
        staff: staff ids to WeCom userids (a staff id not listed is its own userid).
        monthly_limit_per_customer: mass messages a customer may receive in a calendar
            month, as the corp's rule (群发规则) sets it.
        per_minute: requests the app makes in any minute, at most.
        per_hour_per_member: requests for one member (a patient, a staff member) in any
            hour, at most.
        confirm_within_hours: how long the staff member has to confirm a mass message
            in their client; one still not sent then is reported undeliverable, and the
            message falls back to the member's next channel.
        base_url: WeCom's API root.
        timeout: seconds a request may take.
        templates: the programme templates it carries (None: every one, as free text).
    """

    name: str = "wecom"
    corp_id: str
    secret_env: str | None = None
    app_secret_env: str | None = None
    agent_id: int | None = None
    default_sender: str | None = None
    staff: Mapping[str, str] = attrs.field(factory=dict)
    monthly_limit_per_customer: int = 4
    per_minute: int = 30
    per_hour_per_member: int = 1000
    confirm_within_hours: int = 24
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 10.0
    templates: tuple[str, ...] | None = None

    @classmethod
    def read(cls, options: Mapping[str, Any]) -> WeComOptions:
        """Read the patients' channel's table (without ``use``).

        Raises:
            ConfigError: a key unknown, missing or with a wrong value.
        """
        return cls._read(options, KNOWN_KEYS, ("corp_id", "secret_env"), "wecom")

    @classmethod
    def read_staff(cls, options: Mapping[str, Any]) -> WeComOptions:
        """Read the staff channel's table (without ``use``): the app's keys only.

        Raises:
            ConfigError: a key unknown, missing or with a wrong value.
        """
        required = ("corp_id", "app_secret_env", "agent_id")
        return cls._read(options, STAFF_KEYS, required, "staff")

    @classmethod
    def _read(
        cls,
        options: Mapping[str, Any],
        known_keys: frozenset[str],
        required: tuple[str, ...],
        default_name: str,
    ) -> WeComOptions:
        name = _text("name", options.get("name", default_name))
        for key in options:
            if key not in known_keys:
                known = ", ".join(sorted(known_keys))
                raise ConfigError(key, f"unknown key (known: {known})")
        for key in required:
            if key not in options:
                raise ConfigError(key, "is required")
        agent_id = options.get("agent_id")
        if agent_id is not None and (
            not isinstance(agent_id, int) or isinstance(agent_id, bool) or agent_id <= 0
        ):
            raise ConfigError("agent_id", f"must be the app's AgentId, got {agent_id!r}")
        app_secret_env = _optional_text("app_secret_env", options.get("app_secret_env"))
        if agent_id is not None and app_secret_env is None:
            raise ConfigError("app_secret_env", "is required with agent_id")
        if app_secret_env is not None and agent_id is None:
            raise ConfigError("agent_id", "is required with app_secret_env")
        return cls(
            name=name,
            corp_id=_text("corp_id", options["corp_id"]),
            secret_env=_optional_text("secret_env", options.get("secret_env")),
            app_secret_env=app_secret_env,
            agent_id=agent_id,
            default_sender=_optional_text("default_sender", options.get("default_sender")),
            staff=_staff("staff", options.get("staff", {})),
            monthly_limit_per_customer=_positive(
                "monthly_limit_per_customer", options.get("monthly_limit_per_customer", 4)
            ),
            per_minute=_positive("per_minute", options.get("per_minute", 30)),
            per_hour_per_member=_positive(
                "per_hour_per_member", options.get("per_hour_per_member", 1000)
            ),
            confirm_within_hours=_positive(
                "confirm_within_hours", options.get("confirm_within_hours", 24)
            ),
            base_url=_url("base_url", options.get("base_url", DEFAULT_BASE_URL)),
            timeout=_seconds("timeout", options.get("timeout", 10.0)),
            templates=_templates("templates", options.get("templates")),
        )

    def contact_secret(self, environ: Mapping[str, str] | None = None) -> Secret:
        """The customer contact secret, from ``secret_env``.

        Raises:
            ConfigError: the variable is not set.
        """
        if self.secret_env is None:
            raise ConfigError("secret_env", "is required")
        return _secret("secret_env", self.secret_env, environ)

    def app_secret(self, environ: Mapping[str, str] | None = None) -> Secret | None:
        """The app's secret, from ``app_secret_env`` (None: no messages to staff).

        Raises:
            ConfigError: the variable is not set.
        """
        if self.app_secret_env is None:
            return None
        return _secret("app_secret_env", self.app_secret_env, environ)

    def userid(self, staff_id: str) -> str:
        """The WeCom userid of staff member ``staff_id`` (by the ``staff`` table)."""
        return self.staff.get(staff_id, staff_id)


def _secret(key: str, variable: str, environ: Mapping[str, str] | None) -> Secret:
    value = (os.environ if environ is None else environ).get(variable)
    if not value:
        raise ConfigError(key, f"the environment variable {variable} is not set")
    return Secret(value, variable)


def _text(key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, f"must be non-empty text, got {value!r}")
    return value.strip()


def _optional_text(key: str, value: object) -> str | None:
    return None if value is None else _text(key, value)


def _positive(key: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(key, f"must be a positive whole number, got {value!r}")
    return value


def _seconds(key: str, value: object) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise ConfigError(key, f"must be a positive number of seconds, got {value!r}")
    return float(value)


def _url(key: str, value: object) -> str:
    text = _text(key, value)
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query:
        raise ConfigError(key, f"must be an http(s) URL without a query, got {text!r}")
    return text.rstrip("/")


def _staff(key: str, value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigError(key, "must be a table of staff ids to WeCom userids")
    return {_text(key, staff): _text(f"{key}.{staff}", userid) for staff, userid in value.items()}


def _templates(key: str, value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        raise ConfigError(key, f"must be a list of template keys, got {value!r}")
    return tuple(_text(f"{key}[{index}]", item) for index, item in enumerate(value))


def carriage(templates: tuple[str, ...] | None, template: MessageTemplate) -> str | None:
    """How a WeCom channel carries ``template``: free text, unless ``templates`` leaves it out."""
    return "free text" if allows(templates, template.key) else None


def allows(templates: tuple[str, ...] | None, key: str) -> bool:
    """Whether options listing ``templates`` (None: every one) let a channel carry ``key``."""
    return templates is None or key in templates
