r"""Files of HL7 v2 messages: one message or many, batched (FHS/BHS) or not.

A file is read as bytes, streamed: segments end with ``\r``, ``\n`` or ``\r\n`` (MLLP's
block characters, left in a capture, end them too), a UTF-8 byte-order mark at the start
of the file or of a message (files exported one by one and joined) is skipped, and every
message starts with its MSH. The batch envelope's segments (FHS, BHS, BTS, FTS) are not
messages and are passed over; any other text outside a message is passed on as it is (to
be refused, and kept, as not HL7 v2). Each message comes with the byte offsets where it
starts and ends, so that a reader can resume after the last message committed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import attrs

__all__ = ["SETTLED", "RawMessage", "messages_in"]

_BOM = b"\xef\xbb\xbf"
_END = re.compile(rb"[\r\n\x0b\x1c]+")
_ENVELOPE = (b"FHS", b"BHS", b"BTS", b"FTS")
_BLOCK = 1 << 20
#: How long a growing file must stay unchanged for its last message to count as whole.
SETTLED = 2.0


@attrs.frozen
class RawMessage:
    r"""One message as the file holds it.

    Attributes:
        number: its place in the file (1 for the first).
        start: the offset of its first byte.
        end: the offset just past its last segment's end.
        data: its segments, each ended by ``\r``.
    """

    number: int
    start: int
    end: int
    data: bytes


def messages_in(path: Path, *, after: int = 0, growing: bool = False) -> Iterator[RawMessage]:
    """The messages of ``path`` from byte ``after`` on (a message's start), streamed.

    With ``growing`` (a file the HIS is still appending to), the last message may still
    be being written: it waits for the next read, unless the file has not changed for
    :data:`SETTLED` seconds (the HIS wrote it whole and stopped).

    Raises:
        OSError: the file cannot be read.
    """
    number = 0
    segments: list[bytes] = []
    start = end = after
    for offset, segment_end, segment in _segments(path, after, growing=growing):
        if segment.startswith(b"MSH") or segment[:3] in _ENVELOPE:
            if segments:
                number += 1
                yield RawMessage(number, start, end, b"\r".join(segments) + b"\r")
                segments = []
            if segment[:3] in _ENVELOPE:
                continue
        if not segments:
            start = offset
        # Text outside any message (before the first MSH) is passed on as it is, to be
        # refused as not HL7 v2 with the rest kept: never dropped.
        segments.append(segment)
        end = segment_end
    if segments and not (growing and _still_written(path)):
        yield RawMessage(number + 1, start, end, b"\r".join(segments) + b"\r")


def _still_written(path: Path) -> bool:
    """Whether the file changed within the last :data:`SETTLED` seconds."""
    return time.time() - path.stat().st_mtime < SETTLED


def _segments(path: Path, after: int, *, growing: bool) -> Iterator[tuple[int, int, bytes]]:
    """Each non-empty segment with the offsets of its start and of its end's end."""
    with path.open("rb") as file:
        file.seek(after)
        offset, pending = after, b""
        if after == 0:
            head = file.read(len(_BOM))
            if head == _BOM:
                offset = len(_BOM)
            else:
                pending = head
        while block := file.read(_BLOCK):
            pending += block
            position = 0
            for found in _END.finditer(pending):
                if found.end() == len(pending):
                    break  # the separator may go on in the next block
                text = pending[position : found.start()].removeprefix(_BOM)
                if text.strip():
                    yield offset + position, offset + found.end(), text.strip(b" \t")
                position = found.end()
            offset += position
            pending = pending[position:]
        ended = pending.endswith((b"\r", b"\n", b"\x1c"))
        if pending.strip(b"\r\n\x0b\x1c \t") and (ended or not growing):
            text = _END.sub(b"", pending).removeprefix(_BOM)
            yield offset, offset + len(pending), text.strip(b" \t")
