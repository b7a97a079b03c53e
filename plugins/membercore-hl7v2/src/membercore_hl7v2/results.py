"""ORU^R01: laboratory results, one fact per OBX.

Each OBX is a :class:`~membercore.facts.LabResultRecorded`: the test as the mapping
names its code (OBX-3), the value (OBX-5; a structured numeric ``>^7.5`` as ``>7.5``),
unit (OBX-6), reference range (OBX-7), abnormal flag (OBX-8), status (OBX-11, else the
order's OBR-25) and the order it answers (OBR-3, else OBR-2). It happened at OBX-14,
else OBR-7, else the message's time.

A result's fact id is the result's own — sender, patient, order, test, sub-id and
status — whenever the order is named: the final result sent again in another message is
the same fact (taken once). A correction's is its message's: each correction is decided
again as the latest word, and the same correction sent again is taken once. Only final
and corrected results act on the programme.
"""

from __future__ import annotations

from collections.abc import Callable

from membercore.facts import Coding, LabResultRecorded, ResultStatus
from membercore_hl7v2.context import Context
from membercore_hl7v2.fields import MissingFieldError, Segment, TableValueError

__all__ = ["HANDLERS", "STATUSES"]

#: OBX-11 (HL7 table 0085) to a result's status.
STATUSES: dict[str, ResultStatus] = {
    "F": "final",
    "C": "corrected",
    "A": "corrected",
    "P": "preliminary",
    "I": "preliminary",
    "R": "preliminary",
    "S": "preliminary",
    "O": "preliminary",
    "X": "cancelled",
    "D": "entered_in_error",
    "W": "entered_in_error",
}
_NORMAL = {"", "N"}


def results(context: Context) -> list[object]:
    """A fact per OBX, each read with the OBR it follows."""
    made: list[object] = []
    order: Segment | None = None
    for segment in context.message.all():
        if segment.name == "OBR":
            order = segment
        elif segment.name == "OBX":
            made.append(_result(context, order, segment, len(made) + 1))
    return made


def _result(context: Context, order: Segment | None, obx: Segment, number: int) -> object:
    code = obx.get(3, 1)
    if not code:
        raise MissingFieldError(f"OBX {number}: OBX-3 (the test's code) is empty")
    flag = obx.get(11).upper() or (order.get(25).upper() if order else "")
    status = STATUSES.get(flag or "F")
    if status is None:
        raise TableValueError(f"OBX {number}: OBX-11 {flag!r} is not a result status")
    order_id = (order.get(3) or order.get(2)) if order else ""
    at = obx.instant(14) or (order.instant(7) if order else None) or context.message.msh.instant(7)
    if at is None:
        raise MissingFieldError(f"OBX {number}: no instant (OBX-14, OBR-7 and MSH-7 are empty)")
    ids = context.ids
    if order_id and status != "corrected":
        part = f"result:{order_id}:{code}:{obx.get(4) or '-'}:{status}"
        fact_id = f"hl7v2:{ids.sender}:{ids.patient_id}:{part}"
    else:  # each correction is news of its own: the message names it
        fact_id = ids.of(f"obx-{number}")
    return LabResultRecorded(
        fact_id=fact_id,
        patient_id=context.patient.patient_id,
        occurred_at=at,
        test=context.mapping.test(code),
        value=_value(obx) or None,
        abnormal=obx.get(8).upper() not in _NORMAL,
        coding=Coding(system=obx.get(3, 3) or "local", code=code, display=obx.get(3, 2) or None),
        unit=obx.get(6) or None,
        reference_range=obx.get(7) or None,
        status=status,
        order_id=order_id or None,
    )


def _value(obx: Segment) -> str:
    """OBX-5 as text: a structured numeric (SN) joined (``^182`` is ``182``)."""
    if obx.get(2).upper() == "SN":
        repetition = obx.repetitions(5)
        if not repetition:
            return ""
        parts = [repetition[0].get(n) for n in range(1, 5)]
        return "".join(parts)
    return obx.get(5)


#: The ORU triggers translated.
HANDLERS: dict[str, Callable[[Context], list[object]]] = {"ORU^R01": results}
