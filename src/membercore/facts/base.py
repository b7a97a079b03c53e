"""The fields every fact has, and the checks facts share."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import attrs

from membercore.checks import non_empty
from membercore.dates import as_utc, aware
from membercore.errors import InvalidFactError

__all__ = ["Fact", "one_of"]


@attrs.frozen(kw_only=True)
class Fact:
    """Fields every fact has.

    Attributes:
        fact_id: unique id of the fact (e.g. the HIS message id); the idempotency key.
        patient_id: the patient (member) the fact is about.
        occurred_at: when it happened (timezone-aware).
    """

    TYPE: ClassVar[str] = "fact"

    fact_id: str = attrs.field(validator=non_empty)
    patient_id: str = attrs.field(validator=non_empty)
    occurred_at: datetime = attrs.field(converter=as_utc, validator=aware)


def one_of(*allowed: str) -> Any:
    """An attrs validator: the value is ``None`` or one of ``allowed``."""

    def check(instance: Any, attribute: Any, value: str | None) -> None:
        if value is not None and value not in allowed:
            raise InvalidFactError(
                instance.TYPE, attribute.name, value, f"must be one of {allowed}"
            )

    return check
