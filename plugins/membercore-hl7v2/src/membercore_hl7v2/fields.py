r"""Reading an HL7 v2 message's fields: by segment, field, repetition, component, subcomponent.

A message is split into segments and fields by the delimiters its header declares, and
read one value at a time, numbered as the standard numbers them (PID-3.4.1 is
``segment.get(3, component=4, sub=1)``): empty text for what is not sent, each value
unescaped (``\T\`` back to ``&``). python-hl7 parses the header, reads the escapes and
parses instants (DTM); an instant sent without a UTC offset is in the hospital's zone.
Splitting the rest by hand reads only the fields the connector uses: parsing every
component of every segment into containers cost more than all the rest of a message's
translation.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import ClassVar
from zoneinfo import ZoneInfo

import hl7

__all__ = [
    "FieldValueError",
    "Message",
    "MissingFieldError",
    "MissingSegmentError",
    "NotHl7Error",
    "Segment",
    "TableValueError",
    "TranslationError",
    "header_fields",
]

#: An HL7 DTM: YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ].
_DTM = re.compile(
    r"\d{4}(?:\d{2}(?:\d{2}(?:\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,4})?)?)?)?)?)?(?:[+-]\d{4})?"
)


class TranslationError(ValueError):
    """A message that cannot become facts: what is wrong and in which field.

    ``condition`` is what its acknowledgement's ERR-3 says (HL7 table 0357): the kinds
    below name the sender's mistake; this one, a message the programme cannot take.
    """

    condition: ClassVar[str] = "207^Application internal error^HL70357"


class MissingSegmentError(TranslationError):
    """A segment the message needs is not in it (an A40 without MRG, a message without PID)."""

    condition: ClassVar[str] = "100^Segment sequence error^HL70357"


class MissingFieldError(TranslationError):
    """A field the message needs is empty (PV1-19, PID-3, MSH-10...)."""

    condition: ClassVar[str] = "101^Required field missing^HL70357"


class FieldValueError(TranslationError):
    """A field holds what its data type does not take (a date that is not one)."""

    condition: ClassVar[str] = "102^Data type error^HL70357"


class TableValueError(TranslationError):
    """A field names a value off its table (a result status, the mapping's currency)."""

    condition: ClassVar[str] = "103^Table value not found^HL70357"


class NotHl7Error(TranslationError):
    """Text that cannot be parsed as an HL7 v2 message at all."""


class Segment:
    """One segment of a message, read field by field (1-based, as the standard numbers)."""

    def __init__(self, message: Message, text: str) -> None:
        self._message = message
        self._fields = text.split(message.delimiters[0])
        self.name = self._fields[0]
        if self.name == "MSH":  # MSH-1 is the field separator itself
            self._fields.insert(1, message.delimiters[0])

    def field(self, number: int) -> str:
        """Field ``number`` as sent, delimiters and escapes included ('' when absent)."""
        return self._fields[number] if number < len(self._fields) else ""

    def repetitions(self, number: int) -> list[Repetition]:
        """Each repetition of field ``number`` (none when the field is empty)."""
        text = self.field(number)
        if not text:
            return []
        _, repeat, _, _ = self._message.delimiters
        return [Repetition(self._message, part) for part in text.split(repeat)]

    def get(self, number: int, component: int = 1, sub: int = 1, *, repetition: int = 1) -> str:
        """One value of field ``number`` (its first repetition unless said), unescaped."""
        repetitions = self.repetitions(number)
        if len(repetitions) < repetition:
            return ""
        return repetitions[repetition - 1].get(component, sub)

    def instant(self, number: int, component: int = 1) -> datetime | None:
        """An instant (HL7 DTM) in field ``number``; None when empty.

        One sent without a UTC offset is in the hospital's zone.

        Raises:
            TranslationError: the text is not an HL7 instant.
        """
        return self._message.instant(self.get(number, component), f"{self.name}-{number}")

    def day(self, number: int) -> date | None:
        """A date (the first eight digits of a DT or DTM); None when empty.

        Raises:
            TranslationError: the text is not a date.
        """
        text = self.get(number)
        if not text:
            return None
        try:
            return datetime.strptime(text[:8], "%Y%m%d").date()  # noqa: DTZ007 - a date only
        except ValueError:
            raise FieldValueError(f"{self.name}-{number} {text!r} is not a date") from None


class Repetition:
    """One repetition of a field: its components and subcomponents."""

    def __init__(self, message: Message, text: str) -> None:
        self._message = message
        self.text = text

    def get(self, component: int = 1, sub: int = 1) -> str:
        """Component ``component``, subcomponent ``sub``, unescaped ('' when absent)."""
        _, _, comp, subcomp = self._message.delimiters
        components = self.text.split(comp)
        if len(components) < component:
            return ""
        subs = components[component - 1].split(subcomp)
        if len(subs) < sub:
            return ""
        return self._message.unescape(subs[sub - 1]).strip()


_RAW_HEADER = re.compile(r"^MSH([^A-Za-z0-9\r\n])[^\r\n]*")


def header_fields(text: str) -> list[str]:
    """The fields of the MSH segment ``text`` starts with, split without parsing it.

    For text that may not parse (what a refusal or a log names): index ``n`` is
    MSH-``n + 1`` from 1 on (1: MSH-2, the encoding characters), cut by the field
    separator the segment itself uses; ``[]`` when it starts with no MSH segment.
    """
    found = _RAW_HEADER.match(text.lstrip("\ufeff\x0b"))
    return found.group(0).split(found.group(1)) if found else []


class Message:
    r"""An HL7 v2 message parsed by python-hl7, with the hospital's zone for its instants.

    Args:
        text: the message, segments separated by ``\r`` (``\n`` and ``\r\n`` are
            taken too).
        zone: where instants sent without a UTC offset are.

    Raises:
        TranslationError: the text is not an HL7 v2 message (no MSH segment first), or
            is more than one (an MSH segment after the first).
    """

    def __init__(self, text: str, zone: ZoneInfo) -> None:
        text = text.replace("\r\n", "\r").replace("\n", "\r").strip("\r \t\x0b\x1c")
        if not text.startswith("MSH") or len(text) < 8:
            raise NotHl7Error("not an HL7 v2 message: it does not start with an MSH segment")
        lines = text.split("\r")
        headers = [n for n, line in enumerate(lines, 1) if line.startswith(f"MSH{text[3]}")]
        if len(headers) > 1:
            at = ", ".join(str(n) for n in headers)
            raise NotHl7Error(
                f"the block holds {len(headers)} messages (an MSH segment at segments {at}): "
                "send one message a block"
            )
        try:
            self._header = hl7.parse(lines[0])
        except (hl7.ParseException, ValueError, IndexError) as error:
            raise NotHl7Error(f"cannot be parsed as HL7 v2: {error}") from None
        self.text = text
        self.zone = zone
        encoding = text[4:8]
        #: field, repetition, component and subcomponent separators.
        self.delimiters = (text[3], encoding[1], encoding[0], encoding[3])
        self._segments = [Segment(self, line) for line in lines if line.strip()]

    def segments(self, name: str) -> list[Segment]:
        """Every segment named ``name``, in order."""
        return [segment for segment in self._segments if segment.name == name]

    def first(self, name: str) -> Segment | None:
        """The first segment named ``name``, if any."""
        return next((segment for segment in self._segments if segment.name == name), None)

    def all(self) -> list[Segment]:
        """Every segment, in order."""
        return list(self._segments)

    @property
    def msh(self) -> Segment:
        """The header."""
        return self._segments[0]

    def unescape(self, text: str) -> str:
        r"""``text`` with the standard's escapes replaced (``\F\`` by the field separator...).

        python-hl7 reads the escapes with the delimiters the header declares.
        """
        if "\\" not in text:
            return text
        return str(self._header.unescape(text))

    def instant(self, text: str, where: str) -> datetime | None:
        """An HL7 DTM as an aware instant (the hospital's zone when it carries no offset).

        Raises:
            TranslationError: naming ``where``, when the text is not an instant.
        """
        if not text:
            return None
        if not _DTM.fullmatch(text):
            raise FieldValueError(f"{where} {text!r} is not an HL7 instant (YYYYMMDDHHMMSS+ZZZZ)")
        try:
            parsed: datetime = hl7.parse_datetime(text)
        except (ValueError, IndexError):
            raise FieldValueError(f"{where} {text!r} is not an HL7 instant") from None
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=self.zone)
        return parsed
