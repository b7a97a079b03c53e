from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from membercore import reference_config
from membercore.facts import AppointmentBooked, LabResultRecorded
from membercore.journeys import Situation
from membercore_clinic_example import BMI_AT_LEAST, bmi_at_least, bmi_of

AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
CONFIG = reference_config()


def _lab(value: str | None, test: str = "bmi") -> LabResultRecorded:
    return LabResultRecorded(
        fact_id="lab-1", patient_id="p-1", occurred_at=AT, test=test, value=value
    )


def _situation(message: object) -> Situation:
    return Situation(member_id="p-1", now=AT, config=CONFIG, message=message)


@pytest.mark.parametrize(("value", "holds"), [("28", True), ("31.5", True), ("27.9", False)])
def test_a_bmi_result_meets_the_threshold_only_at_or_above_it(value: str, holds: bool) -> None:
    assert bmi_at_least(_situation(_lab(value)), {"value": 28}) is holds


def test_the_test_code_is_read_without_case_or_surrounding_spaces() -> None:
    assert bmi_at_least(_situation(_lab("30", test=" BMI ")), {"value": 28})


def test_another_lab_test_never_meets_a_bmi_threshold() -> None:
    assert not bmi_at_least(_situation(_lab("95", test="hba1c")), {"value": 28})


@pytest.mark.parametrize("value", [None, "", "n/a", "31.2 kg/m2", "NaN", "Infinity"])
def test_a_value_that_is_not_a_finite_number_is_not_read(value: str | None) -> None:
    assert bmi_of(_lab(value)) is None
    assert not bmi_at_least(_situation(_lab(value)), {"value": 0})


def test_other_facts_and_timers_carry_no_bmi() -> None:
    booked = AppointmentBooked(
        fact_id="a-1",
        patient_id="p-1",
        occurred_at=AT,
        appointment_id="ap-1",
        department="nutrition",
        scheduled_at=AT,
    )
    assert not bmi_at_least(_situation(booked), {"value": 0})
    assert not bmi_at_least(_situation(None), {"value": 0})


@settings(deadline=None)
@given(tenths=st.integers(min_value=0, max_value=999), threshold=st.integers(0, 99))
def test_the_condition_compares_the_exact_decimal_value(tenths: int, threshold: int) -> None:
    text = f"{tenths // 10}.{tenths % 10}"
    assert bmi_of(_lab(text)) == Decimal(tenths) / 10
    assert bmi_at_least(_situation(_lab(text)), {"value": threshold}) is (tenths >= threshold * 10)


def test_the_registered_spec_names_the_function_and_its_integer_parameter() -> None:
    assert BMI_AT_LEAST.name == "bmi_at_least"
    assert BMI_AT_LEAST.fn is bmi_at_least
    assert [(p.name, p.kind, p.required) for p in BMI_AT_LEAST.params] == [("value", int, True)]
