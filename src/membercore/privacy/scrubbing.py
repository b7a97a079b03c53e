"""A :class:`Scrubber`: JSON and text rewritten without a person's personal data.

A person's ids are everywhere their record reaches: in its key, in lot, journey and
message ids (``P-1/msg/9``), in references and timers. A scrubber replaces each id
wherever it stands as a whole word (``P-1`` in ``P-1/msg/9``, never in ``P-10``) with
the person's pseudonym, so that the record, its journal and what refers to it stay
linked to one another and balanced; it replaces their personal values (name, phone,
e-mail, WeCom id, identifiers) with :data:`ERASED` wherever they stand, a date of birth
with the first of its year, and blanks free text (message bodies, notes, raw HIS
payloads) by its field's name (:data:`FREE_TEXT`). Object keys are rewritten as values are.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, Final

import attrs

__all__ = [
    "ERASED",
    "EXPIRED",
    "FREE_TEXT",
    "PSEUDONYM",
    "VARIABLES",
    "Scrubber",
    "digest",
    "erased_payload",
    "is_erased",
    "is_pseudonym",
    "pseudonym",
    "unquoted",
]

#: What stands where a person's data stood, once they were erased.
ERASED: Final = "已删除"
#: What stands where a detail stood, once past its retention period.
EXPIRED: Final = "已过保留期"
# A quoted value in a reason (``got text '诊断 I10'``): what an input said.
_QUOTED: Final = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")

#: The fields whose text is blanked whoever it is about: message bodies, free text and
#: raw payloads (what a scrubber cannot read for a person's data word by word).
FREE_TEXT: Final = frozenset({"text", "body", "raw", "note", "notes", "comment", "address"})

#: The field of a message's template variables: each value is blanked, the names kept.
VARIABLES: Final = "variables"

# A word: not inside a longer run of letters and digits (``P-1`` is not in ``P-10``).
_EDGE_BEFORE: Final = r"(?<![0-9A-Za-z])"
_EDGE_AFTER: Final = r"(?![0-9A-Za-z])"
# Shorter than this, a personal value is replaced only where it is the whole text.
_SHORTEST_WORD: Final = 2


def digest(value: str) -> str:
    """What an erasure keeps of ``value`` (an id, ``system|value``): a one-way digest."""
    return hashlib.blake2b(value.encode(), digest_size=16, person=b"membercore-erase").hexdigest()


def erased_payload(payload: str, marker: str = ERASED) -> str:
    """What stands for a raw payload let go: ``marker`` and a digest of it.

    Two payloads let go stay apart (a dead letter is kept once per fact id and payload);
    one let go already is known by :func:`is_erased`.
    """
    return f"{marker} {hashlib.blake2b(payload.encode(), digest_size=6).hexdigest()}"


def is_erased(text: str) -> bool:
    """Whether ``text`` is a payload or a body already let go (erased, or expired)."""
    return text.startswith((ERASED, EXPIRED))


def unquoted(reason: str, marker: str = ERASED) -> str:
    """A refusal's reason without the values it quotes of the input refused.

    ``charge_paid.lines = '诊断 I10': expected a list`` becomes ``charge_paid.lines =
    '已删除': expected a list``: what was wrong stays said, not what the input held.
    """
    return _QUOTED.sub(f"'{marker}'", reason)


#: How every pseudonym begins: what tells an erased person's record from any other.
PSEUDONYM: Final = "erased-"


def is_pseudonym(member_id: str) -> bool:
    """Whether ``member_id`` is the pseudonym of an erased person's record."""
    return member_id.startswith(PSEUDONYM)


def pseudonym(record: str) -> str:
    """The pseudonym of an erased person's record, from the whole of ``record``.

    ``record`` is all the record held (its snapshot and every event, as stored): a
    one-way digest of it names no id and is found from no id, and nothing kept after
    the erasure holds what it was made from.
    """
    found = hashlib.blake2b(record.encode(), digest_size=6, person=b"mc-pseudonym")
    return f"{PSEUDONYM}{found.hexdigest()}"


@attrs.frozen
class Scrubber:
    """Rewrites JSON and text without a person's personal data.

    Attributes:
        ids: each id of the person (or persons), with the pseudonym that replaces it.
        values: each personal value, with what replaces it.
        blank: whether free text (:data:`FREE_TEXT`) is blanked: the person's own rows;
            not others' rows that only name them.
        marker: what stands where free text stood (:data:`ERASED`, or :data:`EXPIRED`).
    """

    ids: Mapping[str, str]
    values: Mapping[str, str] = attrs.field(factory=dict)
    blank: bool = True
    marker: str = ERASED
    # Every id and personal value, with what replaces it; then the pattern finding them.
    _exact: dict[str, str] = attrs.field(init=False)
    _pattern: re.Pattern[str] | None = attrs.field(init=False)

    @_exact.default
    def _replacements(self) -> dict[str, str]:
        found = {value: by for value, by in self.values.items() if value}
        found.update((key, by) for key, by in self.ids.items() if key)
        return found

    @_pattern.default
    def _compiled(self) -> re.Pattern[str] | None:
        words = [word for word in self._exact if len(word) >= _SHORTEST_WORD]
        if not words:
            return None
        words.sort(key=len, reverse=True)
        alternatives = "|".join(re.escape(word) for word in words)
        return re.compile(f"{_EDGE_BEFORE}(?:{alternatives}){_EDGE_AFTER}")

    def text(self, text: str) -> str:
        """``text`` with each id and personal value replaced wherever it stands."""
        if text in self._exact:
            return self._exact[text]
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda match: self._exact[match.group(0)], text)

    def mentions(self, text: str) -> bool:
        """Whether ``text`` holds one of the person's ids or personal values."""
        return text in self._exact or (
            self._pattern is not None and self._pattern.search(text) is not None
        )

    def value(self, value: Any) -> Any:
        """A JSON value (objects, arrays, text) rewritten: keys and values alike."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {self.text(key): self._field(key, item) for key, item in value.items()}
        return value

    def _field(self, name: str, item: Any) -> Any:
        if self.blank and name in FREE_TEXT and isinstance(item, str) and item:
            return self.marker
        if self.blank and name == VARIABLES and isinstance(item, dict):
            return {self.text(key): self.marker for key in item}
        return self.value(item)

    def json(self, text: str) -> str:
        """JSON text rewritten (text that is not JSON is rewritten as text)."""
        if not text:
            return text
        try:
            data = json.loads(text)
        except ValueError:
            return self.text(text)
        return json.dumps(self.value(data), ensure_ascii=False, separators=(",", ":"))
