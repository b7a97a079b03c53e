"""Tokens and passwords: how a secret is written, digested, hashed and checked.

The pure parts of access to the programme (the records live in an
:class:`~membercore.ports.AccountStore`). Nothing here draws random numbers: a token's
random part and a password's salt are arguments, which
:mod:`membercore_adapters.access` draws from :mod:`secrets`.

**API tokens.** A token's secret is ``mc_<token id>_<random part>``: the prefix makes it
recognisable (in a configuration file, a log a secret scanner reads), the id finds its
row, and the random part (``secrets.token_urlsafe(32)``: 256 bits) is what makes it
secret. The store keeps only its SHA-256 digest (:func:`token_digest`). A fast digest is
enough for such a secret: a slow hash makes guessing a *low-entropy* secret costly, and
nobody guesses 256 random bits, fast or slow; a fast digest also lets every API request
be checked without a costly hash.

**Passwords.** People choose passwords, which can be guessed: they are hashed with
scrypt (``hashlib.scrypt``, memory-hard; n = 2**14, r = 8, p = 1, a 16-byte salt), into
a self-describing string in the PHC format, ``$scrypt$ln=14,r=8,p=1$<salt>$<hash>``
(base64 without padding), so that the parameters can be raised later and hashes made
before still verify (:func:`needs_rehash` says which to renew at the next sign-in).
Every comparison of a digest or a hash is in constant time (:func:`hmac.compare_digest`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from functools import cache
from typing import Final, Literal

from membercore.ports.accounts import AccountStore, ApiToken, StaffAccount

__all__ = [
    "KEY_BYTES",
    "SALT_BYTES",
    "SCRYPT_N",
    "SCRYPT_P",
    "SCRYPT_R",
    "TOKEN_PREFIX",
    "authenticate_staff",
    "authenticate_token",
    "authenticates",
    "hash_password",
    "needs_rehash",
    "signs_in",
    "token_digest",
    "token_id_of",
    "token_text",
    "verify_password",
    "who",
]

#: What every token's secret starts with.
TOKEN_PREFIX: Final = "mc_"
#: scrypt's parameters for new hashes: CPU/memory cost (a power of 2), block size,
#: parallelism. They take 16 MiB and some 50 ms a hash on the project's machine.
SCRYPT_N: Final = 2**14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
#: The salt's length, in bytes, for new hashes.
SALT_BYTES: Final = 16
#: The length of the derived key, in bytes.
KEY_BYTES: Final = 32

_TOKEN: Final = re.compile(r"mc_([a-z0-9]{1,64})_([A-Za-z0-9_-]+)")
_RANDOM: Final = re.compile(r"[A-Za-z0-9_-]+")
_HASH: Final = re.compile(
    r"\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)"
)
# Parameters read from a stored hash are held to what a sign-in can afford: a hash
# written with more (damaged, or made elsewhere) does not verify.
_MOST_LN: Final = 22
_MOST_MEMORY: Final = 1 << 30


# -- API tokens ---------------------------------------------------------------------------


def token_text(token_id: str, random_part: str) -> str:
    """The secret of a token: ``mc_<token_id>_<random_part>``.

    Args:
        token_id: the token's id (lower-case letters and digits, as
            :class:`~membercore.ports.ApiToken` takes it).
        random_part: the secret's random part, URL-safe base64 text
            (``secrets.token_urlsafe(32)``).

    Raises:
        ValueError: the id or the random part is not of its form.
    """
    secret = f"{TOKEN_PREFIX}{token_id}_{random_part}"
    if not _RANDOM.fullmatch(random_part) or token_id_of(secret) != token_id:
        raise ValueError("a token is mc_<id>_<random part>: the id lower-case letters and digits")
    return secret


def token_id_of(secret: str) -> str | None:
    """The id a token's secret carries, or None when it is not a token's secret."""
    found = _TOKEN.fullmatch(secret)
    return found.group(1) if found else None


def token_digest(secret: str) -> str:
    """The SHA-256 digest of a token's secret, as 64 lower-case hex digits: what is kept."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def authenticates(token: ApiToken | None, secret: str) -> bool:
    """Whether ``secret`` is the secret of ``token`` and the token is in force.

    False for no token, a revoked one, or a secret of another token; the digests are
    compared in constant time.
    """
    if token is None:
        return False
    matches = hmac.compare_digest(token_digest(secret), token.digest)
    return matches and token_id_of(secret) == token.token_id and not token.revoked


def authenticate_token(store: AccountStore, secret: str) -> ApiToken | None:
    """The token in force whose secret ``secret`` is, or None.

    The token is found by its digest; a text that is no token's secret, a revoked
    token's or an unknown one is refused alike (None).
    """
    if token_id_of(secret) is None:
        return None
    token = store.token_by_digest(token_digest(secret))
    return token if authenticates(token, secret) else None


def who(kind: Literal["staff", "system"], principal_id: str) -> str:
    """Who a look-up names (:attr:`~membercore.ports.Lookup.who`).

    A member of staff by their staff id (``hm-01``); a system by the id of the token it
    used, as ``token:<token_id>``, which no staff id is mistaken for.
    """
    return principal_id if kind == "staff" else f"token:{principal_id}"


# -- passwords ----------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def hash_password(
    password: str, salt: bytes, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P
) -> str:
    """The scrypt hash of ``password``, as ``$scrypt$ln=14,r=8,p=1$<salt>$<hash>``.

    Args:
        password: the password (not empty), hashed as UTF-8.
        salt: random bytes of its own for this hash (:data:`SALT_BYTES` of them:
            ``secrets.token_bytes(16)``).
        n: scrypt's cost, a power of 2 above 1.
        r: scrypt's block size.
        p: scrypt's parallelism.

    Raises:
        ValueError: the password or the salt is empty, or ``n`` is not a power of 2.
    """
    if not password:
        raise ValueError("a password must not be empty")
    if not salt:
        raise ValueError("a password's hash needs a salt")
    if n < 2 or n & (n - 1):
        raise ValueError(f"scrypt's n must be a power of 2 above 1, not {n}")
    key = _derive(password, salt, n, r, p)
    return f"$scrypt$ln={n.bit_length() - 1},r={r},p={p}${_b64(salt)}${_b64(key)}"


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    memory = 128 * r * (n + p + 2) + (1 << 20)
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=memory, dklen=KEY_BYTES
    )


def _parsed(encoded: str) -> tuple[int, int, int, bytes, bytes] | None:
    """``(n, r, p, salt, key)`` of a hash :func:`hash_password` wrote, or None."""
    found = _HASH.fullmatch(encoded)
    if found is None:
        return None
    ln, r, p = (int(found.group(i)) for i in (1, 2, 3))
    if not 1 <= ln <= _MOST_LN or r < 1 or p < 1 or 128 * r * (2**ln + p) > _MOST_MEMORY:
        return None
    try:
        salt, key = _unb64(found.group(4)), _unb64(found.group(5))
    except (binascii.Error, ValueError):
        return None
    return 2**ln, r, p, salt, key


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` is the one ``encoded`` (a :func:`hash_password` hash) was made of.

    The hash's own parameters are used, so a hash made with other ones still verifies;
    the keys are compared in constant time. A text that is not such a hash verifies
    nothing.
    """
    parsed = _parsed(encoded)
    if parsed is None or not password:
        return False
    n, r, p, salt, key = parsed
    return hmac.compare_digest(_derive(password, salt, n, r, p), key)


def needs_rehash(encoded: str) -> bool:
    """Whether a hash was made with other parameters than new hashes are (renew it)."""
    parsed = _parsed(encoded)
    if parsed is None:
        return True
    n, r, p, salt, key = parsed
    return (n, r, p, len(salt), len(key)) != (SCRYPT_N, SCRYPT_R, SCRYPT_P, SALT_BYTES, KEY_BYTES)


@cache
def _decoy() -> str:
    """A hash to verify against when there is no account, made once when first needed."""
    return hash_password("-", b"\0" * SALT_BYTES)


def signs_in(account: StaffAccount | None, password: str) -> bool:
    """Whether ``password`` signs in to ``account``: an active account, and its password.

    No account costs a hash too, so that the time an answer takes does not say which
    staff ids have accounts; a deactivated account is refused as no account is.
    """
    if account is None:
        verify_password(password, _decoy())
        return False
    return verify_password(password, account.password_hash) and account.active


def authenticate_staff(store: AccountStore, staff_id: str, password: str) -> StaffAccount | None:
    """The active account of ``staff_id`` if ``password`` is its password, else None.

    See :func:`signs_in`: an unknown staff id costs a hash too.
    """
    account = store.staff_account(staff_id)
    return account if signs_in(account, password) else None
