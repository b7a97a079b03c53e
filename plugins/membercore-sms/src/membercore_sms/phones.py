"""Mobile numbers as members' records write them, as each provider wants them, and back.

A hospital's records write a mainland number ``13800138000``, ``8613800138000``,
``+8613800138000``, ``0086 138-0013-8000``...: :func:`canonical` reads each as the one
E.164 number ``+8613800138000``. Aliyun takes a mainland number without its country code
(:func:`for_aliyun`), Tencent Cloud in E.164 (the canonical form itself).

A reply comes back from the number in the provider's own form; the programme finds the
messages it answers by the address they went to, written as the member's record wrote it.
:class:`AddressBook` remembers, for each number, how the last message to it wrote it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

__all__ = ["AddressBook", "canonical", "for_aliyun", "masked"]

_SEPARATORS = re.compile(r"[\s\-().]")
#: A mainland mobile number: 11 digits, the first a 1.
_MAINLAND = re.compile(r"1\d{10}")


def canonical(number: str) -> str | None:
    """The E.164 form of a mobile number (``+8613800138000``), or None if it is not one.

    Digits alone are read as a mainland number (11 digits from a 1) or a mainland number
    with its country code (``86`` then the 11); another country's number needs its ``+``
    or ``00`` to be told apart from a mistyped one.
    """
    written = _SEPARATORS.sub("", number.strip())
    if written.startswith("00"):
        written = "+" + written[2:]
    if written.startswith("+"):
        digits = written[1:]
        if not digits.isdigit():
            return None
        if digits.startswith("86"):
            return written if _MAINLAND.fullmatch(digits[2:]) else None
        # E.164: a country code and number, 15 digits at most; 7 at least in practice.
        return written if 7 <= len(digits) <= 15 and digits[0] != "0" else None
    if _MAINLAND.fullmatch(written):
        return "+86" + written
    if written.startswith("86") and _MAINLAND.fullmatch(written[2:]):
        return "+" + written
    return None


def for_aliyun(number: str) -> str:
    """A canonical number as Aliyun takes it.

    A mainland one bare (``13800138000``), another country's with its code and no ``+``
    (``85212345678``).
    """
    digits = number.removeprefix("+")
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


def masked(number: str) -> str:
    """A number as errors and logs show it: ``+86138****8000``."""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:-8] + "****" + number[-4:]


class AddressBook:
    """How the records wrote each number the channel sent to (the last way it was written).

    Safe to share between threads: a dispatcher learns what it sends, while the reports'
    reader looks the writing up.
    """

    def __init__(self) -> None:
        self._written: dict[str, str] = {}
        self._lock = threading.Lock()

    def learn(self, written: Iterable[str]) -> None:
        """Remember these addresses, as written, each under its canonical number."""
        with self._lock:
            for address in written:
                number = canonical(address)
                if number is not None:
                    self._written[number] = address

    def address(self, number: str) -> str:
        """How a message to ``number`` (in any form) wrote it; E.164 when none went to it."""
        known = canonical(number)
        if known is None:
            return number
        with self._lock:
            return self._written.get(known, known)
