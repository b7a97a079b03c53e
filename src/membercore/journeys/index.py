"""A programme's journeys indexed by key and by the message types that start them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import overload

from membercore.config.journeys import JourneyDefinition

__all__ = ["JourneyIndex", "index_of"]


class JourneyIndex(Sequence[JourneyDefinition]):
    """A programme's journeys, in order, by key and by the message types that start them.

    Build it once (the engine does) and pass it wherever journeys are expected: any
    other sequence of definitions is indexed again on each call.
    """

    def __init__(self, definitions: Iterable[JourneyDefinition]) -> None:
        self._definitions = tuple(definitions)
        self.by_key = {definition.key: definition for definition in self._definitions}
        starting: dict[str, list[JourneyDefinition]] = {}
        for definition in self._definitions:
            kinds = {t.type for t in (definition.entry, *definition.also_on) if not t.timed}
            for kind in sorted(k for k in kinds if k is not None):
                starting.setdefault(kind, []).append(definition)
        self.starting = {kind: tuple(found) for kind, found in starting.items()}

    @overload
    def __getitem__(self, index: int) -> JourneyDefinition: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[JourneyDefinition, ...]: ...

    def __getitem__(self, index: int | slice) -> JourneyDefinition | tuple[JourneyDefinition, ...]:
        return self._definitions[index]

    def __len__(self) -> int:
        return len(self._definitions)

    def __repr__(self) -> str:
        return f"JourneyIndex({[definition.key for definition in self._definitions]!r})"


def index_of(journeys: Sequence[JourneyDefinition]) -> JourneyIndex:
    """``journeys`` as an index: itself if it is one, else indexed now."""
    return journeys if isinstance(journeys, JourneyIndex) else JourneyIndex(journeys)
