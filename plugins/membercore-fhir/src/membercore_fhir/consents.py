"""Consent: a patient's agreement to be reached for a purpose, given or withdrawn.

A Consent whose category or policy code the mapping's ``[fhir.consents."<code>"]``
names (the purpose — ``care``, ``marketing`` or ``research`` — and the channels agreed
to) is a :class:`~membercore.consent.GrantConsent` while it is ``active`` and permits
(its ``provision.type`` is ``permit`` or not sent), and a
:class:`~membercore.consent.WithdrawConsent` once it denies, or is ``inactive``,
``rejected`` or ``entered-in-error``. It is decided at its ``dateTime`` (else
``meta.lastUpdated``, else the bundle's timestamp). A Consent the mapping names no
purpose for (a consent to treatment, to share records) is not used: outreach consent is
the programme's own.
"""

from __future__ import annotations

from datetime import datetime

from membercore.consent import GrantConsent, WithdrawConsent
from membercore_fhir.context import Context, digest
from membercore_fhir.mapping import ConsentRule
from membercore_fhir.values import FhirError, Resource, codes, instant, name_of, text

__all__ = ["consent"]

_WITHDRAWN = {"inactive", "rejected", "entered-in-error"}


def consent(context: Context, resource: Resource) -> list[object]:
    """The consent given or withdrawn, as an instant and a command."""
    name = name_of(resource)
    status = text(resource, "status")
    rule = _rule(context, resource)
    if rule is None or status not in {"active", *_WITHDRAWN}:
        return []
    at = _at(context, resource, name)
    made: list[object] = []
    patient_id = context.patient_of(resource.get("patient"), f"{name}.patient", made, at)
    denies = text(resource, "provision", "type") == "deny"
    version = text(resource, "meta", "versionId") or digest(status, denies, at)
    key = context.fact_id(resource, f"consent:{version}")
    command: GrantConsent | WithdrawConsent
    if status == "active" and not denies:
        command = GrantConsent(
            key=key,
            member_id=patient_id,
            purpose=rule.purpose,
            channels=rule.channels,
            given_by=patient_id,
            source=f"fhir:{context.mapping.sender} {name}",
        )
    else:
        command = WithdrawConsent(
            key=key,
            member_id=patient_id,
            purpose=rule.purpose,
            channels=rule.channels,
            reason=f"{name} {status}{' (deny)' if denies else ''}",
        )
    return [*made, (at, command)]


def _rule(context: Context, resource: Resource) -> ConsentRule | None:
    """The mapping's rule for the first category or policy code it names."""
    sent = [c for concept in resource.get("category") or [] for _, c, _ in codes(concept)]
    sent += [c for _, c, _ in codes(resource.get("policyRule"))]
    sent += [text(policy, "uri") for policy in resource.get("policy") or []]
    return next((context.mapping.consents[c] for c in sent if c in context.mapping.consents), None)


def _at(context: Context, resource: Resource, name: str) -> datetime:
    if resource.get("dateTime"):
        return instant(resource["dateTime"], context.mapping.timezone, f"{name}.dateTime")
    told = context.when_told(resource)
    if told is None:
        raise FhirError(
            f"{name}: no instant (dateTime, meta.lastUpdated and the bundle's timestamp are empty)"
        )
    return told
