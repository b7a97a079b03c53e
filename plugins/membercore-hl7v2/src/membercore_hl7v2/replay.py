r"""The HL7 v2 messages a store refused, read again through a corrected mapping.

A message the file source or the listener could not translate (a field missing, an
amount in another currency than the mapping's, text in another encoding) is kept as a
dead letter holding the message's text (its segments ended by ``\n``), with no fact type,
the fact id ``input:<digest of the text>``, and a reason that begins with where the
message came from: ``byte N of L:<digest>: message K (ADT^A01 599102): ...`` (a file) or
``MLLP message K from 10.1.2.3 (ADT^A01 599102): ...`` (the listener).
:func:`refused_messages` picks those out of a store's dead letters by both marks, and
:func:`replay` reads each one again and hands what it becomes to the engine.

What a replay leaves alone:

- a fact an HL7 v2 message became and the engine refused (an identifier of two
  patients, a registration taken before with other content, a value past the size
  limits): its dead letter keeps the fact, not the message, so there is nothing to
  translate again — it is counted (:attr:`Refusals.facts`), the HIS sends the message
  again once it is put right;
- dead letters of other sources (a JSON line, a FHIR resource).

Replaying is idempotent: a fact's id is made of its message's sender, control id, time,
type and patient, so a message taken before is a duplicate the second time. The dead
letters are kept (a refusal is kept with its reason): a message still refused with the
same text is refused again without a second dead letter (the store keeps an input
refused twice once, with its first reason); one whose text differs this time (bytes read
in the right encoding) is a new dead letter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs

from membercore.ports import DeadLetter
from membercore.service.engine import Engine
from membercore_hl7v2.intake import declared_encoding, header_named, receive
from membercore_hl7v2.mapping import Hl7Mapping

__all__ = ["Refusals", "RefusedMessage", "Replayed", "refused_messages", "replay"]

#: Where the file source and the listener say a message came from, how the message's
#: header names it, and why it was refused.
_FROM = re.compile(
    r"(?P<where>byte \d+(?: of \d+:[0-9a-f]+)?: message \d+|MLLP message \d+ from \S+?)"
    r"(?: \((?P<named>.*?)\))?: (?P<why>.*)",
    re.DOTALL,
)
#: Why a message's bytes were not text in the encoding they were read in: they were kept
#: with each byte that was not escaped as ``\xff``.
_UNDECODED = re.compile(r"not (?P<encoding>\S+) text \(byte 0x[0-9a-f]{2} at position \d+\)")
_NO_CODEC = "no character encoding is named"
_ESCAPED = re.compile(rb"\\x([0-9a-f]{2})")
#: A fact kept as membercore writes it (its ``type`` first): one refused as it was read
#: (a value past the size limits) is kept with no fact type, under a digest, as an input
#: that could not be read is.
_FACT = re.compile(r'\{"type":')
#: How the engine marks a refused input it kept cut to its size limit.
_CUT = re.compile(r"… \[\d+ characters, cut at \d+\]\Z")


@attrs.frozen
class RefusedMessage:
    """A message the file source or the listener read, refused, kept as a dead letter.

    Attributes:
        letter: the dead letter.
        where: where it came from (``byte 0 of 1483:<digest>: message 1``).
        named: what its header says (``ADT^A01 599102``; '' when it has none).
        why: why it was refused.
    """

    letter: DeadLetter
    where: str
    named: str
    why: str

    @property
    def title(self) -> str:
        """Where it came from and what its header says, as the refusal named it."""
        return f"{self.where} ({self.named})" if self.named else self.where

    @property
    def cut(self) -> bool:
        """Whether the dead letter keeps it cut short (too large to keep whole)."""
        return bool(_CUT.search(self.letter.payload))

    def data(self, encoding: str | None = None) -> tuple[bytes, str]:
        r"""The message's bytes again, and the encoding to read them in.

        A message that was read as text keeps its text: it is written in the encoding its
        MSH-18 declares (else UTF-8) and read in that. One whose bytes were not text in
        the encoding they were read in was kept with each byte that was not escaped as
        ``\xff``: the bytes are restored, to be read in ``encoding`` (else the one
        they were read in before); a message whose own text holds ``\x`` and two hex
        digits there is read with those four characters as one byte.

        Raises:
            UnicodeEncodeError: the text cannot be written in the encoding it was read in.
            LookupError: this Python knows no encoding of that name.
        """
        text = self.letter.payload.replace("\n", "\r")
        undecoded = _UNDECODED.match(self.why)
        if undecoded or self.why.startswith(_NO_CODEC):
            before = undecoded.group("encoding") if undecoded else "utf-8"
            raw = text.encode(before)
            return _ESCAPED.sub(lambda found: bytes([int(found.group(1), 16)]), raw), (
                encoding or before
            )
        written = declared_encoding(text.encode("utf-8", "replace")) or "utf-8"
        return text.encode(written), written


@attrs.frozen
class Refusals:
    """What a store's dead letters hold of HL7 v2.

    Attributes:
        messages: the messages refused, oldest first.
        facts: how many facts HL7 v2 messages became were refused (kept as facts).
    """

    messages: tuple[RefusedMessage, ...]
    facts: int


def refused_messages(letters: Iterable[DeadLetter]) -> Refusals:
    """The messages the file source or the listener refused among ``letters``.

    A dead letter is one when its reason begins with where the file source or the
    listener says a message came from, and it keeps what was received: it names no fact
    type, its fact id is ``input:`` and a digest, and it holds no fact (a fact refused as
    it was read, past the size limits, is kept so too, written as JSON).
    """
    messages: list[RefusedMessage] = []
    facts = 0
    for letter in letters:
        found = _FROM.match(letter.reason)
        if found is None:
            continue
        if (
            letter.fact_type
            or _FACT.match(letter.payload)
            or not letter.fact_id.startswith("input:")
        ):
            facts += 1
            continue
        messages.append(
            RefusedMessage(letter, found.group("where"), found.group("named") or "", found["why"])
        )
    return Refusals(tuple(messages), facts)


@attrs.frozen
class Replayed:
    """What became of one refused message read again.

    Attributes:
        message: the message.
        applied: its facts and commands taken now.
        duplicates: those taken before (a message replayed again).
        refusals: why it, or some of what it became, is still refused.
    """

    message: RefusedMessage
    applied: int = 0
    duplicates: int = 0
    refusals: tuple[str, ...] = ()

    @property
    def taken(self) -> bool:
        """Whether everything it became was taken (now or before)."""
        return not self.refusals


_CUT_SHORT = (
    "kept cut short, too large to keep whole: it cannot be read again (the HIS sends it again)"
)


def replay(
    engine: Engine, message: RefusedMessage, mapping: Hl7Mapping, *, encoding: str | None = None
) -> Replayed:
    """Read a refused message again through ``mapping`` and hand what it becomes to ``engine``.

    Args:
        engine: the engine on the store that refused it.
        message: the message.
        mapping: the hospital's mapping (corrected since).
        encoding: the encoding to read a message in whose bytes were not text in the
            encoding they were read in before.
    """
    if message.cut:
        return Replayed(message, refusals=(_CUT_SHORT,))
    try:
        data, reading = message.data(encoding)
    except UnicodeEncodeError as error:
        why = f"cannot be written in {error.encoding} again to be read: {error.reason}"
        return Replayed(message, refusals=(why,))
    except LookupError as error:
        return Replayed(message, refusals=(f"cannot be written again to be read: {error}",))
    received = receive(data, mapping, encoding=reading, where=message.where)
    report = engine.ingest(received.inputs)
    title = f"{message.where}{header_named(data)}"
    return Replayed(
        message,
        applied=report.applied,
        duplicates=report.duplicates,
        refusals=tuple(reason.removeprefix(f"{title}: ") for _, reason in report.refusals),
    )
