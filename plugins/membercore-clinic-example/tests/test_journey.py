from __future__ import annotations

import attrs
import pytest

from membercore import ConfigError, ProgrammeConfig, reference_config
from membercore.errors import JourneyDefinitionError
from membercore.journeys import builtin_registry, validate
from membercore.plugins import collect, make_plugin_manager
from membercore_clinic_example import (
    BMI_AT_LEAST,
    INVITE_TEMPLATE,
    NOTIFY_CLINIC,
    weight_management,
)


def test_the_journey_validates_against_the_plugins_condition_and_action() -> None:
    registry = builtin_registry().with_condition(BMI_AT_LEAST).with_action(NOTIFY_CLINIC)
    assert validate(weight_management(), registry) == weight_management()


def test_without_the_plugin_the_journey_names_what_it_misses() -> None:
    with pytest.raises(JourneyDefinitionError) as raised:
        validate(weight_management(), builtin_registry())
    message = str(raised.value)
    assert "bmi_at_least" in message
    assert "notify_clinic" in message


def test_the_reference_programme_takes_the_journey_and_its_template() -> None:
    config = reference_config()
    template = config.outreach.template(INVITE_TEMPLATE)
    assert template is not None
    assert template.purpose == weight_management().purpose == "care"
    extended = attrs.evolve(config, journeys=(*config.journeys, weight_management()))
    assert extended.journeys[-1].key == "weight_management"


def test_a_programme_without_the_invitation_template_refuses_the_journey() -> None:
    with pytest.raises(ConfigError, match=INVITE_TEMPLATE):
        ProgrammeConfig(journeys=(weight_management(),))


def test_the_installed_plugin_is_found_through_its_entry_point() -> None:
    plugins = collect(make_plugin_manager(), reference_config())
    assert "clinic_example" in plugins.names
    assert plugins.registry.conditions["bmi_at_least"] == BMI_AT_LEAST
    assert plugins.registry.actions["notify_clinic"] == NOTIFY_CLINIC
    contributed = {found.value.key: found.plugin for found in plugins.journeys}
    assert contributed["weight_management"] == "clinic_example"
