"""What the engine's calls report: an ingestion's counts, a tick's."""

from __future__ import annotations

import attrs

__all__ = ["IngestReport", "TickReport"]


@attrs.frozen
class IngestReport:
    """What an ingestion did.

    Attributes:
        applied: facts and commands taken (including those that changed nothing new).
        duplicates: facts already taken before (same id, same content).
        rejected: inputs refused, now in the dead letters with their reason.
        commits: transactions committed.
        retries: commits retried after a version conflict.
        refusals: each input refused, as its place among the inputs of the call (from
            0) and the reason its dead letter keeps, in the order the inputs came.
        duplicated: the places among the inputs of the call of the duplicates (a fact
            taken before, a command carried out before), in the order the inputs came;
            every other input not refused was applied. Reports compare by what they
            count and refuse: these places tell a caller which of its inputs were
            duplicates (the HTTP API answers each input so), and are left out of ``==``.
    """

    applied: int = 0
    duplicates: int = 0
    rejected: int = 0
    commits: int = 0
    retries: int = 0
    refusals: tuple[tuple[int, str], ...] = ()
    duplicated: tuple[int, ...] = attrs.field(default=(), eq=False)

    def __add__(self, other: IngestReport) -> IngestReport:
        return IngestReport(
            *(
                a + b
                for a, b in zip(
                    attrs.astuple(self, recurse=False),
                    attrs.astuple(other, recurse=False),
                    strict=True,
                )
            )
        )


@attrs.frozen
class TickReport:
    """What a tick did: records ticked and events decided."""

    records: int = 0
    events: int = 0
