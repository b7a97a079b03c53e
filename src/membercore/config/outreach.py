"""The outreach policy: how, when and how often the programme may reach a member.

Quiet hours, weekly caps per purpose, the channel fallback order and the message
templates are data, validated when the configuration is built. Templates are edited by
operators, so their placeholders are a closed, tiny language: ``${name}`` and nothing
else (see :func:`placeholders`). A template that could carry a diagnosis on an external
channel (SMS, WeCom, e-mail) is refused here, before any member is ever reached.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import time
from typing import Any

import attrs

from membercore.config.common import local_time, non_blank, positive, unique_keys
from membercore.errors import ConfigError
from membercore.messages import CHANNELS, PURPOSES, Channel, Purpose

__all__ = [
    "DEFAULT_LANGUAGE",
    "EXTERNAL_CHANNELS",
    "PLACEHOLDER",
    "MessageTemplate",
    "OutreachPolicy",
    "placeholders",
    "reference_outreach",
    "reference_templates",
]

#: The language every template must carry, and the one used when a member's is missing.
DEFAULT_LANGUAGE = "zh-CN"
#: Channels whose messages leave the hospital's hands; ``phone`` is a staff call task.
EXTERNAL_CHANNELS: frozenset[Channel] = frozenset({"wecom", "sms", "email"})
#: The only placeholder syntax templates know: ``${name}``, a Python identifier.
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def reply_word(text: str) -> str:
    """A reply as compared with the opt-out words: without case, spaces or punctuation."""
    return "".join(char for char in text.casefold() if char.isalnum())


def _replies(_instance: Any, attribute: Any, value: tuple[str, ...]) -> None:
    for index, word in enumerate(value):
        if not reply_word(word):
            raise ConfigError(f"{attribute.name}[{index}]", f"not a word: {word!r}")


def placeholders(text: str) -> frozenset[str]:
    """The variable names a template text uses (its ``${name}`` placeholders)."""
    return frozenset(PLACEHOLDER.findall(text))


def _purpose(_instance: Any, attribute: Any, value: str) -> None:
    if value not in PURPOSES:
        raise ConfigError(attribute.name, f"must be one of {PURPOSES}, got {value!r}")


def _channel_list(_instance: Any, attribute: Any, value: tuple[str, ...]) -> None:
    unknown = [channel for channel in value if channel not in CHANNELS]
    if unknown:
        raise ConfigError(attribute.name, f"unknown channels {unknown}; channels are {CHANNELS}")
    if not value:
        raise ConfigError(attribute.name, "must name at least one channel")
    if len(set(value)) != len(value):
        raise ConfigError(attribute.name, f"repeats a channel: {value}")


def _names(_instance: Any, attribute: Any, value: tuple[str, ...]) -> None:
    for index, name in enumerate(value):
        if not _IDENTIFIER.fullmatch(name):
            raise ConfigError(f"{attribute.name}[{index}]", f"not a variable name: {name!r}")


def _caps(_instance: Any, attribute: Any, value: Mapping[str, int]) -> None:
    for purpose, cap in value.items():
        if purpose not in PURPOSES:
            raise ConfigError(f"{attribute.name}[{purpose!r}]", f"purposes are {PURPOSES}")
        if cap < 0:
            raise ConfigError(f"{attribute.name}[{purpose!r}]", f"must not be negative, got {cap}")


def _texts(_instance: Any, attribute: Any, value: Mapping[str, str]) -> None:
    if DEFAULT_LANGUAGE not in value:
        raise ConfigError(attribute.name, f"needs a {DEFAULT_LANGUAGE} text, got {sorted(value)}")
    for language, text in value.items():
        if not text.strip():
            raise ConfigError(f"{attribute.name}[{language!r}]", "must not be empty")


@attrs.frozen(kw_only=True)
class MessageTemplate:
    """A message the programme may send, in one or more languages.

    Attributes:
        key: stable key, named by journeys and rules.
        purpose: care, marketing or research; caps and consent are per purpose.
        texts: by language (``zh-CN`` required, ``en`` optional...), the text with
            ``${name}`` placeholders. Nothing else in the text is interpreted.
        channels: the channels it may go out on; ``phone`` makes it a staff call script.
        variables: the variables its texts use; every placeholder must be declared.
    """

    key: str = attrs.field(validator=non_blank)
    purpose: Purpose = attrs.field(validator=_purpose)
    texts: Mapping[str, str] = attrs.field(validator=_texts)
    channels: tuple[Channel, ...] = attrs.field(validator=_channel_list)
    variables: tuple[str, ...] = attrs.field(default=(), validator=_names)

    def __attrs_post_init__(self) -> None:
        for language, text in self.texts.items():
            undeclared = sorted(placeholders(text) - set(self.variables))
            if undeclared:
                raise ConfigError(f"texts[{language!r}]", f"uses undeclared variables {undeclared}")

    def text(self, language: str) -> tuple[str, str]:
        """The text in ``language``, or in zh-CN when there is none, with its language."""
        if language in self.texts:
            return language, self.texts[language]
        return DEFAULT_LANGUAGE, self.texts[DEFAULT_LANGUAGE]


@attrs.frozen(kw_only=True)
class OutreachPolicy:
    """How, when and how often messages leave the programme.

    The defaults are the reference programme's rules, without templates (see
    :func:`reference_outreach`).

    Attributes:
        version: recorded on every decision the policy makes.
        quiet_start: local time (``HH:MM``, programme timezone) quiet hours begin.
        quiet_end: local time quiet hours end; messages asked for in quiet hours are
            deferred to it. Equal to ``quiet_start`` means no quiet hours.
        weekly_caps: by purpose, the most messages (and call tasks) one member may be
            sent in any rolling week (7 × 24 h). A purpose not named is not capped.
        channel_order: the fallback order of channels, after the member's preferred
            ones. The reference: WeCom, then SMS, then a staff call task.
        sensitive_variables: variable names that carry health conditions; a template
            that uses one may only go out as a phone task.
        templates: the message templates, by unique key.
        call_role: the staff role that makes a phone task's call when the member has no
            health manager (theirs makes it when they have one). With nobody of the
            role on the roster, the call waits unassigned in the open tasks.
        opt_out_replies: the replies that withdraw marketing consent on the channel
            they come by (``TD``, ``T``, ``R``, ``退订``), compared without case,
            spaces or punctuation.
        opt_out_days: how long after a marketing message a reply to its address
            withdraws the consent of the member it went to.
        fallback_within_hours: how long after a message went out (or was due) a
            failure still falls back to the member's next channel; one learnt later
            (a provider's report days late) is too late to take its place: an
            appointment reminder after the appointment helps nobody.
    """

    version: int = attrs.field(default=1, validator=positive)
    quiet_start: str = attrs.field(default="21:00", validator=local_time)
    quiet_end: str = attrs.field(default="08:00", validator=local_time)
    weekly_caps: Mapping[str, int] = attrs.field(
        factory=lambda: {"care": 10, "marketing": 2, "research": 1}, validator=_caps
    )
    channel_order: tuple[Channel, ...] = attrs.field(
        default=("wecom", "sms", "phone"), validator=_channel_list
    )
    sensitive_variables: tuple[str, ...] = attrs.field(
        default=("diagnosis", "condition", "icd10"), validator=_names
    )
    templates: tuple[MessageTemplate, ...] = attrs.field(default=(), validator=unique_keys)
    call_role: str = attrs.field(default="call_centre", validator=non_blank)
    opt_out_replies: tuple[str, ...] = attrs.field(
        default=("TD", "T", "R", "N", "退订"), validator=_replies
    )
    opt_out_days: int = attrs.field(default=30, validator=positive)
    fallback_within_hours: int = attrs.field(default=24, validator=positive)

    def __attrs_post_init__(self) -> None:
        # Case-blind: an operator's ${Diagnosis} is still a diagnosis.
        sensitive = {name.casefold() for name in self.sensitive_variables}
        for index, template in enumerate(self.templates):
            external = sorted(EXTERNAL_CHANNELS.intersection(template.channels))
            if not external:
                continue
            for language, text in template.texts.items():
                found = sorted(n for n in placeholders(text) if n.casefold() in sensitive)
                if found:
                    raise ConfigError(
                        f"templates[{index}].texts",
                        f"template {template.key!r} puts {found} in its {language} text and "
                        f"may go out by {external}; health conditions may only be carried "
                        "by a phone task",
                    )
            declared = sorted(n for n in template.variables if n.casefold() in sensitive)
            if declared:
                raise ConfigError(
                    f"templates[{index}].variables",
                    f"template {template.key!r} declares {declared} and may go out by "
                    f"{external}; health conditions may only be carried by a phone task",
                )

    def opts_out(self, reply: str) -> bool:
        """Whether ``reply`` is one of :attr:`opt_out_replies` (``td``, `` TD。``...)."""
        return reply_word(reply) in {reply_word(word) for word in self.opt_out_replies}

    def template(self, key: str) -> MessageTemplate | None:
        """The template called ``key``, if there is one."""
        return next((template for template in self.templates if template.key == key), None)

    def quiet_hours(self) -> tuple[time, time] | None:
        """Quiet hours as (start, end) local times, or ``None`` when there are none."""
        if self.quiet_start == self.quiet_end:
            return None
        return time.fromisoformat(self.quiet_start), time.fromisoformat(self.quiet_end)

    def weekly_cap(self, purpose: str) -> int | None:
        """The weekly cap for ``purpose``, or ``None`` when it is not capped."""
        return self.weekly_caps.get(purpose)


def reference_templates() -> tuple[MessageTemplate, ...]:
    """The reference programme's message templates, zh-CN first (its ``[outreach]``)."""
    return reference_outreach().templates


def reference_outreach() -> OutreachPolicy:
    """The reference programme's outreach policy.

    Quiet hours 21:00–08:00; at most 10 care, 2 marketing and 1 research message per
    member in any rolling week; WeCom, then SMS, then a staff call task; diagnoses,
    conditions and ICD-10 codes only in phone scripts; the templates its journeys send
    (``reference_config().outreach``).
    """
    # The reference programme's parts are read from its file, with this module's classes.
    from membercore.config.reference import reference_config  # noqa: PLC0415

    return reference_config().outreach
