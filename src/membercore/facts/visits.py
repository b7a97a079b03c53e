"""Visit facts: check-ins, appointments booked and missed, visits completed."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import attrs

from membercore.checks import non_empty
from membercore.dates import as_utc, aware
from membercore.facts.base import Fact

__all__ = ["AppointmentBooked", "AppointmentMissed", "CheckedIn", "VisitCompleted"]


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
    """

    TYPE: ClassVar[str] = "visit_completed"

    visit_id: str = attrs.field(validator=non_empty)
    department: str = attrs.field(default="internal", validator=non_empty)
    first_visit: bool = False


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
