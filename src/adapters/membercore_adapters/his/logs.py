"""What a source's read logs: how much it read, from where to where, and what it refused.

Every first-party source (and the plugins' file, view and server sources) passes the
inputs it reads through :func:`logged_read`, which logs under
``membercore.source.<name>`` (``membercore.source.jsonl``, ``membercore.source.hl7v2``):

- at INFO, once a read ends: the inputs read, how many the source refused, from which
  position to which, and the time spent in the source itself (not in whoever takes its
  inputs), in milliseconds. A read that found nothing new says so at DEBUG, so that a
  worker polling a quiet file every few seconds does not fill the log;
- at DEBUG, each input the source refused: its place (a line number, a message's
  control id, a view's row) and the reason, with every quoted value replaced by
  ``'…'`` (:func:`masked`): a reason quotes the cell or field it could not read, which
  may be a patient's name or telephone number. The dead letter keeps the reason whole.

Nothing else of an input is logged, at any level.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Collection, Iterable, Iterator
from typing import Final, TypeVar

from membercore.ports import REACHED, Positioned, Unreadable

__all__ = ["logged_read", "masked", "source_log"]

T = TypeVar("T")

# A quoted value: 'like this' or "like this" (as repr writes it), not an apostrophe
# inside a word (the row's, patients').
_QUOTED: Final = re.compile(r"""(?<!\w)(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")(?!\w)""")
# A run of digits as long as a mobile number or an identity card's, quoted or not.
_LONG_NUMBER: Final = re.compile(r"\d{11,}[\dXx]?")
#: The longest position logged whole (a views file's carries every view's watermark).
_POSITION: Final = 200


def source_log(name: str) -> logging.Logger:
    """The logger of the source ``name``: ``membercore.source.<name>``."""
    return logging.getLogger(f"membercore.source.{name}")


def masked(reason: str, keep: Collection[str] = ()) -> str:
    """``reason`` with each quoted value, and each long run of digits, replaced by ``…``.

    Args:
        reason: why an input was refused (``column '金额' (amount): '12.345' yuan is
            finer than a fen``).
        keep: quoted names to keep as they are: the columns a mapping reads, which say
            where the problem is and are no patient's.
    """

    def mask(found: re.Match[str]) -> str:
        quoted = found.group(0)
        return quoted if quoted[1:-1] in keep else f"{quoted[0]}…{quoted[0]}"

    return _LONG_NUMBER.sub("…", _QUOTED.sub(mask, reason))


def logged_read(
    name: str,
    inputs: Iterable[T],
    *,
    what: str,
    after: str | None,
    keep: Collection[str] = (),
) -> Iterator[T]:
    """``inputs`` as they come, logging what the read did once it ends.

    Args:
        name: the source's name (its logger's last part).
        inputs: what the source reads: :class:`~membercore.ports.Positioned` inputs, or
            ``(instant, Positioned)`` pairs.
        what: what is read, for a person (a file's path, a server's address); never
            anything that may hold a password.
        after: the position the read starts after (None: the start).
        keep: the quoted names a refusal's reason keeps (see :func:`masked`).
    """
    log = source_log(name)
    read = refused = 0
    spent = 0.0
    reached: str | None = None
    ended = "failed"
    found = iter(inputs)
    try:
        while True:
            started = time.perf_counter()
            try:
                item = next(found)
            except StopIteration:
                ended = "read"
                return
            finally:
                spent += time.perf_counter() - started
            positioned = _positioned(item)
            if positioned is not None:
                reached = positioned.position
                if positioned.raw is not REACHED:
                    read += 1
                if isinstance(positioned.raw, Unreadable):
                    refused += 1
                    if log.isEnabledFor(logging.DEBUG):
                        log.debug(
                            "%s refused: %s", positioned.named, masked(positioned.raw.reason, keep)
                        )
            else:
                read += 1
            yield item
    except GeneratorExit:
        ended = "stopped"
        raise
    finally:
        close = getattr(found, "close", None)
        if callable(close):
            close()
        level = logging.INFO if read and ended != "failed" else logging.DEBUG
        log.log(
            level,
            "%s %d inputs (%d refused) from %s, after %s, to %s, in %d ms",
            {"read": "read", "stopped": "stopped after", "failed": "failed after"}[ended],
            read,
            refused,
            what,
            _shown(after) if after else "the start",
            _shown(reached) if reached is not None else "where it started",
            round(spent * 1000),
        )


def _positioned(item: object) -> Positioned | None:
    """The positioned input ``item`` is or carries (a command comes with its instant)."""
    if isinstance(item, Positioned):
        return item
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Positioned):
        return item[1]
    return None


def _shown(position: str) -> str:
    """A position as logged: whole, or its start when it is very long."""
    return position if len(position) <= _POSITION else f"{position[:_POSITION]}…"
