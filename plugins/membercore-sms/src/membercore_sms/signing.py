"""The providers' request signatures: Aliyun ACS3-HMAC-SHA256, Tencent TC3-HMAC-SHA256.

Both follow the same plan: a canonical form of the request (method, path, query,
the signed headers, the body's SHA-256), hashed into a string to sign, signed with an
HMAC-SHA256 key derived from the secret. Neither secret leaves this module but as an
HMAC key; what goes on the wire is the key's id and the signature.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote

__all__ = [
    "ACS3",
    "TC3",
    "acs3_authorization",
    "canonical_query",
    "percent",
    "sha256_hex",
    "tc3_authorization",
]

ACS3 = "ACS3-HMAC-SHA256"
TC3 = "TC3-HMAC-SHA256"


def sha256_hex(data: bytes) -> str:
    """The lower-case hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def percent(text: str) -> str:
    """RFC 3986 percent-encoding of UTF-8 text.

    Only ``A-Za-z0-9-_.~`` stay as they are: a space is ``%20``, ``*`` is ``%2A``.
    """
    return quote(text, safe="-_.~")


def canonical_query(parameters: Mapping[str, str]) -> str:
    """The query string as both the URL and the signature carry it.

    Names and values percent-encoded (:func:`percent`), in the order of the encoded names.
    """
    pairs = sorted((percent(name), percent(value)) for name, value in parameters.items())
    return "&".join(f"{name}={value}" for name, value in pairs)


def _canonical_headers(
    headers: Mapping[str, str], *, lower_values: bool = False
) -> tuple[str, str]:
    """The canonical headers block and the signed headers list.

    Lower-case names in order, values trimmed (and lower-cased, for Tencent Cloud), one
    ``name:value`` line each.
    """
    lowered = sorted(
        (name.lower(), value.strip().lower() if lower_values else value.strip())
        for name, value in headers.items()
    )
    block = "".join(f"{name}:{value}\n" for name, value in lowered)
    return block, ";".join(name for name, _ in lowered)


def acs3_authorization(
    *,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    access_key_id: str,
    access_key_secret: str,
) -> str:
    """The ``Authorization`` header of an Aliyun request signed with ACS3-HMAC-SHA256.

    Args:
        method: the HTTP method, upper case.
        path: the request's path (``/``), as sent.
        query: the canonical query string (:func:`canonical_query`), as sent.
        headers: every header to sign: ``host``, each ``x-acs-*`` (with
            ``x-acs-content-sha256``, the body's hash) and ``content-type`` when there
            is a body; their values as sent.
        body: the request body (empty for parameters in the query).
        access_key_id: the AccessKey ID (named in the header).
        access_key_secret: the AccessKey secret (the HMAC key; never sent).
    """
    block, signed = _canonical_headers(headers)
    canonical_request = "\n".join([method, path or "/", query, block, signed, sha256_hex(body)])
    string_to_sign = f"{ACS3}\n{sha256_hex(canonical_request.encode('utf-8'))}"
    signature = _hmac(access_key_secret.encode("utf-8"), string_to_sign).hex()
    return f"{ACS3} Credential={access_key_id},SignedHeaders={signed},Signature={signature}"


def tc3_authorization(
    *,
    service: str,
    host: str,
    content_type: str,
    body: bytes,
    timestamp: int,
    secret_id: str,
    secret_key: str,
) -> str:
    """The ``Authorization`` header of a Tencent Cloud API 3.0 POST (TC3-HMAC-SHA256).

    It signs the ``content-type`` and ``host`` headers and the body.

    Args:
        service: the product (``sms``), the second part of the credential scope.
        host: the ``Host`` header as sent (``sms.tencentcloudapi.com``).
        content_type: the ``Content-Type`` header as sent.
        body: the JSON body.
        timestamp: the ``X-TC-Timestamp`` header's Unix seconds; its UTC date is the
            credential scope's date.
        secret_id: the SecretId (named in the header).
        secret_key: the SecretKey (the root of the derived key; never sent).
    """
    block, signed = _canonical_headers(
        {"content-type": content_type, "host": host}, lower_values=True
    )
    canonical_request = "\n".join(["POST", "/", "", block, signed, sha256_hex(body)])
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join(
        [TC3, str(timestamp), scope, sha256_hex(canonical_request.encode("utf-8"))]
    )
    key = _hmac(("TC3" + secret_key).encode("utf-8"), date)
    key = _hmac(key, service)
    key = _hmac(key, "tc3_request")
    signature = _hmac(key, string_to_sign).hex()
    return f"{TC3} Credential={secret_id}/{scope}, SignedHeaders={signed}, Signature={signature}"
