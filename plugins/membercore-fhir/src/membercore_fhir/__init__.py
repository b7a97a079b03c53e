"""FHIR R4 for membercore: bundles, NDJSON exports and FHIR servers as sources of facts.

A newer HIS or integration platform speaks FHIR R4. This plugin turns its resources —
Patient, RelatedPerson, Linkage, Encounter, Condition, Observation, Procedure,
Appointment, ChargeItem, Claim, ExplanationOfBenefit, Invoice, Consent — into facts
(:mod:`~membercore_fhir.translate`), through the hospital's mapping of its codes
(:mod:`~membercore_fhir.mapping`), from files (:class:`~membercore_fhir.source.FhirFileSource`,
registered as the HIS source ``fhir``: ``membercore import --source fhir FILE --mapping
his.toml``), from a FHIR server polled by ``_lastUpdated``
(:class:`~membercore_fhir.server.polling.FhirServerSource`, the HIS source
``fhir-server``), and from its subscription notifications
(:class:`~membercore_fhir.server.subscriptions.SubscriptionWebhook`, the webhook ``fhir``
that ``membercore serve`` serves, and
:class:`~membercore_fhir.server.subscriptions.SubscriptionListener`, the worker's
listener ``fhir``). Resources are read as the JSON the server sent, each element checked where
it is used: see ``docs/his-fhir.md`` for why not a model library.
"""

from __future__ import annotations

from collections.abc import Callable

from membercore.hookspecs import ListenerFactory, SourceFactory, WebhookFactory, hookimpl
from membercore_fhir.mapping import FhirMapping, load_mapping, mapping_from_dict
from membercore_fhir.reading import Entry, Read, read_path
from membercore_fhir.server.outcomes import FhirServerError
from membercore_fhir.server.polling import FhirServerSource
from membercore_fhir.server.subscriptions import SubscriptionListener, SubscriptionWebhook
from membercore_fhir.source import FhirFileSource, resume_after
from membercore_fhir.translate import TRANSLATORS, Tally, Translated, translate
from membercore_fhir.values import FhirError

__all__ = [
    "TRANSLATORS",
    "Entry",
    "FhirError",
    "FhirFileSource",
    "FhirMapping",
    "FhirServerError",
    "FhirServerSource",
    "Read",
    "SubscriptionListener",
    "SubscriptionWebhook",
    "Tally",
    "Translated",
    "load_mapping",
    "mapping_from_dict",
    "membercore_register_his_sources",
    "membercore_register_listeners",
    "membercore_register_webhooks",
    "read_path",
    "resume_after",
    "translate",
]


@hookimpl
def membercore_register_his_sources(register: Callable[[str, SourceFactory], None]) -> None:
    """Provide the FHIR file source, ``fhir``, and the FHIR server source, ``fhir-server``."""
    register("fhir", FhirFileSource.from_options)
    register("fhir-server", FhirServerSource.from_options)


@hookimpl
def membercore_register_listeners(register: Callable[[str, ListenerFactory], None]) -> None:
    """Provide the endpoint for a FHIR server's subscription notifications, ``fhir``."""
    register("fhir", SubscriptionListener.from_options)


@hookimpl
def membercore_register_webhooks(register: Callable[[str, WebhookFactory], None]) -> None:
    """Provide the endpoint for a FHIR server's notifications to ``membercore serve``, ``fhir``."""
    register("fhir", SubscriptionWebhook.from_options)
