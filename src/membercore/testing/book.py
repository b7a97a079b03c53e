"""A small in-memory book of ledgers for tests: decide, evolve and keep the journal.

It runs the pure deciders exactly as an application service would, for any number of
members, without storage::

    book = Book(reference_config())
    book.apply(fact, now)
    book.balances("p-1", now).available
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from membercore.config import ProgrammeConfig
from membercore.identity import MergeMembers
from membercore.ledger import (
    Balances,
    LedgerState,
    StatementLine,
    balances,
    decide,
    decide_merge,
    decide_transfer,
    evolve,
    statement,
)
from membercore.ledger.commands import TransferPoints
from membercore.ledger.events import Posting

__all__ = ["Book"]


class Book:
    """Ledgers of many members and their journals, for tests and examples.

    Args:
        config: the programme.
    """

    def __init__(self, config: ProgrammeConfig) -> None:
        self.config = config
        self.states: dict[str, LedgerState] = {}
        self.journal: list[Posting] = []

    def state(self, member_id: str) -> LedgerState:
        """The member's ledger (empty if they have none yet)."""
        return self.states.get(member_id) or LedgerState(member_id=member_id)

    def apply(self, message: Any, now: datetime, *, tier: str | None = None) -> list[Posting]:
        """Decide a fact or ledger command for its member and apply the postings."""
        member_id = getattr(message, "patient_id", None) or message.member_id
        postings = decide(message, self.state(member_id), self.config, now, tier=tier)
        self._record(postings)
        return postings

    def transfer(
        self, command: TransferPoints, now: datetime, *, household: Collection[str]
    ) -> list[Posting]:
        """Decide a transfer between two members and apply both sides."""
        postings = decide_transfer(
            command,
            self.state(command.member_id),
            self.state(command.target_id),
            self.config,
            now,
            household=household,
        )
        self._record(postings)
        return postings

    def merge(self, command: MergeMembers, now: datetime) -> list[Posting]:
        """Merge the duplicate record's ledger into the survivor's."""
        postings = decide_merge(
            command,
            self.state(command.member_id),
            self.state(command.duplicate_id),
            self.config,
            now,
        )
        self._record(postings)
        return postings

    def postings(self, member_id: str) -> list[Posting]:
        """The member's postings, in order."""
        return [posting for posting in self.journal if posting.member_id == member_id]

    def balances(self, member_id: str, now: datetime) -> Balances:
        """The member's balances at ``now``."""
        return balances(self.state(member_id), self.config, now)

    def statement(self, member_id: str) -> tuple[StatementLine, ...]:
        """The member's statement."""
        return statement(self.postings(member_id))

    def _record(self, postings: list[Posting]) -> None:
        for posting in postings:
            self.states[posting.member_id] = evolve(self.state(posting.member_id), posting)
            self.journal.append(posting)
