"""Visit facts: check-ins, encounters (admission to discharge) and appointments.

An encounter has a class (outpatient, inpatient, emergency...); an inpatient stay is
admitted, may be transferred, and is discharged (:class:`~membercore.facts.Discharged`);
a visit completed is what the programme counts. An appointment is booked, rescheduled,
cancelled, missed or completed. A retraction (an admission or a discharge cancelled, as
the HIS sends when it was entered in error) is recorded on the member's record.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal, get_args

import attrs

from membercore.checks import non_empty
from membercore.converters import OMIT_AT_DEFAULT
from membercore.dates import as_utc, aware
from membercore.facts.base import Fact, one_of

# New fields are written only when they hold something: what earlier releases wrote
# and digested stays as it was.
_OMIT = {OMIT_AT_DEFAULT: True}

__all__ = [
    "AdmissionCancelled",
    "Admitted",
    "AppointmentBooked",
    "AppointmentCancelled",
    "AppointmentCompleted",
    "AppointmentMissed",
    "AppointmentRescheduled",
    "CheckedIn",
    "DischargeCancelled",
    "EncounterClass",
    "Transferred",
    "VisitCompleted",
]

#: The class of an encounter, as HL7 v2 (PV1-2) and FHIR (``Encounter.class``) name them.
EncounterClass = Literal["outpatient", "inpatient", "emergency", "checkup", "virtual"]


@attrs.frozen(kw_only=True)
class CheckedIn(Fact):
    """The member checked in (签到) in the app or at a kiosk."""

    TYPE: ClassVar[str] = "checked_in"

    channel: str = "app"


@attrs.frozen(kw_only=True)
class VisitCompleted(Fact):
    """The member completed a visit (outpatient, inpatient discharge, check-up...).

    Attributes:
        visit_id: the HIS visit number.
        department: the department seen.
        first_visit: whether it was the patient's first visit to the hospital.
        encounter_class: outpatient, inpatient, emergency..., when known.
    """

    TYPE: ClassVar[str] = "visit_completed"

    visit_id: str = attrs.field(validator=non_empty)
    department: str = attrs.field(default="internal", validator=non_empty)
    first_visit: bool = False
    encounter_class: EncounterClass | None = attrs.field(
        default=None, validator=one_of(*get_args(EncounterClass)), repr=False, metadata=_OMIT
    )


@attrs.frozen(kw_only=True)
class Admitted(Fact):
    """The patient was admitted (入院): an inpatient stay, or an encounter of another class.

    Attributes:
        visit_id: the stay.
        department: the admitting department.
        encounter_class: ``inpatient`` unless the HIS says otherwise.
    """

    TYPE: ClassVar[str] = "admitted"

    visit_id: str = attrs.field(validator=non_empty)
    department: str = attrs.field(validator=non_empty)
    encounter_class: EncounterClass = attrs.field(
        default="inpatient", validator=one_of(*get_args(EncounterClass))
    )


@attrs.frozen(kw_only=True)
class Transferred(Fact):
    """The patient was transferred to another department during a stay (转科).

    Attributes:
        visit_id: the stay.
        department: the department now caring for the patient.
        from_department: the one before, when known.
    """

    TYPE: ClassVar[str] = "transferred"

    visit_id: str = attrs.field(validator=non_empty)
    department: str = attrs.field(validator=non_empty)
    from_department: str | None = None


@attrs.frozen(kw_only=True)
class AdmissionCancelled(Fact):
    """An admission was cancelled: it was sent in error (HL7 v2 ``A11``).

    Attributes:
        visit_id: the stay whose admission is withdrawn.
    """

    TYPE: ClassVar[str] = "admission_cancelled"

    visit_id: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class DischargeCancelled(Fact):
    """A discharge was cancelled: the patient is still in (HL7 v2 ``A13``).

    Attributes:
        visit_id: the stay whose discharge is withdrawn.
    """

    TYPE: ClassVar[str] = "discharge_cancelled"

    visit_id: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class AppointmentBooked(Fact):
    """An appointment was booked.

    Attributes:
        appointment_id: the appointment.
        department: where.
        scheduled_at: when it is.
    """

    TYPE: ClassVar[str] = "appointment_booked"

    appointment_id: str = attrs.field(validator=non_empty)
    department: str = attrs.field(validator=non_empty)
    scheduled_at: datetime = attrs.field(converter=as_utc, validator=aware)


@attrs.frozen(kw_only=True)
class AppointmentMissed(Fact):
    """The patient did not come to an appointment."""

    TYPE: ClassVar[str] = "appointment_missed"

    appointment_id: str = attrs.field(validator=non_empty)
    department: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class AppointmentRescheduled(Fact):
    """An appointment was moved to another time (or another department).

    Attributes:
        appointment_id: the appointment.
        department: where it now is.
        scheduled_at: when it now is.
    """

    TYPE: ClassVar[str] = "appointment_rescheduled"

    appointment_id: str = attrs.field(validator=non_empty)
    department: str = attrs.field(validator=non_empty)
    scheduled_at: datetime = attrs.field(converter=as_utc, validator=aware)


@attrs.frozen(kw_only=True)
class AppointmentCancelled(Fact):
    """An appointment was cancelled (by the patient or the hospital) before it took place.

    Attributes:
        appointment_id: the appointment.
        department: where it was.
    """

    TYPE: ClassVar[str] = "appointment_cancelled"

    appointment_id: str = attrs.field(validator=non_empty)
    department: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class AppointmentCompleted(Fact):
    """The patient came to an appointment and it took place.

    Attributes:
        appointment_id: the appointment.
        department: where.
    """

    TYPE: ClassVar[str] = "appointment_completed"

    appointment_id: str = attrs.field(validator=non_empty)
    department: str = attrs.field(validator=non_empty)
