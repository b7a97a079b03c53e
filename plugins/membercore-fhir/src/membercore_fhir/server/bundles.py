"""The entries of a Bundle a server sent: what to translate, what is only there to be referred to.

A search page (``searchset``) holds the resources that matched (``search.mode``
``match``), the resources they refer to that the search was asked to include
(``include``: an Encounter for its visit number), and the server's remarks
(``outcome``: an OperationOutcome). A notification or a batch answer (``history``,
``batch-response``) holds each entry's ``response``, whose ``outcome`` says why an
entry failed. :func:`sort_entries` tells them apart:

- a matched resource is :attr:`Sorted.matched`, translated with the read's facts;
- an included one is in :attr:`Sorted.read` only, for references to find it;
- an OperationOutcome with an error, or an entry whose ``response`` failed, is
  :attr:`Sorted.refused`: an :class:`~membercore_fhir.reading.Entry` with the outcome's
  issues as its reason and its JSON as its raw text, to be kept as a dead letter;
- an entry that names a resource without holding it (an *id-only* notification's
  ``fullUrl``) is counted in :attr:`Sorted.named`: what it names must be fetched.
"""

from __future__ import annotations

import json
import logging

import attrs

from membercore_fhir.reading import Entry, Read
from membercore_fhir.server.outcomes import errors_in, outcome_text
from membercore_fhir.values import Resource

__all__ = ["Sorted", "sort_entries"]

log = logging.getLogger("membercore.fhir")


@attrs.frozen
class Sorted:
    """A Bundle's entries, told apart (see the module's docstring).

    Attributes:
        read: every resource held (matched and included), for the translation.
        matched: the matched resources' entries, in the bundle's order.
        refused: entries standing for what the server could not give, with the reason.
        named: how many entries name a resource without holding it.
    """

    read: Read
    matched: tuple[Entry, ...]
    refused: tuple[Entry, ...]
    named: int


def sort_entries(bundle: Resource, where: str) -> Sorted:
    """The entries of ``bundle``, each placed as ``<where> entry <n>``."""
    held: list[Entry] = []
    matched: list[Entry] = []
    refused: list[Entry] = []
    named = 0
    for number, entry in enumerate(bundle.get("entry") or [], start=1):
        if not isinstance(entry, dict):
            raw = json.dumps(entry, ensure_ascii=False)
            refused.append(Entry(where, number, None, raw=raw, reason="the entry is not an object"))
            continue
        resource = entry.get("resource")
        failed = _failed_response(entry)
        if failed is not None:
            refused.append(Entry(where, number, None, raw=_json(entry), reason=failed))
        elif isinstance(resource, dict) and resource.get("resourceType") == "OperationOutcome":
            if errors_in(resource):
                reason = f"the server's OperationOutcome: {outcome_text(resource)}"
                refused.append(Entry(where, number, None, raw=_json(resource), reason=reason))
            else:
                log.info("%s entry %d: the server says %s", where, number, outcome_text(resource))
        elif isinstance(resource, dict) and "resourceType" in resource:
            kept = Entry(where, number, resource, full_url=str(entry.get("fullUrl") or ""))
            held.append(kept)
            if _mode(entry) != "include":
                matched.append(kept)
        elif resource is None and (entry.get("fullUrl") or _location(entry)):
            named += 1
        else:
            reason = "the entry holds no resource"
            refused.append(Entry(where, number, None, raw=_json(entry), reason=reason))
    timestamp = str(bundle.get("timestamp") or "")
    return Sorted(Read(tuple(held), timestamp), tuple(matched), tuple(refused), named)


def _mode(entry: Resource) -> str:
    search = entry.get("search")
    return str(search.get("mode") or "match") if isinstance(search, dict) else "match"


def _location(entry: Resource) -> str:
    response = entry.get("response")
    return str(response.get("location") or "") if isinstance(response, dict) else ""


def _failed_response(entry: Resource) -> str | None:
    """Why an entry's ``response`` failed (a 4xx or 5xx status), or None."""
    response = entry.get("response")
    if not isinstance(response, dict):
        return None
    status = str(response.get("status") or "").strip()
    code = status.split(" ", 1)[0]
    outcome = response.get("outcome")
    if not (code.isdigit() and int(code) >= 400):
        return None
    said = outcome_text(outcome) if isinstance(outcome, dict) else "no OperationOutcome"
    return f"the server answered {status} for this entry: {said}"


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)
