"""Acknowledgements (original mode): AA once the facts are committed, AE, AR.

==== =================================================================================
AA   every fact of the message is committed (or was taken before: a message sent again)
AE   the message is a dead letter: the reason is in MSA-3 and ERR-8 (fix and resend)
AR   not committed: the message cannot be parsed, or the store failed (send it again)
==== =================================================================================

The acknowledgement's header answers the message's: its sender is the message's
receiver and the other way round, its control id the message's with ``-ACK``.
"""

from __future__ import annotations

from datetime import datetime

from membercore_hl7v2.fields import Message, header_fields

__all__ = ["acknowledgement", "escaped"]

_ESCAPES = {"\\": "\\E\\", "|": "\\F\\", "^": "\\S\\", "&": "\\T\\", "~": "\\R\\"}


def escaped(text: str) -> str:
    """``text`` with the standard delimiters escaped, on one line, cut to 500 characters."""
    flat = " ".join(text.split())[:500]
    return "".join(_ESCAPES.get(char, char) for char in flat)


def acknowledgement(
    code: str,
    at: datetime,
    *,
    message: Message | None = None,
    text: str = "",
    raw: str = "",
    condition: str | None = None,
) -> str:
    """The ACK of a message (or of ``raw`` text that could not be parsed).

    Args:
        code: ``AA``, ``AE`` or ``AR``.
        at: the acknowledgement's time.
        message: the message acknowledged, when it could be parsed.
        text: what to say (MSA-3; with an ERR segment for AE and AR).
        raw: the text received, when it could not be parsed (its control id, if it
            can be found, is still answered).
        condition: ERR-3 (HL7 table 0357) when the message itself was at fault (a
            required field missing, a data type error...); otherwise 207, "Application
            internal error": the programme could not take what it said.
    """
    if message is not None:
        msh = message.msh
        fields = [msh.field(n) for n in (3, 4, 5, 6)]
        control, version, trigger = msh.field(10), msh.field(12) or "2.5", msh.get(9, 2)
    else:
        fields, control, version, trigger = _header_of(raw)
    sender, facility, receiver, receiving = fields
    header = "|".join(
        [
            "MSH",
            "^~\\&",
            receiver or "membercore",
            receiving,
            sender,
            facility,
            at.strftime("%Y%m%d%H%M%S%z"),
            "",
            f"ACK^{trigger}^ACK" if trigger else "ACK",
            f"{control}-ACK" if control else "membercore-ACK",
            "P",
            version,
        ]
    )
    segments = [header, "|".join(["MSA", code, control, escaped(text)])]
    if code != "AA" and text:
        # Table 0357's condition; the reason is in ERR-8.
        error = condition or "207^Application internal error^HL70357"
        segments.append("|".join(["ERR", "", "", error, "E", "", "", "", escaped(text)]))
    return "\r".join(segments) + "\r"


def _header_of(raw: str) -> tuple[list[str], str, str, str]:
    """MSH-3 to MSH-6, MSH-10, MSH-12 and MSH-9's trigger of text that did not translate.

    Read from its first segment as far as it goes (empty where it says nothing), so that
    a refusal is routed back as an acceptance would be.
    """
    fields = header_fields(raw)
    if not fields:
        return ["", "", "", ""], "", "2.5", ""
    said = fields + [""] * (12 - len(fields))
    component = said[1][:1] or "^"
    kind = said[8].split(component)
    trigger = kind[1] if len(kind) > 1 else ""
    return said[2:6], said[9], said[11] or "2.5", trigger
