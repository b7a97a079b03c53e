"""Consent's commands and events: a grant or a withdrawal, per purpose and channel."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import attrs

from membercore.checks import non_empty
from membercore.converters import OMIT_AT_DEFAULT
from membercore.dates import as_utc, aware
from membercore.errors import InvalidFactError
from membercore.messages import (
    CHANNELS,
    Channel,
    Command,
    MemberEvent,
    Purpose,
    check_purpose,
)

__all__ = [
    "MESSAGE_TYPES",
    "ConsentCommand",
    "ConsentEvent",
    "ConsentGranted",
    "ConsentWithdrawn",
    "GrantConsent",
    "WithdrawConsent",
]


# New fields are written only when they hold something: what earlier releases wrote
# and digested stays as it was.
_OMIT = {OMIT_AT_DEFAULT: True}


def _optional_text(instance: Any, attribute: Any, value: str | None) -> None:
    if value is not None:
        non_empty(instance, attribute, value)


def _channels(instance: Any, attribute: Any, value: tuple[str, ...]) -> None:
    unknown = [channel for channel in value if channel not in CHANNELS]
    if unknown or len(set(value)) != len(value):
        raise InvalidFactError(instance.TYPE, attribute.name, value, f"channels are {CHANNELS}")


@attrs.frozen(kw_only=True)
class GrantConsent(Command):
    """The member (or their guardian) agrees to be reached for a purpose by channels.

    Attributes:
        key: idempotency key.
        member_id: the member.
        purpose: care, marketing or research.
        channels: the channels agreed to.
        given_by: who gave it: the member, or their guardian's member id.
        source: where it was given (``app``, ``paper form``, ``front desk``...).
        text_version: the version of the consent text the person agreed to
            (``marketing-2026-01``), as the hospital names its texts.
        operator: the member of staff who took it (at the front desk, on the phone);
            ``None`` when the person gave it themselves (the app, an SMS reply). The
            HTTP API and the console fill in the member of staff who sends it.
    """

    TYPE: ClassVar[str] = "grant_consent"

    purpose: Purpose = attrs.field(validator=check_purpose)
    channels: tuple[Channel, ...] = attrs.field(validator=_channels)
    given_by: str = attrs.field(validator=non_empty)
    source: str = attrs.field(validator=non_empty)
    # Out of the repr and written only when given: the fingerprints of grants taken
    # before stay as they were (docs/stored-data.md).
    text_version: str | None = attrs.field(
        default=None, validator=_optional_text, repr=False, metadata=_OMIT
    )
    operator: str | None = attrs.field(
        default=None, validator=_optional_text, repr=False, metadata=_OMIT
    )


@attrs.frozen(kw_only=True)
class WithdrawConsent(Command):
    """The member withdraws consent for a purpose, on some channels or all of them.

    Attributes:
        key: idempotency key.
        member_id: the member.
        purpose: the purpose.
        channels: the channels withdrawn; empty means every channel.
        reason: why, when known.
        operator: the member of staff who took it (at the desk, on the phone, the
            console's button); ``None`` when the person withdrew it themselves (the
            app, an SMS "TD"). The HTTP API and the console fill it in.
    """

    TYPE: ClassVar[str] = "withdraw_consent"

    purpose: Purpose = attrs.field(validator=check_purpose)
    channels: tuple[Channel, ...] = attrs.field(default=(), validator=_channels)
    reason: str | None = None
    operator: str | None = attrs.field(
        default=None, validator=_optional_text, repr=False, metadata=_OMIT
    )


ConsentCommand = GrantConsent | WithdrawConsent


@attrs.frozen(kw_only=True)
class ConsentGranted(MemberEvent):
    """Consent was given for a purpose on channels: the evidence of it.

    ``text_version`` and ``operator`` are as the command gave them (grants recorded
    before they were kept have neither).
    """

    TYPE: ClassVar[str] = "consent_granted"

    purpose: Purpose
    channels: tuple[Channel, ...]
    given_by: str
    by_guardian: bool
    source: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    key: str
    fingerprint: str
    text_version: str | None = attrs.field(default=None, metadata=_OMIT)
    operator: str | None = attrs.field(default=None, metadata=_OMIT)


@attrs.frozen(kw_only=True)
class ConsentWithdrawn(MemberEvent):
    """Consent was withdrawn for a purpose on channels (by the member, or by a merge)."""

    TYPE: ClassVar[str] = "consent_withdrawn"

    purpose: Purpose
    channels: tuple[Channel, ...]
    reason: str | None
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    key: str
    fingerprint: str
    operator: str | None = attrs.field(default=None, metadata=_OMIT)


ConsentEvent = ConsentGranted | ConsentWithdrawn


#: Every consent message type, for serialization.
MESSAGE_TYPES: tuple[type[Any], ...] = (
    GrantConsent,
    WithdrawConsent,
    ConsentGranted,
    ConsentWithdrawn,
)
