"""SMART Backend Services: an access token for a client that signs in with its own key.

The hospital registers membercore with its authorization server as a backend client:
a client id and the public half of a key (RSA for RS384, EC P-384 for ES384). To get an
access token, membercore signs a short-lived JWT (the *client assertion*: ``iss`` and
``sub`` its client id, ``aud`` the token URL, ``exp`` five minutes at most ahead, a
``jti`` never used before) and sends it with the client credentials grant::

    grant_type=client_credentials
    scope=system/*.read
    client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
    client_assertion=<the signed JWT>

The token is kept until shortly before it expires (a tenth of its life, at most a
minute), then another is asked for; a server that refuses a token earlier (401) gets a
new one once. PyJWT signs the assertion, with the cryptography package's keys.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from membercore.errors import ConfigError
from membercore_fhir.server.config import SmartBackend
from membercore_fhir.server.outcomes import FhirServerError, response_outcome

__all__ = ["ASSERTION_LIFETIME", "ASSERTION_TYPE", "SmartTokens", "load_private_key"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: How long an assertion is valid (SMART allows five minutes at most).
ASSERTION_LIFETIME = 300
#: A token is renewed this long before it expires, at most.
_MARGIN = 60.0

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
#: Posts a form to a URL (with the client's retries) and returns the response.
Post = Callable[[str, dict[str, str]], httpx.Response]


def load_private_key(settings: SmartBackend) -> PrivateKey:
    """The private key the settings name (a PEM file, or an environment variable).

    Raises:
        ConfigError: the key is missing, not a PEM private key, or not of the
            algorithm's kind (RSA for RS384, EC P-384 for ES384); never showing it.
        OSError: the key file cannot be read.
    """
    if settings.private_key_file is not None:
        key, pem = "fhir_server.auth.private_key_file", Path(settings.private_key_file).read_bytes()
    else:
        key = "fhir_server.auth.private_key_env"
        named = settings.private_key_env or ""
        if not os.environ.get(named):
            raise ConfigError(key, f"the environment variable {named} is not set")
        pem = os.environ[named].encode()
    try:
        loaded = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise ConfigError(key, "not an unencrypted PEM private key") from None
    if settings.algorithm == "RS384" and not isinstance(loaded, rsa.RSAPrivateKey):
        raise ConfigError(key, "RS384 signs with an RSA key; this key is not one")
    if settings.algorithm == "ES384" and not (
        isinstance(loaded, ec.EllipticCurvePrivateKey) and loaded.curve.name == "secp384r1"
    ):
        raise ConfigError(key, "ES384 signs with an EC P-384 key; this key is not one")
    return loaded  # type: ignore[return-value]


class SmartTokens:
    """Access tokens from a SMART Backend Services authorization server, kept until due.

    Args:
        settings: the client's registration.
        key: its private key.
        post: sends the token request (with the client's retries).
        clock: the time in seconds since the epoch (the assertion's ``exp``, the
            token's expiry).
    """

    def __init__(
        self,
        settings: SmartBackend,
        key: PrivateKey,
        post: Post,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._key = key
        self._post = post
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0

    def __repr__(self) -> str:  # never the key or the token
        return f"SmartTokens(client_id={self.settings.client_id!r})"

    def header(self) -> str:
        """The ``Authorization`` header's value, asking for a token when none is valid.

        Raises:
            FhirServerError: the authorization server refused, or could not be read.
        """
        if self._token is None or self._clock() >= self._renew_at:
            self._token, self._renew_at = self._request()
        return f"Bearer {self._token}"

    def forget(self) -> None:
        """Drop the token (the server refused it): the next header asks for another."""
        self._token = None

    def assertion(self) -> str:
        """A freshly signed client assertion."""
        now = int(self._clock())
        claims = {
            "iss": self.settings.client_id,
            "sub": self.settings.client_id,
            "aud": self.settings.token_url,
            "exp": now + ASSERTION_LIFETIME,
            "iat": now,
            "jti": uuid.uuid4().hex,
        }
        headers: dict[str, Any] = {"typ": "JWT"}
        if self.settings.key_id:
            headers["kid"] = self.settings.key_id
        return jwt.encode(claims, self._key, algorithm=self.settings.algorithm, headers=headers)

    def _request(self) -> tuple[str, float]:
        url = self.settings.token_url
        form = {
            "grant_type": "client_credentials",
            "scope": self.settings.scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.assertion(),
        }
        asked = self._clock()
        response = self._post(url, form)
        if response.status_code != 200:
            said, _ = response_outcome(response.content)
            raise FhirServerError(
                url,
                f"the authorization server refused the token request "
                f"({response.status_code} {response.reason_phrase}): {said}",
            )
        try:
            answer = response.json()
            token = answer["access_token"]
            life = float(answer.get("expires_in", ASSERTION_LIFETIME))
        except (ValueError, KeyError, TypeError):
            raise FhirServerError(url, "the token response holds no access_token") from None
        if not isinstance(token, str) or not token:
            raise FhirServerError(url, "the token response holds no access_token")
        return token, asked + life - min(_MARGIN, life / 10)
