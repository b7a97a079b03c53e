"""The JSON Schemas the HTTP API's document gives of message types, from their attrs fields."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, ClassVar, Literal

import attrs
import pytest

from membercore_adapters.http.schemas import field_descriptions, message_schemas


class Shade(enum.Enum):
    LIGHT = "light"
    DARK = "dark"


@attrs.frozen(kw_only=True)
class Part:
    """A part of a made-up message.

    Attributes:
        code: its code.
    """

    code: str


@attrs.frozen(kw_only=True)
class Base:
    """Fields every made-up message has.

    Attributes:
        key: the idempotency key.
    """

    key: str


@attrs.frozen(kw_only=True)
class Sample(Base):
    """A made-up message with a field of every kind.

    It says more in its second paragraph, which the schema leaves out.

    Attributes:
        at: when, with its offset.
        day (date): a calendar day,
            written over two lines.
        parts: the parts.
        counts: a count by name.
        channels: the channels.
        urgent: whether urgent.
    """

    TYPE: ClassVar[str] = "sample"

    at: datetime
    day: date | None = None
    parts: tuple[Part, ...] = ()
    counts: Mapping[str, int] = attrs.field(factory=dict)
    channels: frozenset[Literal["sms", "email"]] = frozenset()
    shade: Shade = Shade.LIGHT
    urgent: bool = False
    seen: int = attrs.field(default=0, init=False)


@attrs.frozen
class Odd:
    TYPE: ClassVar[str] = "odd"

    value: complex


def test_a_message_type_is_an_object_with_its_tag_its_fields_and_no_other_key() -> None:
    built = message_schemas([Sample], optional={"key": "Or the header's."})
    assert built.union.to_schema() == {
        "oneOf": [{"$ref": "#/components/schemas/Sample"}],
        "discriminator": {
            "propertyName": "type",
            "mapping": {"sample": "#/components/schemas/Sample"},
        },
    }
    assert set(built.components) == {"Sample", "Part"}
    schema = built.components["Sample"].to_schema()
    assert schema["title"] == "Sample"
    assert schema["description"] == "A made-up message with a field of every kind."
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["type", "at"]  # the key may come from elsewhere
    properties = schema["properties"]
    assert list(properties) == [
        *("type", "key", "at", "day", "parts", "counts"),
        *("channels", "shade", "urgent"),
    ]
    assert properties["type"]["const"] == "sample"
    assert properties["key"]["description"] == "the idempotency key. Or the header's."
    assert properties["at"] == {
        "type": "string",
        "format": "date-time",
        "description": "when, with its offset.",
    }
    assert properties["day"] == {
        "oneOf": [{"type": "string", "format": "date"}, {"type": "null"}],
        "description": "a calendar day, written over two lines.",
    }
    assert properties["parts"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Part"},
        "description": "the parts.",
    }
    assert properties["counts"]["additionalProperties"] == {"type": "integer"}
    assert properties["channels"]["items"] == {"type": "string", "enum": ["sms", "email"]}
    assert properties["shade"] == {"enum": ["light", "dark"]}
    assert properties["urgent"] == {
        "type": "boolean",
        "default": False,
        "description": "whether urgent.",
    }
    part = built.components["Part"].to_schema()
    assert (part["required"], part["additionalProperties"]) == (["code"], False)
    assert "type" not in part["properties"]  # a part is no message: it has no tag


def test_a_field_of_a_kind_without_a_schema_is_refused_naming_it() -> None:
    with pytest.raises(TypeError, match="complex"):
        message_schemas([Odd])


def test_two_types_with_one_tag_are_refused() -> None:
    twin: Any = attrs.make_class("Twin", {"at": attrs.field(type=datetime)})
    twin.TYPE = "sample"
    with pytest.raises(ValueError, match="tagged 'sample'"):
        message_schemas([Sample, twin])


def test_two_classes_of_one_name_are_refused() -> None:
    other: Any = attrs.make_class("Part", {"code": attrs.field(type=int)})
    other.TYPE = "other_part"
    with pytest.raises(ValueError, match="share a name"):
        message_schemas([Sample, other])


def test_field_descriptions_come_from_the_class_and_its_bases() -> None:
    assert field_descriptions(Sample) == {
        "key": "the idempotency key.",
        "at": "when, with its offset.",
        "day": "a calendar day, written over two lines.",
        "parts": "the parts.",
        "counts": "a count by name.",
        "channels": "the channels.",
        "urgent": "whether urgent.",
    }
    assert field_descriptions(Odd) == {}
