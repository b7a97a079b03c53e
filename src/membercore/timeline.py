"""Amounts by instant, in order, summed over a window in logarithmic time.

A part that keeps entries by key with an instant — a ledger's lots by when they were
earned, a ladder's visits and spend — is read over a window that ends at the instant of
each decision. Scanning every entry made the cost of one more fact grow with the
member's history. A :class:`Timeline` keeps the entries sorted by instant, so that a
window's sum is two bisections and a slice; it is built once for a state and carried to
the state that follows by the entries the change touched (:meth:`Timeline.replaced`).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from datetime import datetime

__all__ = ["Timeline"]


class Timeline:
    """Amounts by key, each at an instant, sorted by instant then key. Immutable once made."""

    __slots__ = ("_amounts", "_ats", "_keys")

    def __init__(self, entries: Iterable[tuple[datetime, str, int]] = ()) -> None:
        """A timeline of ``(instant, key, amount)`` entries, keys distinct."""
        ordered = sorted(entries, key=lambda entry: entry[:2])
        self._ats = [at for at, _, _ in ordered]
        self._keys = [key for _, key, _ in ordered]
        self._amounts = [amount for _, _, amount in ordered]

    def __eq__(self, other: object) -> bool:
        """Whether ``other`` is a timeline of the same entries."""
        if not isinstance(other, Timeline):
            return NotImplemented
        return (self._ats, self._keys, self._amounts) == (other._ats, other._keys, other._amounts)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        entries = ", ".join(map(repr, zip(self._ats, self._keys, self._amounts, strict=True)))
        return f"Timeline([{entries}])"

    def __len__(self) -> int:
        """How many entries the timeline holds."""
        return len(self._ats)

    def total(self, since: datetime, until: datetime | None = None) -> int:
        """The sum of the amounts at instants in ``[since, until)`` (no end: ``None``)."""
        ats = self._ats
        end = len(ats) if until is None else bisect_left(ats, until)
        return sum(self._amounts[bisect_left(ats, since) : end])

    def latest(self, since: datetime, most: int) -> list[str]:
        """The keys of the last ``most`` entries at or after ``since``, oldest first."""
        start = max(bisect_left(self._ats, since), len(self._ats) - most)
        return self._keys[start:]

    def replaced(
        self, old: Mapping[str, datetime], new: Iterable[tuple[datetime, str, int]]
    ) -> Timeline:
        """This timeline without the entries of ``old`` and with the entries ``new``.

        ``old`` names each entry to take out by its key and instant; a key it names that
        the timeline does not hold is passed over. An entry of ``new`` whose key the
        timeline holds replaces it only if ``old`` names it: keys must stay distinct.
        """
        ats, keys, amounts = self._ats.copy(), self._keys.copy(), self._amounts.copy()
        for key, at in old.items():
            at_or_after = bisect_left(ats, at)
            for where in range(at_or_after, bisect_right(ats, at, lo=at_or_after)):
                if keys[where] == key:
                    del ats[where], keys[where], amounts[where]
                    break
        for at, key, amount in new:
            where = bisect_right(ats, at)
            while where and ats[where - 1] == at and keys[where - 1] > key:
                where -= 1
            ats.insert(where, at)
            keys.insert(where, key)
            amounts.insert(where, amount)
        made = Timeline.__new__(Timeline)
        made._ats, made._keys, made._amounts = ats, keys, amounts
        return made
