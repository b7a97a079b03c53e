"""One HL7 v2 message as the facts and commands it tells of.

:func:`translate` reads the header (MSH-9 says the message type, MSH-10 its control
id, MSH-3 and MSH-4 its sender) and hands the message to the translator of its type:
:mod:`~membercore_hl7v2.adt` (ADT A01 A02 A03 A04 A08 A11 A13 A28 A31 A40),
:mod:`~membercore_hl7v2.results` (ORU R01), :mod:`~membercore_hl7v2.scheduling` (SIU
S12-S17, S26) and :mod:`~membercore_hl7v2.financial` (DFT P03, P11). Every message's
patient is registered from its PID first (ADT messages' only, when the mapping says
``registrations = "adt_only"``). A message of a type the programme takes nothing from
translates to nothing (it is acknowledged all the same).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from membercore.errors import MembercoreError
from membercore_hl7v2 import adt, financial, results, scheduling
from membercore_hl7v2.context import Context, Ids
from membercore_hl7v2.fields import Message, MissingFieldError, TranslationError
from membercore_hl7v2.mapping import Hl7Mapping
from membercore_hl7v2.patients import patient_of

__all__ = ["HANDLED", "Translated", "translate"]

Translator = Callable[[Context], list[object]]

#: The message types translated, each to its translator (``ADT^A01``...).
HANDLED: dict[str, Translator] = {
    **adt.HANDLERS,
    **results.HANDLERS,
    **scheduling.HANDLERS,
    **financial.HANDLERS,
}


@attrs.frozen
class Translated:
    """What one message tells of.

    Attributes:
        kind: the message type and trigger (``ADT^A01``).
        control_id: MSH-10.
        sender: MSH-3 and MSH-4 (``ADTApp@GHHSFacility``).
        inputs: the facts and commands, in the order they happened.
        message: the parsed message (for its acknowledgement).
    """

    kind: str
    control_id: str
    sender: str
    inputs: tuple[object, ...]
    message: Message


def translate(text: str, mapping: Hl7Mapping) -> Translated:
    """The facts and commands one message tells of.

    Raises:
        TranslationError: the message cannot be parsed, or a field it needs is missing
            or malformed (the error names the field).
    """
    message = Message(text, mapping.timezone)
    msh = message.msh
    kind, trigger = msh.get(9, 1).upper(), msh.get(9, 2).upper()
    control_id = msh.get(10)
    if not kind:
        raise MissingFieldError("MSH-9 (the message type) is empty")
    if not control_id:
        raise MissingFieldError("MSH-10 (the message control id) is empty")
    sender = "@".join(part for part in (msh.get(3), msh.get(4)) if part) or "unnamed"
    named = f"{kind}^{trigger}"
    translator = HANDLED.get(named)
    if translator is None:
        return Translated(named, control_id, sender, (), message)
    try:
        patient = patient_of(message, mapping)
    except MembercoreError as error:
        raise TranslationError(str(error)) from None
    ids = Ids(sender, control_id, patient.patient_id, named, msh.get(7))
    context = Context(message, mapping, patient, ids, trigger)
    try:
        told = translator(context)
        inputs: list[object] = []
        if kind == "ADT" or mapping.registrations == "every_message":
            inputs += context.registration(told)
    except MembercoreError as error:  # a value no fact takes (a negative amount...)
        raise TranslationError(str(error)) from None
    return Translated(named, control_id, sender, (*inputs, *told), message)
