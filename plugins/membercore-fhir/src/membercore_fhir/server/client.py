"""Talking to a FHIR server over HTTP: credentials, retries with back-off, pages.

Every request goes through :meth:`FhirClient.send`, which

- adds the credentials (a static bearer token, or SMART Backend Services' token, asked
  for again once when the server answers 401);
- sends again a request answered 429 or 500, 502, 503, 504, or whose connection failed,
  waiting ``Retry-After`` when the server says (cut to ``max_backoff``), else
  ``backoff`` doubled each time; after ``retries`` such answers in a row it fails with
  :class:`~membercore_fhir.server.outcomes.FhirServerError` naming the last.

:meth:`FhirClient.search` follows a search's pages (``Bundle.link`` of relation
``next``) on the server's own origin only, so that credentials never reach another
host. httpx does the HTTP: a maintained, typed client with timeouts, connection reuse
and a transport tests can replace.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import attrs
import httpx

from membercore.errors import ConfigError
from membercore_fhir.server.config import BearerToken, ServerConfig, SmartBackend
from membercore_fhir.server.outcomes import FhirServerError, response_outcome
from membercore_fhir.server.smart import SmartTokens, load_private_key
from membercore_fhir.values import Resource

__all__ = ["RETRIED", "FhirClient", "Page", "Refused"]

log = logging.getLogger("membercore.fhir")

#: The answers worth sending a request again for.
RETRIED = frozenset({429, 500, 502, 503, 504})
_FHIR_JSON = "application/fhir+json"


@attrs.frozen
class Page:
    """One page of a search: the Bundle, and when the server says it made it.

    Attributes:
        url: the page's URL.
        bundle: the searchset Bundle.
        number: 1 for the first page.
        served_at: the server's clock (``Bundle.meta.lastUpdated``, else the ``Date``
            header), or '' when it says nothing.
    """

    url: str
    bundle: Resource
    number: int
    served_at: str


@attrs.frozen
class Refused:
    """A search the server refused (a 4xx other than 401 and 403), and why.

    Attributes:
        url: the request.
        status: the HTTP status.
        reason: the OperationOutcome's issues (or the body's text).
        body: the body as received (the OperationOutcome's JSON), kept as a dead letter.
    """

    url: str
    status: int
    reason: str
    body: str


class FhirClient:
    """A FHIR server's client (use it as a context manager, or :meth:`close` it).

    Args:
        config: the server's settings.
        transport: an httpx transport (tests; by default httpx's own).
        sleep: waits between retries.
        clock: seconds since the epoch (SMART assertions and token expiry).

    Raises:
        ConfigError: a credential the settings name is missing or invalid.
        OSError: the SMART key file cannot be read.
    """

    def __init__(
        self,
        config: ServerConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._sleep = sleep
        self._http = httpx.Client(
            timeout=config.timeout,
            transport=transport,
            headers={"Accept": _FHIR_JSON},
            follow_redirects=False,
        )
        self._origin = _origin(config.base_url)
        self._bearer: str | None = None
        self._smart: SmartTokens | None = None
        auth = config.auth
        if isinstance(auth, BearerToken):
            token = os.environ.get(auth.token_env, "")
            if not token:
                self._http.close()
                raise ConfigError(
                    "fhir_server.auth.token_env",
                    f"the environment variable {auth.token_env} is not set",
                )
            self._bearer = f"Bearer {token}"
        elif isinstance(auth, SmartBackend):
            try:
                key = load_private_key(auth)
            except (ConfigError, OSError):
                self._http.close()
                raise
            self._smart = SmartTokens(auth, key, self._post_form, clock=clock)

    def __enter__(self) -> FhirClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    # -- searching ---------------------------------------------------------------------

    def search(
        self, kind: str, params: Mapping[str, str | tuple[str, ...]]
    ) -> Iterator[Page | Refused]:
        """A search's pages, following ``next`` links; a refused search ends in :class:`Refused`.

        Raises:
            FhirServerError: the server could not be read (after the retries), refused
                the credentials (401, 403), or answered with something that is not a
                searchset Bundle.
        """
        url: str | None = f"{self.config.base_url}/{kind}"
        query: Mapping[str, Any] | None = {
            k: list(v) if isinstance(v, tuple) else v for k, v in params.items()
        }
        number = 0
        while url is not None:
            number += 1
            response = self.send("GET", url, params=query)
            shown = str(response.request.url)
            if response.status_code != 200:
                yield self._refused(shown, response)
                return
            bundle = _bundle(shown, response)
            yield Page(shown, bundle, number, _served_at(bundle, response))
            url, query = self._next(shown, bundle), None

    def read_json(self, url: str) -> tuple[int, bytes]:
        """GET a URL on the server: its status and body (a refusal is the caller's).

        Raises:
            FhirServerError: the server could not be read, or refused the credentials.
        """
        response = self.send("GET", url)
        if response.status_code in (401, 403):
            self._refused(url, response)
        return response.status_code, response.content

    # -- sending -----------------------------------------------------------------------

    def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send a request with the credentials, again after a 429, 5xx or lost connection.

        Raises:
            FhirServerError: still failing after the retries, or the SMART token could
                not be had.
        """
        renewed = False
        attempt = 0
        while True:
            headers = {"Authorization": self._authorization()} if self._authorizes() else {}
            answer, wait = self._attempt(method, url, headers, kwargs, attempt)
            if isinstance(answer, httpx.Response):
                if answer.status_code == 401 and self._smart is not None and not renewed:
                    self._smart.forget()  # revoked or expired early: one new token
                    renewed = True
                    continue
                return answer
            attempt = self._wait(method, url, answer, wait, attempt)

    def _post_form(self, url: str, form: dict[str, str]) -> httpx.Response:
        """The token request: a form, with the retries but no credentials of its own."""
        attempt = 0
        while True:
            headers = {"Accept": "application/json"}
            answer, wait = self._attempt("POST", url, headers, {"data": form}, attempt)
            if isinstance(answer, httpx.Response):
                return answer
            attempt = self._wait("POST", url, answer, wait, attempt)

    def _attempt(
        self, method: str, url: str, headers: dict[str, str], kwargs: dict[str, Any], attempt: int
    ) -> tuple[httpx.Response | str, float]:
        """One try: the response to keep, or why to try again and how long to wait first."""
        backoff = min(self.config.max_backoff, self.config.backoff * 2**attempt)
        try:
            response = self._http.request(method, url, headers=headers, **kwargs)
        except httpx.TransportError as error:
            return f"the connection failed ({type(error).__name__}: {error})", backoff
        if response.status_code not in RETRIED:
            return response, 0.0
        said, _ = response_outcome(response.content)
        failure = f"the server answered {response.status_code} {response.reason_phrase}: {said}"
        after = _retry_after(response)
        return failure, min(self.config.max_backoff, after if after is not None else backoff)

    def _wait(self, method: str, url: str, failure: str, wait: float, attempt: int) -> int:
        """Wait before the next try; the try's number. After the last retry, fail.

        Raises:
            FhirServerError: the retries are spent.
        """
        if attempt >= self.config.retries:
            tries = attempt + 1
            raise FhirServerError(
                url,
                f"{failure} ({tries} time{'s' if tries > 1 else ''}: gave up after "
                f"{self.config.retries} retries)",
            )
        log.info("%s %s: %s; again in %.1f s", method, url, failure, wait)
        self._sleep(wait)
        return attempt + 1

    def _authorizes(self) -> bool:
        return self._bearer is not None or self._smart is not None

    def _authorization(self) -> str:
        if self._smart is not None:
            return self._smart.header()
        return self._bearer or ""

    # -- answers -----------------------------------------------------------------------

    def _refused(self, url: str, response: httpx.Response) -> Refused:
        said, _ = response_outcome(response.content)
        status = response.status_code
        if status in (401, 403) or status < 400 or status >= 500:
            raise FhirServerError(
                url, f"the server answered {status} {response.reason_phrase}: {said}"
            )
        return Refused(url, status, said, response.content.decode("utf-8", "replace"))

    def _next(self, url: str, bundle: Resource) -> str | None:
        for link in bundle.get("link") or []:
            if isinstance(link, dict) and link.get("relation") == "next" and link.get("url"):
                found = str(link["url"])
                if _origin(found) != self._origin:
                    raise FhirServerError(
                        url,
                        f"the next page is on another server ({found}): not followed, "
                        "so that the credentials go nowhere else",
                    )
                return found
        return None


def _bundle(url: str, response: httpx.Response) -> Resource:
    try:
        bundle = response.json()
    except ValueError:
        raise FhirServerError(url, "the answer is not JSON") from None
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise FhirServerError(url, "the answer is not a FHIR Bundle")
    return bundle


def _served_at(bundle: Resource, response: httpx.Response) -> str:
    meta = bundle.get("meta")
    if isinstance(meta, dict) and isinstance(meta.get("lastUpdated"), str):
        return str(meta["lastUpdated"])
    date = response.headers.get("Date")
    if date:
        try:
            return parsedate_to_datetime(date).isoformat()
        except (TypeError, ValueError):
            return ""
    return ""


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (a number, or an HTTP date), if the server sent it."""
    sent = response.headers.get("Retry-After", "").strip()
    if not sent:
        return None
    if sent.isdigit():
        return float(sent)
    try:
        when = parsedate_to_datetime(sent)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc
