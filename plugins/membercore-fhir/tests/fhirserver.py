"""A small FHIR R4 server on loopback, for the tests: search, paging, bearer tokens, SMART.

It checks what it is sent as the FHIR and SMART specifications say, and answers with
what they describe:

- ``GET /fhir/<Type>`` searches by ``_lastUpdated`` (``ge``, ``gt``, ``le``, ``lt``),
  sorted by ``_sort=_lastUpdated`` (required: the source must ask for it), ``_count``
  resources a page, ``_include=<Type>:encounter`` (or ``:context``), paging by a
  ``next`` link; any other parameter is refused with a 400 and an OperationOutcome.
- ``POST /auth/token``: SMART Backend Services' client credentials grant; the client
  assertion's signature (RS384 or ES384, with the registered public key), ``iss`` and
  ``sub`` (the client id), ``aud`` (the token URL), ``exp`` (at most five minutes
  ahead), a ``jti`` never seen before, the grant and assertion types.
- With ``bearer`` or ``smart`` set, every FHIR request needs a valid token: else 401
  with an OperationOutcome.
- :meth:`FhirServer.fail` makes the next requests fail (429 with ``Retry-After``, 503,
  400 with an OperationOutcome).

Resources are stored as the server's own: each :meth:`FhirServer.put` gives a
resource a new ``meta.versionId`` and ``meta.lastUpdated`` (the server's clock, which
advances a millisecond each time, or an instant given: a resource made visible late).
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import attrs
import jwt

from membercore_fhir.server.watermark import canonical, parse_instant

SEARCH_PARAMETERS = {"_lastUpdated", "_sort", "_count", "_include", "_revinclude", "_offset"}
#: Search parameters naming a reference element otherwise than the element is named.
_ELEMENTS = {"based-on": "basedOn"}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def outcome(text: str, code: str = "invalid", severity: str = "error") -> dict[str, Any]:
    """An OperationOutcome with one issue."""
    issue = {"severity": severity, "code": code, "details": {"text": text}}
    return {"resourceType": "OperationOutcome", "issue": [issue]}


@attrs.define
class Smart:
    """A registered SMART backend client, and the tokens issued to it.

    Attributes:
        client_id: the registered client id.
        public_key: its public key (PEM).
        life: the tokens' ``expires_in``.
        uses: how many requests a token is good for (None: until it expires), to
            expire a token early, as a server that revokes it does.
    """

    client_id: str
    public_key: bytes
    life: int = 300
    uses: int | None = None
    scope: str = "system/*.read"
    tokens: dict[str, list[float | int | None]] = attrs.field(factory=dict)
    assertions: list[dict[str, Any]] = attrs.field(factory=list)
    jtis: set[str] = attrs.field(factory=set)


@attrs.frozen
class Seen:
    """A request the server received."""

    method: str
    path: str
    params: dict[str, list[str]]
    authorization: str


class FhirServer:
    """The server; use it as a context manager (it listens on 127.0.0.1, any free port)."""

    def __init__(
        self,
        *,
        bearer: str | None = None,
        smart: Smart | None = None,
        now: datetime = datetime(2026, 2, 1, 2, 0, tzinfo=UTC),
    ) -> None:
        self.bearer = bearer
        self.smart = smart
        self.now = now
        self.resources: dict[str, dict[str, dict[str, Any]]] = {}
        self.requests: list[Seen] = []
        #: An OperationOutcome each search of a type carries (``search.mode`` outcome).
        self.remarks: dict[str, dict[str, Any]] = {}
        #: Whether searches ignore ``_sort`` (newest first), as a careless server does.
        self.unsorted = False
        self._order: dict[tuple[str, str], int] = {}
        self._failures: deque[tuple[int, dict[str, str], bytes]] = deque()
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"

    @property
    def token_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/auth/token"

    def __enter__(self) -> FhirServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()

    # -- what the tests do -------------------------------------------------------------

    def put(self, resource: dict[str, Any], at: datetime | None = None) -> dict[str, Any]:
        """Store a resource (a new version of it), updated at ``at`` or the clock's next ms."""
        with self._lock:
            if at is None:
                self.now += timedelta(milliseconds=1)
                at = self.now
            self.now = max(self.now, at)
            kind, ident = resource["resourceType"], resource["id"]
            held = self.resources.setdefault(kind, {})
            version = int(held[ident]["meta"]["versionId"]) + 1 if ident in held else 1
            stored = {**resource, "meta": {"versionId": str(version), "lastUpdated": canonical(at)}}
            held[ident] = stored
            self._order[(kind, ident)] = len(self._order)
            return stored

    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next ``times`` FHIR requests with ``status`` (and an OperationOutcome)."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        sent = json.dumps(body or outcome(f"answered {status} on purpose", "transient"))
        for _ in range(times):
            self._failures.append((status, headers, sent.encode()))

    def searches(self, kind: str) -> list[Seen]:
        """The searches of a type the server received."""
        return [r for r in self.requests if r.path == f"/fhir/{kind}"]

    # -- answering ---------------------------------------------------------------------

    def answer(
        self, method: str, target: str, headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(target)
        params = parse_qs(parts.query, keep_blank_values=True)
        with self._lock:
            self.requests.append(Seen(method, parts.path, params, headers.get("Authorization", "")))
            if parts.path == "/auth/token" and method == "POST":
                return self._token(headers, body)
            if not parts.path.startswith("/fhir/"):
                return _json(404, outcome(f"no such path {parts.path}", "not-found"))
            if self._failures:
                return self._failures.popleft()
            refused = self._authorized(headers.get("Authorization", ""))
            if refused is not None:
                return refused
            if method != "GET":
                return _json(405, outcome(f"{method} is not supported", "not-supported"))
            return self._search(parts.path.removeprefix("/fhir/"), params)

    def _authorized(self, authorization: str) -> tuple[int, dict[str, str], bytes] | None:
        if self.bearer is None and self.smart is None:
            return None
        token = authorization.removeprefix("Bearer ")
        if self.bearer is not None and authorization == f"Bearer {self.bearer}":
            return None
        if self.smart is not None and token in self.smart.tokens:
            expires, uses = self.smart.tokens[token]
            if datetime.now(UTC).timestamp() < float(expires or 0) and (uses is None or uses > 0):
                if uses is not None:
                    self.smart.tokens[token][1] = int(uses) - 1
                return None
        refusal = outcome("the access token is missing, unknown or expired", "login")
        return (
            401,
            {
                "WWW-Authenticate": 'Bearer error="invalid_token"',
                "Content-Type": "application/fhir+json",
            },
            json.dumps(refusal).encode(),
        )

    def _search(self, kind: str, params: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        unknown = set(params) - SEARCH_PARAMETERS
        if unknown:
            return _json(
                400,
                outcome(
                    f"Unknown search parameter {sorted(unknown)[0]!r} for {kind}", "not-supported"
                ),
            )
        if params.get("_sort") != ["_lastUpdated"]:
            return _json(400, outcome("this test server needs _sort=_lastUpdated", "required"))
        count = int(params.get("_count", ["50"])[0])
        offset = int(params.get("_offset", ["0"])[0])
        matched = [
            r
            for r in self.resources.get(kind, {}).values()
            if all(_within(r, bound) for bound in params.get("_lastUpdated", []))
        ]
        matched.sort(
            key=lambda r: (parse_instant(r["meta"]["lastUpdated"]), self._order[(kind, r["id"])]),
            reverse=self.unsorted,
        )
        page = matched[offset : offset + count]
        entries = [_entry(self.base_url, r, "match") for r in page]
        for include in params.get("_include", []):
            entries += [_entry(self.base_url, r, "include") for r in self._included(page, include)]
        for include in params.get("_revinclude", []):
            entries += [
                _entry(self.base_url, r, "include") for r in self._citing(kind, page, include)
            ]
        if kind in self.remarks:
            entries.append({"resource": self.remarks[kind], "search": {"mode": "outcome"}})
        links = [
            {"relation": "self", "url": f"{self.base_url}/{kind}?{urlencode(params, doseq=True)}"}
        ]
        if offset + count < len(matched):
            following = {**params, "_offset": [str(offset + count)]}
            links.append(
                {
                    "relation": "next",
                    "url": f"{self.base_url}/{kind}?{urlencode(following, doseq=True)}",
                }
            )
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "meta": {"lastUpdated": canonical(self.now)},
            "total": len(matched),
            "link": links,
            "entry": entries,
        }
        return _json(200, bundle)

    def _included(self, page: list[dict[str, Any]], include: str) -> Iterator[dict[str, Any]]:
        _, _, parameter = include.partition(":")
        element = _ELEMENTS.get(parameter, parameter)
        seen: set[str] = set()
        for resource in page:
            named = resource.get(element) or {}
            for ref in [
                r.get("reference", "") for r in (named if isinstance(named, list) else [named])
            ]:
                kind, _, ident = ref.partition("/")
                found = self.resources.get(kind, {}).get(ident)
                if found is not None and ref not in seen:
                    seen.add(ref)
                    yield found

    def _citing(
        self, kind: str, page: list[dict[str, Any]], include: str
    ) -> Iterator[dict[str, Any]]:
        """The resources of ``include``'s type whose element names one of the page's."""
        citing, _, element = include.partition(":")
        named = {f"{kind}/{r['id']}" for r in page}
        for resource in self.resources.get(citing, {}).values():
            cited = resource.get(element) or []
            if any(r.get("reference") in named for r in cited if isinstance(r, dict)):
                yield resource

    def _token(  # noqa: PLR0911 (one answer per check the specification asks for)
        self, headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        smart = self.smart
        if smart is None:
            return _json(400, {"error": "invalid_request", "error_description": "no SMART here"})
        if form.get("grant_type") != "client_credentials":
            return _json(400, {"error": "unsupported_grant_type"})
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return _json(
                400, {"error": "invalid_request", "error_description": "client_assertion_type"}
            )
        if form.get("scope") != smart.scope:
            return _json(
                400, {"error": "invalid_scope", "error_description": form.get("scope", "")}
            )
        try:
            header = jwt.get_unverified_header(form.get("client_assertion", ""))
            claims = jwt.decode(
                form.get("client_assertion", ""),
                smart.public_key,
                algorithms=["RS384", "ES384"],
                audience=self.token_url,
                leeway=60,  # clock skew
                options={"require": ["iss", "sub", "aud", "exp", "jti"]},
            )
        except jwt.PyJWTError as error:
            return _json(401, {"error": "invalid_client", "error_description": str(error)})
        problem = None
        now = datetime.now(UTC).timestamp()
        if claims["iss"] != smart.client_id or claims["sub"] != smart.client_id:
            problem = "iss and sub must be the client id"
        elif claims["exp"] > now + 300 + 60:  # a minute of clock skew allowed
            problem = "exp is more than five minutes ahead"
        elif claims["jti"] in smart.jtis:
            problem = "jti was used before"
        elif header.get("typ") != "JWT":
            problem = "typ is not JWT"
        if problem is not None:
            return _json(401, {"error": "invalid_client", "error_description": problem})
        smart.jtis.add(claims["jti"])
        smart.assertions.append({**claims, "alg": header["alg"], "kid": header.get("kid")})
        token = secrets.token_hex(16)
        smart.tokens[token] = [now + smart.life, smart.uses]
        answer = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": smart.life,
            "scope": smart.scope,
        }
        return _json(200, answer, "application/json")


def _within(resource: dict[str, Any], bound: str) -> bool:
    prefix, value = bound[:2], parse_instant(bound[2:])
    at = parse_instant(resource["meta"]["lastUpdated"])
    assert value is not None, bound
    assert at is not None, resource
    return {
        "ge": at >= value,
        "gt": at > value,
        "le": at <= value,
        "lt": at < value,
    }[prefix]


def _entry(base: str, resource: dict[str, Any], mode: str) -> dict[str, Any]:
    url = f"{base}/{resource['resourceType']}/{resource['id']}"
    return {"fullUrl": url, "resource": resource, "search": {"mode": mode}}


def _json(
    status: int, body: object, kind: str = "application/fhir+json"
) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": kind}, json.dumps(body, ensure_ascii=False).encode()


def _handler(server: FhirServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, headers, sent = server.answer(method, self.path, self.headers, body)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(sent)))
            self.end_headers()
            self.wfile.write(sent)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet

    return Handler
