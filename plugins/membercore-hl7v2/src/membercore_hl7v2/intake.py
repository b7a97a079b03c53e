"""A message received, as the inputs the engine takes, and what its outcome acknowledges.

Whatever is received becomes inputs: the facts and commands it tells of, or — when it
cannot be decoded, parsed or translated — the raw text as
:class:`~membercore.ports.Unreadable` with the reason, which the engine keeps as a dead
letter. Each input is :class:`~membercore.ports.Positioned`: a refusal names the
message, and a file's reader resumes at the position of the last input committed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs

from membercore.ports import Positioned, Unreadable
from membercore_hl7v2.fields import NotHl7Error, TranslationError, header_fields
from membercore_hl7v2.mapping import Hl7Mapping
from membercore_hl7v2.translate import Translated, translate

__all__ = ["CHARSETS", "Received", "declared_encoding", "header_named", "receive"]


@attrs.frozen
class Received:
    """One message received.

    Attributes:
        text: the message as text (escaped where it was not valid in its encoding).
        inputs: what the engine is given for it, each positioned.
        translated: what it tells of, when it could be translated.
        parsed: whether it could be parsed as HL7 v2 at all.
        condition: when it could be parsed but not translated, the kind of mistake
            (ERR-3, HL7 table 0357: a required field missing, a data type error...).
    """

    text: str
    inputs: tuple[Positioned, ...]
    translated: Translated | None
    parsed: bool
    condition: str | None = None

    def outcome(self, reasons: Sequence[str]) -> tuple[str, str]:
        """The acknowledgement code and text, given why its refused inputs were refused."""
        if not self.parsed:
            return "AR", "; ".join(reasons) or "not an HL7 v2 message"
        if reasons:
            return "AE", "; ".join(dict.fromkeys(reasons))
        if self.translated is not None and not self.translated.inputs:
            return "AA", f"nothing for the programme in {self.translated.kind}"
        return "AA", ""


def receive(
    data: bytes, mapping: Hl7Mapping, *, encoding: str = "utf-8", where: str, resume: str = ""
) -> Received:
    """Translate ``data``; every input positioned at ``where`` (the last at ``resume``).

    Args:
        data: the message as received.
        mapping: the hospital's mapping.
        encoding: its character encoding (``utf-8``, ``gb18030``...) when its header
            (MSH-18) declares none of :data:`CHARSETS`.
        where: its position, for every input but the last (a reader resuming there
            reads the message again).
        resume: the position after it, for its last input (``where`` when not given).
    """
    data = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark, whatever follows
    encoding = declared_encoding(data) or encoding
    named = header_named(data)
    where, resume = f"{where}{named}", f"{resume or where}{named}"
    try:
        text = data.decode(encoding).lstrip("\ufeff")
    except UnicodeDecodeError as error:
        text = data.decode(encoding, "backslashreplace")
        why = (
            f"not {encoding} text (byte 0x{data[error.start]:02x} at position {error.start}); "
            "MSH-18 or the listener's encoding (--encoding gb18030) names another"
        )
        return Received(text, (_unreadable(text, why, resume),), None, parsed=False)
    except LookupError:
        text = data.decode("utf-8", "backslashreplace")
        why = f"no character encoding is named {encoding!r}"
        return Received(text, (_unreadable(text, why, resume),), None, parsed=False)
    try:
        translated = translate(text, mapping)
    except NotHl7Error as error:
        return Received(text, (_unreadable(text, str(error), resume),), None, parsed=False)
    except TranslationError as error:
        unreadable = (_unreadable(text, str(error), resume),)
        return Received(text, unreadable, None, parsed=True, condition=error.condition)
    inputs = translated.inputs
    positioned = tuple(
        Positioned(raw=item, position=resume if n == len(inputs) - 1 else where)
        for n, item in enumerate(inputs)
    )
    return Received(text, positioned, translated, parsed=True)


_FIRST_LINE = re.compile(rb"^[^\r\n]*")


def _header(data: bytes) -> list[str]:
    """:func:`~membercore_hl7v2.fields.header_fields` of a message not yet decoded."""
    found = _FIRST_LINE.match(data)
    return header_fields(found.group(0).decode("ascii", "replace")) if found else []


#: MSH-18 (HL7 table 0211, and what Chinese HIS write) to Python's codecs.
CHARSETS = {
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "UTF8": "utf-8",
    "GB 18030-2000": "gb18030",
    "GB18030": "gb18030",
    "GB 18030": "gb18030",
    "GBK": "gb18030",
    "GB2312": "gb18030",
    "8859/1": "latin-1",
    "ASCII": "ascii",
}


def declared_encoding(data: bytes) -> str | None:
    """The encoding MSH-18 declares, when it names one of :data:`CHARSETS`."""
    fields = _header(data)
    declared = fields[17].split("~")[0].strip().upper() if len(fields) > 17 else ""
    return CHARSETS.get(declared)


def header_named(data: bytes) -> str:
    """`` (ADT^A01 599102)``: the message's type and control id, as far as its header says."""
    fields = _header(data)
    kind = fields[8].split("^")[:2] if len(fields) > 8 else []
    control = fields[9] if len(fields) > 9 else ""
    said = " ".join(part for part in ("^".join(kind), control) if part)
    return f" ({said})" if said else ""


def _unreadable(text: str, reason: str, where: str) -> Positioned:
    return Positioned(raw=Unreadable(raw=text.replace("\r", "\n"), reason=reason), position=where)
