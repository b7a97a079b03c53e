"""JSON Schemas of the facts and commands, from their attrs fields, for the OpenAPI document.

The engine reads a fact or a command from the tagged dict
:func:`~membercore.serialization.message_to_dict` writes: its ``type`` tag, then its
fields as the one cattrs converter reads them, strictly (no other key). The schema of a
type says the same: an object with its tag as a constant, its fields (those without a
default required) and ``additionalProperties: false``. An instant is an ISO 8601
``date-time``, a date a ``date``, a tuple or a set a list, a mapping an object, a
``Literal`` an ``enum``, an attrs class held in a field a schema of its own. The text of
each field is what the ``Attributes:`` of the class's docstring says of it. What the
field validators check (a positive amount, a known code) is the engine's to say.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any, Literal, Union

import attrs
from litestar.openapi.spec import Discriminator, OpenAPIFormat, OpenAPIType, Reference, Schema

from membercore.converters import TAG
from membercore.facts import Fact
from membercore.serialization import message_classes
from membercore.service.use_cases import HANDLERS
from membercore.upcasting import VERSION_KEY, schema_version

__all__ = [
    "COMPONENTS",
    "MessageSchemas",
    "command_types",
    "fact_types",
    "field_descriptions",
    "message_schemas",
]

#: Where a schema of the document's components is referred to.
COMPONENTS = "#/components/schemas/"


@attrs.frozen(kw_only=True)
class MessageSchemas:
    """The schemas of a family of message types (the facts, or the commands).

    Attributes:
        union: any one of them: ``oneOf`` the types, told apart by their ``type`` tag
            (a ``discriminator``).
        components: each type's schema, and those of the attrs classes their fields
            hold, by the class's name, for the document's components.
    """

    union: Schema
    components: dict[str, Schema]


def fact_types() -> list[type[Any]]:
    """Every fact type ``POST /facts`` takes, in the order of their tags."""
    return [cls for _, cls in sorted(message_classes().items()) if issubclass(cls, Fact)]


def command_types() -> list[type[Any]]:
    """Every command the engine carries out (``POST /commands``), in the order of their tags."""
    return sorted(HANDLERS, key=lambda cls: str(cls.TYPE))


def message_schemas(
    kinds: Iterable[type[Any]], *, optional: Mapping[str, str] | None = None
) -> MessageSchemas:
    """The JSON Schemas of message types, as the engine reads them.

    Args:
        kinds: the message types (attrs classes with a ``TYPE`` tag).
        optional: fields documented as not required although the type has no default
            for them, each with why (a command's ``key``, which a header may give).

    Returns:
        Their union and their components.

    Raises:
        TypeError: a field's type has no JSON Schema here (a new kind of field).
        ValueError: two classes share a name, or two types a tag.
    """
    builder = _Builder(optional or {})
    mapping: dict[str, str] = {}
    for cls in kinds:
        tag = str(cls.TYPE)
        if tag in mapping:
            raise ValueError(f"two message types are tagged {tag!r}")
        mapping[tag] = builder.named(cls, tag).ref
    union = Schema(
        one_of=[Reference(ref=ref) for ref in mapping.values()],
        discriminator=Discriminator(property_name=TAG, mapping=mapping),
    )
    return MessageSchemas(union=union, components=builder.components)


_SCALARS: Mapping[object, Schema] = {
    str: Schema(type=OpenAPIType.STRING),
    int: Schema(type=OpenAPIType.INTEGER),
    bool: Schema(type=OpenAPIType.BOOLEAN),
    float: Schema(type=OpenAPIType.NUMBER),
    datetime: Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME),
    date: Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE),
}
_LISTS = (tuple, list, frozenset, set, Sequence, typing.AbstractSet)
_MAPPINGS = (dict, Mapping)
_UNIONS = (Union, types.UnionType)


class _Builder:
    """Schemas of attrs classes, each kept once under its class's name."""

    def __init__(self, optional: Mapping[str, str]) -> None:
        self.components: dict[str, Schema] = {}
        self._classes: dict[str, type[Any]] = {}
        self._optional = optional

    def named(self, cls: type[Any], tag: str | None) -> Reference:
        """A reference to the schema of ``cls`` (a message type when it has a tag)."""
        name = cls.__name__
        held = self._classes.get(name)
        if held is not None and held is not cls:
            raise ValueError(f"{held.__module__}.{name} and {cls.__module__}.{name} share a name")
        if held is None:
            self._classes[name] = cls
            self.components[name] = self._object(cls, tag)
        return Reference(ref=COMPONENTS + name)

    def _object(self, cls: type[Any], tag: str | None) -> Schema:
        hints = typing.get_type_hints(cls)
        said = field_descriptions(cls)
        properties: dict[str, Reference | Schema] = {}
        required: list[str] = []
        if tag is not None:
            properties.update(_tagged(cls, tag))
            required.append(TAG)
        for field in attrs.fields(cls):
            if not field.init:
                continue
            why_optional = self._optional.get(field.name) if tag is not None else None
            text = " ".join(words for words in (said.get(field.name), why_optional) if words)
            properties[field.name] = _described(self.of(hints[field.name]), text, field.default)
            if field.default is attrs.NOTHING and why_optional is None:
                required.append(field.name)
        return Schema(
            type=OpenAPIType.OBJECT,
            title=cls.__name__,
            description=summary(cls),
            properties=properties,
            required=required,
            additional_properties=False,
        )

    def of(self, hint: Any) -> Reference | Schema:
        """The schema of a field's type.

        Raises:
            TypeError: the type has no JSON Schema here.
        """
        if hint is Any:
            return Schema()
        bare = hint if hint in (*_LISTS, *_MAPPINGS) else None  # tuple, without its items
        origin = typing.get_origin(hint) or bare
        if origin is not None:
            return self._generic(hint, origin, typing.get_args(hint))
        if hint in _SCALARS:
            return dataclasses.replace(_SCALARS[hint])
        if isinstance(hint, type) and issubclass(hint, Enum):
            return Schema(enum=[member.value for member in hint])
        if isinstance(hint, type) and attrs.has(hint):
            return self.named(hint, None)
        raise TypeError(f"no JSON Schema for {hint!r}")

    def _generic(self, hint: Any, origin: Any, args: tuple[Any, ...]) -> Reference | Schema:
        if origin in _UNIONS:
            present = [arg for arg in args if arg is not type(None)]
            choices = [self.of(arg) for arg in present]
            if len(present) < len(args):
                choices.append(Schema(type=OpenAPIType.NULL))
            return choices[0] if len(choices) == 1 else Schema(one_of=choices)
        if origin is Literal:
            kinds = {_SCALARS[type(value)].type for value in args if type(value) in _SCALARS}
            return Schema(type=kinds.pop() if len(kinds) == 1 else None, enum=list(args))
        if origin in _LISTS:
            if origin is tuple and args and args[-1] is not Ellipsis:
                raise TypeError(f"no JSON Schema for the fixed tuple {hint!r}")
            return Schema(type=OpenAPIType.ARRAY, items=self.of(args[0] if args else Any))
        if origin in _MAPPINGS:
            value = self.of(args[1] if args else Any)
            return Schema(type=OpenAPIType.OBJECT, additional_properties=value)
        raise TypeError(f"no JSON Schema for {hint!r}")


def _tagged(cls: type[Any], tag: str) -> dict[str, Reference | Schema]:
    """The properties a message type has besides its fields: its tag, and its version."""
    held: dict[str, Reference | Schema] = {
        TAG: Schema(type=OpenAPIType.STRING, const=tag, description="The message's type.")
    }
    version = schema_version(cls)
    if version > 1:
        held[VERSION_KEY] = Schema(
            type=OpenAPIType.INTEGER,
            enum=list(range(1, version + 1)),
            description=f"The schema version it is written in ({version} when left out; "
            "earlier ones are brought up to date).",
        )
    return held


def _described(schema: Reference | Schema, text: str, default: object) -> Reference | Schema:
    """A field's schema with what it is, and its default when JSON says it plainly."""
    if isinstance(schema, Reference):
        return dataclasses.replace(schema, description=text or None)
    plain = type(default) in (str, int, bool, float)
    return dataclasses.replace(
        schema,
        description=text or schema.description,
        default=default if plain else schema.default,
    )


def summary(cls: type[Any]) -> str | None:
    """The first paragraph of a class's own docstring, on one line."""
    doc = cls.__dict__.get("__doc__")
    if not isinstance(doc, str) or not doc.strip():
        return None
    return " ".join(inspect.cleandoc(doc).split("\n\n", 1)[0].split())


_ATTRIBUTE = re.compile(r"(\w+)(?: \([^)]*\))?:\s*(.*)")


def field_descriptions(cls: type[Any]) -> dict[str, str]:
    """What the ``Attributes:`` of a class's docstring, and its bases', say of each field."""
    found: dict[str, str] = {}
    for held in reversed(cls.__mro__):
        doc = held.__dict__.get("__doc__")
        if isinstance(doc, str):
            found.update(_attributes(inspect.cleandoc(doc)))
    return found


def _attributes(doc: str) -> dict[str, str]:
    """The ``Attributes:`` section of a Google-style docstring, field by field."""
    found: dict[str, list[str]] = {}
    lines = iter(doc.splitlines())
    for line in lines:
        if line.strip() == "Attributes:":
            break
    current: str | None = None
    indent = 0
    for line in lines:
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        if depth == 0:
            break  # the next section
        indent = indent or depth
        named = _ATTRIBUTE.fullmatch(line.strip()) if depth == indent else None
        if named is not None:
            current = named.group(1)
            found[current] = [named.group(2)]
        elif current is not None:
            found[current].append(line.strip())
    return {name: " ".join(words).replace("``", "`") for name, words in found.items()}
