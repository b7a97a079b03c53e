"""What a row may say of each fact type: its fields, how each is read, which it needs.

Every fact type a hospital's views and exports carry has its fields here, each read by
a kind (:data:`Kind`): ``text``, ``instant``, ``date``, ``yuan`` (whole fen), ``price``
(fen, rounded), ``count``, ``flag``, the addresses ``phone`` and ``email`` (as written;
a placeholder such as ``N/A`` leaves the field out), and the coded kinds a table of the
mapping turns into the programme's words: ``department`` (``departments``), ``category``
(``charge_categories``). Every fact has ``occurred_at`` (an instant); the patient is
named apart (``patient``).
"""

from __future__ import annotations

from typing import Literal

import attrs

__all__ = ["FACTS", "FactFields", "Kind"]

Kind = Literal[
    "text", "instant", "date", "yuan", "price", "count", "flag", "phone", "email", "department"
]


@attrs.frozen
class FactFields:
    """The fields a row may give one fact type.

    Attributes:
        fields: each field and the kind it is read as.
        required: the fields the fact cannot do without.
    """

    fields: dict[str, Kind]
    required: frozenset[str]


def _of(required: str, optional: str = "", **kinds: Kind) -> FactFields:
    """Fields named in ``required`` and ``optional`` (space-separated), text unless said."""
    named = [*required.split(), *optional.split()]
    fields: dict[str, Kind] = {"occurred_at": "instant"}
    fields.update({name: kinds.get(name, "text") for name in named})
    return FactFields(fields, frozenset(["occurred_at", *required.split()]))


_CHARGE = _of(
    "charge_id amount",
    "department code category insurance quantity unit_price",
    department="department",
    amount="yuan",
    insurance="yuan",
    quantity="count",
    unit_price="price",
)
_BOOKED = _of(
    "appointment_id department scheduled_at", department="department", scheduled_at="instant"
)
_APPOINTMENT = _of("appointment_id department", department="department")

#: The fact types a row may become, by their tags, with their fields.
FACTS: dict[str, FactFields] = {
    "patient_registered": _of(
        "",
        "name sex birth_date language preferred_channel phone email",
        birth_date="date",
        phone="phone",
        email="email",
    ),
    "visit_completed": _of(
        "visit_id",
        "department first_visit encounter_class",
        department="department",
        first_visit="flag",
    ),
    "admitted": _of("visit_id department", "encounter_class", department="department"),
    "discharged": _of("visit_id department", department="department"),
    "transferred": _of(
        "visit_id department",
        "from_department",
        department="department",
        from_department="department",
    ),
    "diagnosis_recorded": _of("visit_id code", "system display status"),
    "lab_result_recorded": _of(
        "code",
        "system display value unit reference_range abnormal status order_id",
        abnormal="flag",
    ),
    "charge_paid": _CHARGE,
    "charge_posted": _CHARGE,
    "refund_issued": _of("charge_id amount", amount="yuan"),
    "appointment_booked": _BOOKED,
    "appointment_rescheduled": _BOOKED,
    "appointment_cancelled": _APPOINTMENT,
    "appointment_missed": _APPOINTMENT,
    "appointment_completed": _APPOINTMENT,
}
