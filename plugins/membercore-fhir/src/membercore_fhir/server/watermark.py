"""Where a read of a FHIR server stands, per resource type: the position committed with facts.

For each type polled the position keeps a *mark*, the instant the next search starts
from (``_lastUpdated=ge<mark>``), and the resources taken since it, by their
``meta.lastUpdated`` and id. A search returns what changed at or after the mark, sorted
by ``_lastUpdated``; a resource already taken at that same instant is passed over, so

- resources sharing an instant across a page boundary (or a restart) are taken once:
  the mark stays on the instant, and those of it taken are remembered;
- a new version of a resource taken has a later ``lastUpdated``: it is taken;
- a resource the server makes visible late (its transaction committed after a later
  one), stamped earlier than resources already taken, is found when the search goes
  back to it: the mark stays ``overlap`` behind the server's clock (as the search's
  first page gives it), and everything taken in between is remembered. Once the server's
  clock is ``overlap`` past an instant, nothing new is expected before it: the mark
  moves up to the last resource taken and what is before it is forgotten.

What is remembered is bounded (:data:`MAX_SEEN` resources per type; the oldest are
forgotten first, and would only be read again as duplicates). The position is one text,
``<where> | <state>``: where the read stood (the last resource taken), then the state as
JSON, ``{"Patient": ["<mark>", {"<lastUpdated>": ["<id>", ...]}], ...}``, instants in
UTC. A refusal names the position: its beginning says which resource.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from membercore.errors import ConfigError

__all__ = ["MAX_SEEN", "Watermark", "canonical", "horizon", "parse_instant"]

#: The most resources remembered per type.
MAX_SEEN = 1000
_SEPARATOR = " | "


def parse_instant(value: str) -> datetime | None:
    """A FHIR ``instant`` (``2026-03-02T10:00:00.123+08:00``), or None when it is not one."""
    try:
        read = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return read if read.tzinfo is not None else None


def canonical(at: datetime) -> str:
    """An instant in UTC as a FHIR instant: ``2026-03-02T02:00:00.123Z``."""
    text = at.astimezone(UTC).isoformat(timespec="microseconds").removesuffix("+00:00")
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0")
    return f"{whole}.{fraction}Z" if fraction else f"{whole}Z"


class _Kind:
    """One type's mark and the resources taken since it (instants ascending)."""

    def __init__(self, mark: datetime | None, seen: dict[datetime, set[str]]) -> None:
        self.mark = mark
        self.seen = seen
        self.count = sum(len(ids) for ids in seen.values())
        self._text: str | None = None

    def taken(self, ident: str, at: datetime) -> bool:
        if self.mark is not None and at < self.mark:
            return True  # before the mark: everything there was taken
        return ident in self.seen.get(at, ())

    def take(self, ident: str, at: datetime, horizon: datetime) -> None:
        ids = self.seen.setdefault(at, set())
        if ident not in ids:
            ids.add(ident)
            self.count += 1
        mark = min(at, horizon)
        if self.mark is None or mark > self.mark:
            self.mark = mark
            for instant in [i for i in self.seen if i < mark]:
                self.count -= len(self.seen.pop(instant))
        for instant in sorted(self.seen):
            if self.count <= MAX_SEEN or instant >= at:
                break
            self.count -= len(self.seen.pop(instant))  # read again, a duplicate, if at all
        self._text = None

    def text(self) -> str:
        if self._text is None:
            seen = {canonical(i): sorted(ids) for i, ids in sorted(self.seen.items())}
            mark = canonical(self.mark) if self.mark is not None else ""
            self._text = json.dumps([mark, seen], separators=(",", ":"))
        return self._text


class Watermark:
    """Where a read stands for every type; see the module's docstring.

    It changes as the read takes resources (:meth:`take`); :meth:`text` is the position.
    """

    def __init__(self, kinds: dict[str, _Kind] | None = None) -> None:
        self._kinds = kinds or {}

    @classmethod
    def parse(cls, position: str | None) -> Watermark:
        """The state a committed position holds (None: nothing read yet).

        Raises:
            ConfigError: the text is not a position of a FHIR server source.
        """
        if not position:
            return cls()
        _, found, state = position.partition(_SEPARATOR)
        try:
            data = json.loads(state) if found else None
            if not isinstance(data, dict):
                raise TypeError(state)
            kinds = {str(kind): _kind(value) for kind, value in data.items()}
        except (ValueError, TypeError, AttributeError):
            shown = position if len(position) < 80 else f"{position[:80]}…"
            raise ConfigError("after", f"{shown!r} is not a FHIR server position") from None
        return cls(kinds)

    def since(self, kind: str) -> str | None:
        """Where the type's next search starts (``_lastUpdated=ge`` it), None for the start."""
        found = self._kinds.get(kind)
        return canonical(found.mark) if found is not None and found.mark is not None else None

    def taken(self, kind: str, ident: str, at: datetime) -> bool:
        """Whether this version of the resource (its id and lastUpdated) was taken."""
        found = self._kinds.get(kind)
        return found is not None and found.taken(ident, at)

    def take(self, kind: str, ident: str, at: datetime, horizon: datetime) -> None:
        """Note a resource taken; the mark moves up to ``at``, never past ``horizon``.

        Args:
            kind: its type.
            ident: its id.
            at: its ``meta.lastUpdated``.
            horizon: the server's clock less the overlap: resources stamped before it
                are all visible.
        """
        self._kinds.setdefault(kind, _Kind(None, {})).take(ident, at, horizon)

    def text(self, where: str) -> str:
        """The position: ``where`` the read stands, then the state of every type."""
        state = ",".join(f"{json.dumps(k)}:{v.text()}" for k, v in self._kinds.items())
        return f"{where}{_SEPARATOR}{{{state}}}"


def horizon(served_at: datetime | None, last: datetime, overlap: timedelta) -> datetime:
    """The instant before which the server has shown everything: its clock less the overlap.

    A server that does not say its clock is taken to stand at the last instant read.
    """
    return (served_at or last) - overlap


def _kind(value: object) -> _Kind:
    if not isinstance(value, list) or len(value) != 2:
        raise TypeError(value)
    mark_text, seen = value
    if not isinstance(mark_text, str) or not isinstance(seen, dict):
        raise TypeError(value)
    mark = parse_instant(mark_text) if mark_text else None
    if mark_text and mark is None:
        raise ValueError(mark_text)
    held: dict[datetime, set[str]] = {}
    for instant, ids in seen.items():
        at = parse_instant(instant)
        if at is None or not isinstance(ids, list):
            raise ValueError(instant)
        held[at] = {str(i) for i in ids}
    return _Kind(mark, held)
