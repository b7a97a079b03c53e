"""A server's OperationOutcome in words, and the errors of talking to a FHIR server.

A FHIR server says why it refused a request in an OperationOutcome: each issue has a
severity, a code, and its text (``details.text``, else ``diagnostics``), and may say
where (``expression``, ``location``). :func:`outcome_text` writes the issues as one
line, what a dead letter keeps as its reason.
"""

from __future__ import annotations

import errno
import json

from membercore.errors import MembercoreError
from membercore_fhir.values import Resource, text

__all__ = ["FhirServerError", "errors_in", "outcome_text", "response_outcome"]

#: The severities that make an outcome a refusal (``warning`` and ``information`` do not).
_ERRORS = frozenset({"fatal", "error"})


class FhirServerError(MembercoreError, OSError):
    """A FHIR server (or its authorization server) could not be read.

    It is an :class:`OSError` too, as a file that cannot be read is: the command line
    says what was wrong, and ``membercore worker`` logs it and polls again later.

    Attributes:
        url: the request's URL (its query included; never a credential).
        problem: what went wrong.
    """

    def __init__(self, url: str, problem: str) -> None:
        super().__init__(errno.EIO, problem, url)
        self.url = url
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.url}: {self.problem}"


def outcome_text(outcome: Resource) -> str:
    """An OperationOutcome's issues as one line: ``error (invalid) at Patient.birthDate: ...``."""
    issues = [i for i in outcome.get("issue") or [] if isinstance(i, dict)]
    if not issues:
        return "an OperationOutcome without issues"
    return "; ".join(_issue(issue) for issue in issues)


def errors_in(outcome: Resource) -> bool:
    """Whether an OperationOutcome reports an error (a fatal or error issue)."""
    return any(
        isinstance(i, dict) and i.get("severity") in _ERRORS for i in outcome.get("issue") or []
    )


def response_outcome(body: bytes) -> tuple[str, Resource | None]:
    """What a refused request's body says: the OperationOutcome's issues, else the text.

    Returns:
        The words, and the OperationOutcome when the body is one.
    """
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        shown = body.decode("utf-8", "replace").strip()
        return (shown[:500] or "no body"), None
    if isinstance(parsed, dict) and parsed.get("resourceType") == "OperationOutcome":
        return outcome_text(parsed), parsed
    if isinstance(parsed, dict) and "error" in parsed:  # an OAuth 2.0 error response
        described = parsed.get("error_description")
        return f"{parsed['error']}{f': {described}' if described else ''}", None
    return json.dumps(parsed, ensure_ascii=False)[:500], None


def _issue(issue: Resource) -> str:
    said = text(issue, "details", "text") or text(issue, "diagnostics") or "(no text)"
    where = [w for w in (issue.get("expression") or issue.get("location") or []) if w]
    at = f" at {', '.join(map(str, where))}" if where else ""
    severity, code = text(issue, "severity") or "error", text(issue, "code")
    return f"{severity}{f' ({code})' if code else ''}{at}: {said}"
