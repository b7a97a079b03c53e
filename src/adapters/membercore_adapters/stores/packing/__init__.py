"""How the SQL stores pack a record's snapshot and a commit's events: deflate with a dictionary.

A member's events are JSON with the same field names, kinds and explanations again and
again; one commit's events for one record (a fact's five or so) share most of their
text with each other and with every other member's. Each is stored as one *packed*
value: a format byte, then the text compressed with raw deflate (``zlib``, in the
standard library) primed with a dictionary of typical text, so that even a short value
compresses well. A commit's events for a record take about a tenth of the room they took
as separate rows of JSON, and a snapshot about a seventh. The value ends with the CRC-32
of its text, so that damage is found rather than read as other text.

The format byte names the dictionary, and a dictionary never changes once released
(its digest is pinned by a test): a new one comes with a new format byte, and every
value written with an older one still reads. The dictionaries are built from the demo
hospital by ``tools/build_dictionaries.py``.

A commit's events are framed before they are packed: a JSON header of
``[type, at in microseconds since 1970 UTC, length of payload]`` per event, a newline,
then the payloads one after another (lengths in code points, so that any text frames).
"""

from __future__ import annotations

import json
import struct
import sys
import threading
import zlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Final

__all__ = [
    "JOURNAL",
    "RECORD",
    "Event",
    "PackingError",
    "Unpacked",
    "frame",
    "pack",
    "pack_events",
    "unpack",
    "unpack_events",
]

#: The format byte of a commit's events packed with the journal dictionary.
JOURNAL: Final = 1
#: The format byte of a record's snapshot packed with the record dictionary.
RECORD: Final = 2

#: One stored event as framed: its type, when it was decided, its payload.
Event = tuple[str, datetime, str]

_FILES: Final = {JOURNAL: "journal-1.dict", RECORD: "record-1.dict"}
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
# Raw deflate (no zlib header or checksum: the format byte names the dictionary), the
# largest window, and level 6: a tenth smaller than level 1 for a third more time.
_WINDOW: Final = -15
_LEVEL: Final = 6
_MEMORY: Final = 8
_CHECK: Final = struct.Struct(">I")


class PackingError(ValueError):
    """A packed value that cannot be read: an unknown format, or damaged data."""


def _dictionary(form: int) -> bytes:
    return files(__package__).joinpath(_FILES[form]).read_bytes()


_DICTIONARIES: Final = {form: _dictionary(form) for form in _FILES}
# Priming a compressor with a 32 KB dictionary costs more than compressing a commit's
# events; a primed one is copied instead (a copy is independent, and copying is safe
# from several threads).
_PRIMED: Final = {
    form: zlib.compressobj(_LEVEL, zlib.DEFLATED, _WINDOW, _MEMORY, zdict=dictionary)
    for form, dictionary in _DICTIONARIES.items()
}


def pack(form: int, text: str) -> bytes:
    """``text`` packed with the dictionary of ``form`` (:data:`JOURNAL` or :data:`RECORD`)."""
    raw = text.encode("utf-8", "surrogatepass")
    compressor = _PRIMED[form].copy()
    packed = compressor.compress(raw) + compressor.flush()
    return bytes((form,)) + packed + _CHECK.pack(zlib.crc32(raw))


def unpack(packed: bytes) -> str:
    """The text of a packed value.

    Raises:
        PackingError: the value is empty, names no known dictionary, or is damaged.
    """
    packed = _bytes(packed)
    if not packed or packed[0] not in _DICTIONARIES:
        form = repr(packed[0]) if packed else "nothing"
        raise PackingError(f"unknown packing format {form}")
    decompressor = zlib.decompressobj(_WINDOW, zdict=_DICTIONARIES[packed[0]])
    try:
        raw = decompressor.decompress(packed[1:]) + decompressor.flush()
    except zlib.error as e:
        raise PackingError(f"damaged packed value: {e}") from e
    if not decompressor.eof or len(decompressor.unused_data) != _CHECK.size:
        raise PackingError("damaged packed value: it does not end where its data ends")
    if _CHECK.unpack(decompressor.unused_data) != (zlib.crc32(raw),):
        raise PackingError("damaged packed value: its check does not match its text")
    try:
        return raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as e:
        raise PackingError(f"damaged packed value: {e}") from e


def _bytes(packed: object) -> bytes:
    """A column's packed value as bytes (PostgreSQL may hand bytea over as memoryview)."""
    if not isinstance(packed, bytes | bytearray | memoryview):
        raise PackingError(f"not a packed value: {type(packed).__name__} where bytes belong")
    return bytes(packed)


def frame(events: Iterable[Event]) -> str:
    """One commit's events for one record as the text :func:`pack_events` packs."""
    header: list[tuple[str, int, int]] = []
    payloads: list[str] = []
    for type_, at, payload in events:
        header.append((type_, (at - _EPOCH) // _MICROSECOND, len(payload)))
        payloads.append(payload)
    head = json.dumps(header, ensure_ascii=False, separators=(",", ":"))
    return head + "\n" + "".join(payloads)


def pack_events(events: Iterable[Event]) -> bytes:
    """One commit's events for one record, framed and packed with the journal dictionary."""
    return pack(JOURNAL, frame(events))


def unpack_events(packed: bytes) -> list[Event]:
    """The events :func:`pack_events` packed, in their order.

    Raises:
        PackingError: the value is not a packed commit's events, or is damaged.
    """
    packed = _bytes(packed)
    if not packed or packed[0] != JOURNAL:
        raise PackingError("not a commit's packed events")
    text = unpack(packed)
    head, newline, body = text.partition("\n")
    try:
        header: Sequence[tuple[str, int, int]] = json.loads(head)
        events: list[Event] = []
        start = 0
        for type_, micros, length in header:
            if not isinstance(type_, str) or type(micros) is not int or type(length) is not int:
                raise TypeError(f"not a type, an instant and a length: {type_!r}")
            at = _EPOCH + timedelta(microseconds=micros)
            events.append((type_, at, body[start : start + length]))
            start += length
    except (ValueError, TypeError, OverflowError, RecursionError) as e:
        raise PackingError(f"damaged frame of packed events: {e}") from e
    if not newline or start != len(body):
        raise PackingError("damaged frame of packed events: the lengths do not add up")
    return events


class Unpacked:
    """The texts of the snapshots a store unpacked last, by record key.

    A record read again unchanged (its packed snapshot the same bytes) is not unpacked
    again: an engine reads a busy member's record for every fact, and unpacking a large
    snapshot costs more than comparing its bytes. Holds up to ``budget`` bytes of
    memory (the packed bytes and the text objects), letting go of the records read
    longest ago. One store may be used from several threads: one at a time reads here.
    """

    def __init__(self, budget: int = 32 * 1024 * 1024) -> None:
        self._budget = budget
        self._held: dict[str, tuple[bytes, str]] = {}
        self._size = 0
        self._lock = threading.Lock()

    def text(self, key: str, packed: bytes) -> str:
        """The text of ``packed``, the snapshot of ``key``.

        Raises:
            PackingError: as :func:`unpack`.
        """
        packed = _bytes(packed)
        with self._lock:
            held = self._held.pop(key, None)
            if held is not None:
                self._size -= _footprint(held)
                if held[0] == packed:
                    self._keep(key, held)
                    return held[1]
        text = unpack(packed)  # outside the lock: other records are read meanwhile
        with self._lock:
            previous = self._held.pop(key, None)  # another thread read it meanwhile
            if previous is not None:
                self._size -= _footprint(previous)
            self._keep(key, (packed, text))
        return text

    def _keep(self, key: str, held: tuple[bytes, str]) -> None:
        size = _footprint(held)
        if size > self._budget:
            return
        while self._held and self._size + size > self._budget:
            oldest = next(iter(self._held))
            self._size -= _footprint(self._held.pop(oldest))
        self._held[key] = held
        self._size += size


def _footprint(held: tuple[bytes, str]) -> int:
    """The memory a held snapshot takes: its packed bytes and its text, as Python holds them."""
    return sys.getsizeof(held[0]) + sys.getsizeof(held[1])
