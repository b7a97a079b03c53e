"""Making API tokens and staff accounts: the random parts, drawn from :mod:`secrets`.

The core's :mod:`membercore.access` writes, digests and checks secrets but draws no
random numbers; here the token ids, the tokens' random parts and the passwords' salts
are drawn. Whatever makes a token or an account (the ``membercore token`` and
``membercore staff`` commands, an API's administration) makes it here.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime

from membercore.access import SALT_BYTES, hash_password, token_digest, token_text
from membercore.ports import ApiToken, StaffAccount

__all__ = ["new_password_hash", "new_staff_account", "new_token"]

# 8 random bytes: ids of tokens made one at a time by hand never meet.
_ID_BYTES = 8
# 32 random bytes (256 bits) of secret, as secrets.token_urlsafe(32) gives them.
_SECRET_BYTES = 32


def new_token(name: str, scopes: Iterable[str], at: datetime) -> tuple[ApiToken, str]:
    """A new token and its secret: the secret is for showing once, and never kept.

    Args:
        name: what the token is for (``HIS integration``).
        scopes: what it may be used for (of :data:`~membercore.ports.SCOPES`).
        at: when it is made (aware).

    Returns:
        The token, holding its secret's digest, and the secret
        (``mc_<token id>_<random part>``).

    Raises:
        ValueError: the name is empty, a scope unknown, or ``at`` naive.
    """
    token_id = secrets.token_hex(_ID_BYTES)
    secret = token_text(token_id, secrets.token_urlsafe(_SECRET_BYTES))
    token = ApiToken(
        token_id=token_id,
        name=name,
        scopes=tuple(scopes),
        digest=token_digest(secret),
        created_at=at,
    )
    return token, secret


def new_password_hash(password: str) -> str:
    """The hash of ``password`` with a new random salt (:func:`~membercore.access.hash_password`).

    Raises:
        ValueError: the password is empty.
    """
    return hash_password(password, secrets.token_bytes(SALT_BYTES))


def new_staff_account(
    staff_id: str, name: str, role: str, password: str, at: datetime
) -> StaffAccount:
    """A new, active staff account whose password is ``password`` (kept only hashed).

    Raises:
        ValueError: a field is empty, the role unknown, or ``at`` naive.
    """
    return StaffAccount(
        staff_id=staff_id,
        name=name,
        role=role,
        password_hash=new_password_hash(password),
        created_at=at,
    )
