"""How the SQL stores pack a record's snapshot and a commit's events: compressed with a dictionary.

A member's events are JSON with the same field names, kinds and explanations again and
again; one commit's events for one record (a fact's five or so) share most of their
text with each other and with every other member's. Each is stored as one *packed*
value: a format byte, then the text compressed with a dictionary of typical text, so
that even a short value compresses well, then the CRC-32 of the text, so that damage is
found rather than read as other text. A commit's events for a record take about a tenth
of the room they took as separate rows of JSON, and a snapshot about a seventh.

The stores write Zstandard (``zstandard``, zstd's own bindings) with a 64 KB dictionary
trained on the demo hospital: formats :data:`JOURNAL` and :data:`RECORD`. Earlier
releases wrote raw deflate (``zlib``) with a 32 KB dictionary: formats
:data:`DEFLATE_JOURNAL` and :data:`DEFLATE_RECORD`, which still read. Zstandard packs a
commit's events in an eighth of deflate's time and a snapshot in a sixth, in less room.

The format byte names the dictionary, and a dictionary never changes once released
(its digest is pinned by a test): a new one comes with a new format byte, and every
value written with an older one still reads. ``tools/build_dictionaries.py`` trains the
dictionaries from the demo hospital.

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
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Final

import zstandard

from membercore.converters import JSON

__all__ = [
    "DEFLATE_JOURNAL",
    "DEFLATE_RECORD",
    "JOURNAL",
    "JOURNALS",
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

#: The format byte of a commit's events packed with deflate (earlier releases; read only).
DEFLATE_JOURNAL: Final = 1
#: The format byte of a record's snapshot packed with deflate (earlier releases; read only).
DEFLATE_RECORD: Final = 2
#: The format byte of a commit's events packed with Zstandard: what the stores write.
JOURNAL: Final = 3
#: The format byte of a record's snapshot packed with Zstandard: what the stores write.
RECORD: Final = 4
#: The formats of a commit's packed events.
JOURNALS: Final = frozenset({DEFLATE_JOURNAL, JOURNAL})

#: One stored event as framed: its type, when it was decided, its payload.
Event = tuple[str, datetime, str]

_FILES: Final = {
    DEFLATE_JOURNAL: "journal-1.dict",
    DEFLATE_RECORD: "record-1.dict",
    JOURNAL: "journal-2.dict",
    RECORD: "record-2.dict",
}
_DEFLATE: Final = frozenset({DEFLATE_JOURNAL, DEFLATE_RECORD})
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
# Raw deflate (no zlib header or checksum: the format byte names the dictionary), the
# largest window, and level 6: a tenth smaller than level 1 for a third more time.
_WINDOW: Final = -15
_LEVEL: Final = 6
_MEMORY: Final = 8
# Zstandard at level 3, its default: level 6 packs a seventh smaller in four times the
# time. The frame has no magic number, names neither its dictionary (the format byte
# says all three) nor its size (a damaged size would ask for that much memory), and has
# no checksum of its own.
_MAGICLESS: Final = zstandard.FORMAT_ZSTD1_MAGICLESS
_FRAME: Final = zstandard.ZstdCompressionParameters.from_level(
    3, format=_MAGICLESS, write_checksum=0, write_content_size=0, write_dict_id=0
)
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
    form: zlib.compressobj(_LEVEL, zlib.DEFLATED, _WINDOW, _MEMORY, zdict=_DICTIONARIES[form])
    for form in _DEFLATE
}
# A Zstandard dictionary is digested once; a compressor or decompressor of it is cheap,
# but neither may be shared between threads: each thread keeps its own.
_ZSTD: Final = {
    form: zstandard.ZstdCompressionDict(_DICTIONARIES[form], dict_type=zstandard.DICT_TYPE_FULLDICT)
    for form in _FILES
    if form not in _DEFLATE
}
_LOCAL = threading.local()


def _zstd_compressor(form: int) -> zstandard.ZstdCompressor:
    held: dict[int, zstandard.ZstdCompressor] = _LOCAL.__dict__.setdefault("compressors", {})
    if form not in held:
        held[form] = zstandard.ZstdCompressor(dict_data=_ZSTD[form], compression_params=_FRAME)
    return held[form]


def _zstd_decompressor(form: int) -> zstandard.ZstdDecompressor:
    held: dict[int, zstandard.ZstdDecompressor] = _LOCAL.__dict__.setdefault("decompressors", {})
    if form not in held:
        held[form] = zstandard.ZstdDecompressor(dict_data=_ZSTD[form], format=_MAGICLESS)
    return held[form]


def pack(form: int, text: str) -> bytes:
    """``text`` packed in ``form`` (:data:`JOURNAL` or :data:`RECORD`; or a deflate format)."""
    raw = text.encode("utf-8", "surrogatepass")
    if form in _DEFLATE:
        compressor = _PRIMED[form].copy()
        packed = compressor.compress(raw) + compressor.flush()
    else:
        packed = _zstd_compressor(form).compress(raw)
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
    raw, check = _READERS[packed[0] in _DEFLATE](packed)
    if len(check) != _CHECK.size:
        raise PackingError("damaged packed value: it does not end where its data ends")
    if _CHECK.unpack(check) != (zlib.crc32(raw),):
        raise PackingError("damaged packed value: its check does not match its text")
    try:
        return raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as e:
        raise PackingError(f"damaged packed value: {e}") from e


def _inflated(packed: bytes) -> tuple[bytes, bytes]:
    """The text of a deflate value, and the bytes after its data (its check)."""
    decompressor = zlib.decompressobj(_WINDOW, zdict=_DICTIONARIES[packed[0]])
    try:
        raw = decompressor.decompress(packed[1:]) + decompressor.flush()
    except zlib.error as e:
        raise PackingError(f"damaged packed value: {e}") from e
    if not decompressor.eof:
        raise PackingError("damaged packed value: it does not end where its data ends")
    return raw, decompressor.unused_data


def _unzstd(packed: bytes) -> tuple[bytes, bytes]:
    """The text of a Zstandard value, and the bytes after its frame (its check)."""
    decompressor = _zstd_decompressor(packed[0]).decompressobj()
    try:
        raw = decompressor.decompress(packed[1:])
    except zstandard.ZstdError as e:
        raise PackingError(f"damaged packed value: {e}") from e
    if not decompressor.eof:
        raise PackingError("damaged packed value: it does not end where its data ends")
    return raw, decompressor.unused_data


#: How a value is read, by whether it is deflate.
_READERS: Final[dict[bool, Callable[[bytes], tuple[bytes, bytes]]]] = {
    True: _inflated,
    False: _unzstd,
}


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
    head = JSON.encode(header)
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
    if not packed or packed[0] not in JOURNALS:
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
