"""A registration's addresses as the HIS writes them: what a connector takes, what it skips.

HIS records hold a patient's telephone numbers and e-mail addresses as staff typed them:
``13800138000``, ``+86 138-0013-8000``, ``(206)3345232``, ``wang@163.com``, and in the
same fields placeholders (``N/A``, ``无``, ``-``, ``0``). The connectors keep an address
as it is written, trimmed (the channels read each form: see ``membercore-sms``'s
``canonical``), and leave out what is plainly no address, so that a registration
without one stays as it was. Which of several numbers a registration gives is the
connector's to choose; each prefers a mobile (:func:`is_mainland_mobile` tells one the
source does not mark).
"""

from __future__ import annotations

import re

__all__ = ["is_mainland_mobile", "mainland_mobile", "written_email", "written_phone"]

_SEPARATORS = re.compile(r"[\s\-().]")
#: A mainland mobile number: 11 digits, the first a 1.
_MAINLAND = re.compile(r"1\d{10}")
#: Something, an @, and a domain with a dot in it; no spaces.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def written_phone(text: str | None) -> str | None:
    """A telephone number as written, trimmed; None when it is none.

    A value without a digit (``N/A``, ``无``, ``-``), of zeros alone (``0``,
    ``00000000000``: a HIS's "not known") or holding an ``@`` (an e-mail address in a
    number's field) is none.
    """
    written = (text or "").strip()
    digits = [char for char in written if char.isdigit()]
    if not digits or set(digits) == {"0"} or "@" in written:
        return None
    return written


def written_email(text: str | None) -> str | None:
    """An e-mail address as written, trimmed; None when it is none (no ``@``, a space in it)."""
    written = (text or "").strip()
    return written if _EMAIL.fullmatch(written) else None


def is_mainland_mobile(number: str) -> bool:
    """Whether ``number`` is a mainland mobile number, however written.

    Eleven digits from a 1 (``13800138000``, ``138-0013-8000``), with or without the
    country code (``+86``, ``0086``, ``86``).
    """
    return mainland_mobile(number) is not None


def mainland_mobile(number: str) -> str | None:
    """A mainland mobile number's eleven digits (``13800138000``), however written; or None."""
    written = _SEPARATORS.sub("", number.strip())
    for prefix in ("+86", "0086", "86"):
        rest = written.removeprefix(prefix)
        if rest != written and _MAINLAND.fullmatch(rest):
            return rest
    return written if _MAINLAND.fullmatch(written) else None
