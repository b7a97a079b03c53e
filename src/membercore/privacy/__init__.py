"""Privacy: what erasing a person's data leaves, and how it is recognised later.

- :mod:`.scrubbing`: a :class:`Scrubber` rewrites JSON and text without a person's
  personal data: their ids become a pseudonym, their name, contact details and
  identifiers become :data:`ERASED`, free text and message bodies are blanked, a date of
  birth keeps its year.
- :func:`digest`: what an erasure keeps of each id, so that a later fact about the
  person is refused without the id being kept.
- :func:`erased_payload`: what stands for a raw payload erased (a person's, or one past
  its retention period).
"""

from __future__ import annotations

from membercore.privacy.scrubbing import (
    ERASED,
    EXPIRED,
    FREE_TEXT,
    PSEUDONYM,
    VARIABLES,
    Scrubber,
    digest,
    erased_payload,
    is_erased,
    is_pseudonym,
    pseudonym,
    unquoted,
)

__all__ = [
    "ERASED",
    "EXPIRED",
    "FREE_TEXT",
    "PSEUDONYM",
    "VARIABLES",
    "Scrubber",
    "digest",
    "erased_payload",
    "is_erased",
    "is_pseudonym",
    "pseudonym",
    "unquoted",
]
