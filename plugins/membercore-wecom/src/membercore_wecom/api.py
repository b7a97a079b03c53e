"""WeCom's server API: access tokens fetched, cached and refreshed; secrets kept out of sight.

WeCom authenticates every call with an access token in the URL's query
(``?access_token=...``), got from ``GET /cgi-bin/gettoken?corpid=...&corpsecret=...`` —
the secret in a query too. httpx logs each request's URL at INFO, and an error may quote
it; so the URLs the client builds never hold either: each request carries its
credentials in an extension, and :class:`_CredentialTransport`, below httpx's logging,
adds them to the URL that goes on the wire. What httpx logs, and every error it raises,
names the URL without them.

Tokens are cached per corp id and secret (a secret may serve two roles, the customer
contact one and the app's), fetched again a margin before WeCom's ``expires_in`` runs
out, and once more when WeCom says a token is stale (40014, 41001, 42001): then the call
is made again, once.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import httpx

from membercore_wecom.errcodes import Action, WeComError

__all__ = ["DEFAULT_BASE_URL", "Secret", "WeComApi", "WeComUnreachableError"]

DEFAULT_BASE_URL = "https://qyapi.weixin.qq.com"
#: A token is fetched again this long before WeCom said it expires (half its life when
#: that is shorter), so no call goes out with one about to lapse.
REFRESH_MARGIN = 300.0
#: The request extension holding query parameters that must not be seen.
_HIDDEN = "membercore_wecom.hidden_query"


class WeComUnreachableError(Exception):
    """WeCom could not be reached (a timeout, a refused connection): retried with back-off.

    Its message names the API and the kind of failure, never a URL (whose query holds
    the token).
    """


class Secret:
    """A credential read from the environment: held, never shown.

    Its ``repr`` and ``str`` name only where it came from.
    """

    __slots__ = ("_source", "_value")

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self._source = source

    def reveal(self) -> str:
        """The value itself, for the one request that needs it."""
        return self._value

    @property
    def fingerprint(self) -> str:
        """A digest naming the secret in caches (never the value)."""
        return hashlib.sha256(self._value.encode("utf-8")).hexdigest()

    def __repr__(self) -> str:
        return f"Secret(from ${self._source})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class _CredentialTransport(httpx.BaseTransport):
    """Adds a request's hidden query parameters to its URL as it goes on the wire.

    httpx logs the request it was handed, and raises errors naming it; the request this
    transport sends on is a copy that neither logs nor errors see.
    """

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        hidden: Mapping[str, str] = request.extensions.get(_HIDDEN) or {}
        if not hidden:
            return self._inner.handle_request(request)
        extensions = {key: value for key, value in request.extensions.items() if key != _HIDDEN}
        wire = httpx.Request(
            request.method,
            request.url.copy_merge_params(dict(hidden)),
            headers=request.headers,
            stream=request.stream,
            extensions=extensions,
        )
        return self._inner.handle_request(wire)

    def close(self) -> None:
        self._inner.close()


@attrs.define
class _Token:
    value: str
    refresh_at: float


class WeComApi:
    """One corp's WeCom server API.

    Args:
        corp_id: the corp id (企业ID).
        base_url: WeCom's API root (a loopback server in tests).
        timeout: seconds a request may take.
        transport: the HTTP transport underneath (a test's, or httpx's own).
        monotonic: the clock tokens age by.
    """

    def __init__(
        self,
        corp_id: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.corp_id = corp_id
        self._monotonic = monotonic
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=_CredentialTransport(transport or httpx.HTTPTransport()),
            headers={"Accept": "application/json"},
        )
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._lock = threading.Lock()
        #: Every secret and token this client held, to take out of what WeCom says.
        self._shown: set[str] = set()

    def __repr__(self) -> str:
        return f"WeComApi(corp_id={self.corp_id!r})"

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def get(self, api: str, secret: Secret, params: Mapping[str, str] | None = None) -> Any:
        """Call a GET API with ``secret``'s token; its answer's JSON.

        Raises:
            WeComError: WeCom answered with an error code (after refreshing a stale
                token once), or not with its JSON.
            WeComUnreachableError: WeCom could not be reached.
        """
        return self._call("GET", api, secret, params=params)

    def post(self, api: str, secret: Secret, body: Mapping[str, Any]) -> Any:
        """Call a POST API with ``secret``'s token and a JSON body; its answer's JSON.

        Raises:
            WeComError: WeCom answered with an error code (after refreshing a stale
                token once), or not with its JSON.
            WeComUnreachableError: WeCom could not be reached.
        """
        return self._call("POST", api, secret, body=body)

    def redact(self, text: str) -> str:
        """``text`` with every secret and token this client held replaced by ``***``."""
        for shown in sorted(self._shown, key=len, reverse=True):
            text = text.replace(shown, "***")
        return text

    def token(self, secret: Secret, *, fresh: bool = False) -> str:
        """The access token for ``secret``: the cached one, or a new one.

        Args:
            secret: the secret it is got with.
            fresh: fetch a new one even if the cached one has not run out.

        Raises:
            WeComError: WeCom refused the corp id or the secret.
            WeComUnreachableError: WeCom could not be reached.
        """
        key = (self.corp_id, secret.fingerprint)
        with self._lock:
            cached = self._tokens.get(key)
            if cached is not None and not fresh and self._monotonic() < cached.refresh_at:
                return cached.value
            self._shown.add(secret.reveal())
            asked = self._monotonic()
            answer = self._answer(
                "gettoken",
                self._send(
                    "gettoken",
                    "GET",
                    params={"corpid": self.corp_id},
                    hidden={"corpsecret": secret.reveal()},
                ),
            )
            value = answer.get("access_token")
            if not isinstance(value, str) or not value:
                raise WeComError("gettoken", None, "the answer holds no access_token")
            self._shown.add(value)
            lifetime = answer.get("expires_in")
            if not isinstance(lifetime, int | float) or lifetime <= 0:
                lifetime = 7200
            margin = min(REFRESH_MARGIN, lifetime / 2)
            self._tokens[key] = _Token(value, asked + lifetime - margin)
            return value

    def _call(
        self,
        method: str,
        api: str,
        secret: Secret,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        fresh = False
        while True:
            token = self.token(secret, fresh=fresh)
            response = self._send(
                api, method, params=params, body=body, hidden={"access_token": token}
            )
            try:
                return self._answer(api, response)
            except WeComError as error:
                if error.action is Action.REFRESH and not fresh:
                    fresh = True
                    continue
                raise

    def _send(
        self,
        api: str,
        method: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        hidden: Mapping[str, str],
    ) -> httpx.Response:
        try:
            return self._http.request(
                method,
                f"/cgi-bin/{api}",
                params=dict(params or {}),
                content=None if body is None else _json_bytes(body),
                headers=None if body is None else {"Content-Type": "application/json"},
                extensions={_HIDDEN: dict(hidden)},
            )
        except httpx.HTTPError as error:
            # httpx's words name no URL; the chained error is left out all the same.
            raise WeComUnreachableError(f"WeCom {api}: {type(error).__name__}") from None

    def _answer(self, api: str, response: httpx.Response) -> dict[str, Any]:
        """The JSON of WeCom's answer, if its errcode is 0.

        Raises:
            WeComError: an error code, or an answer that is not WeCom's JSON.
        """
        if response.status_code != httpx.codes.OK:
            raise WeComError(api, None, f"HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            raise WeComError(api, None, "the answer is not JSON") from None
        if not isinstance(answer, dict):
            raise WeComError(api, None, "the answer is not a JSON object")
        errcode = answer.get("errcode", 0)
        if not isinstance(errcode, int) or isinstance(errcode, bool):
            raise WeComError(api, None, "the answer's errcode is not a number")
        if errcode != 0:
            raise WeComError(api, errcode, self.redact(str(answer.get("errmsg", ""))))
        return answer


def _json_bytes(body: Mapping[str, Any]) -> bytes:
    # WeCom reads UTF-8 JSON; Chinese text is sent as itself, not \u escapes (WeCom
    # refuses some of those: errcode 40033).
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
