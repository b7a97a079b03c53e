"""The one check of a commit every store makes, and what the commit leaves.

A store calls :func:`check_commit` before it writes anything: it refuses a commit that no store
could take (:class:`~membercore.errors.StorageError`), works out the version each record
must be at, and collapses the changes of each record into the state the commit leaves.
Then, with the stored versions in hand (read in its transaction, or under its lock), it
calls :meth:`CheckedCommit.check`, which refuses a change without a snapshot of a record that is
not stored and raises :class:`~membercore.errors.VersionConflictError` naming every key
whose version does not follow. What a store still does itself is only how it reads the
versions and writes the rows. The first-party stores make it; a backend of its own may
too.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import NamedTuple

import attrs

from membercore.errors import StorageError, VersionConflictError
from membercore.ports.stored import Commit, StoredEvent

__all__ = ["CheckedCommit", "Outcome", "check_commit"]


class Outcome(NamedTuple):
    """What a commit leaves of one record.

    Attributes:
        version: the record's version after the commit.
        snapshot: the latest snapshot the commit writes (None: the stored one is kept).
        snapshot_version: the version that snapshot is of.
        due_at: the record's next tick.
        manager: the member of staff who manages the record, if anyone.
    """

    version: int
    snapshot: str | None
    snapshot_version: int
    due_at: datetime | None
    manager: str | None = None


@attrs.define
class CheckedCommit:
    """A commit checked on its own: what it expects of the store, and what it leaves.

    Attributes:
        expected: per record, in the order of its first change, the version it must
            be stored at (0: not stored).
        chained: per record, the version a later change expected where it does not
            follow the change before it in the same commit (a conflict whatever is
            stored).
        bare: the records whose first change carries no snapshot: they must be stored,
            for the change keeps the stored snapshot.
        outcomes: per record, in the order of its first change, what the commit leaves.
        events: every event with its place in its change's events, in commit order.
    """

    expected: dict[str, int] = attrs.field(factory=dict)
    chained: dict[str, int] = attrs.field(factory=dict)
    bare: list[str] = attrs.field(factory=list)
    outcomes: dict[str, Outcome] = attrs.field(factory=dict)
    events: list[tuple[int, StoredEvent]] = attrs.field(factory=list)

    def check(self, url: str, stored: Mapping[str, int], *, taken: Collection[str] = ()) -> None:
        """Refuse the commit unless every record is at the version it expects.

        Args:
            url: the store's URL, for the errors.
            stored: the version of each record the commit changes that is stored (a
                record not stored is left out).
            taken: records the commit expected to create that another writer created
                meanwhile (stored, at a version the store did not read).

        Raises:
            StorageError: a change without a snapshot of a record that is not stored.
            VersionConflictError: naming every conflicting record with the version the
                commit expected of it.
        """
        for key in self.bare:
            if key not in stored:
                raise StorageError(url, f"the new record {key} needs a snapshot")
        conflicts = dict(self.chained)
        for key, expected in self.expected.items():
            if stored.get(key, 0) != expected or key in taken:
                conflicts[key] = expected
        if conflicts:
            raise VersionConflictError(url, conflicts)


def check_commit(url: str, commit: Commit) -> CheckedCommit:
    """Check ``commit`` on its own and work out what it leaves.

    The changes of one record chain: each expects the version the one before it makes.
    A change expecting version 0 creates its record, so it carries a snapshot; each of
    a change's events belongs to its record and the version the change makes.

    Args:
        url: the store's URL, for the errors.
        commit: the commit.

    Returns:
        The checked commit: the versions to check (:meth:`CheckedCommit.check`) and
        the rows to write.

    Raises:
        StorageError: a change expecting version 0 has no snapshot, or an event does not
            belong to its change; nothing may be written.
    """
    checked = CheckedCommit()
    outcomes = checked.outcomes
    for change in commit.changes:
        key = change.key
        version = change.expected_version + 1
        snapshot, snapshot_version = change.snapshot, version
        if snapshot is None and change.expected_version == 0:
            raise StorageError(url, f"the new record {key} needs a snapshot")
        before = outcomes.get(key)
        if before is None:
            checked.expected[key] = change.expected_version
            if snapshot is None:
                checked.bare.append(key)
        else:
            if before.version != change.expected_version:
                checked.chained[key] = change.expected_version
            if snapshot is None:  # an earlier change of this commit wrote the latest
                snapshot, snapshot_version = before.snapshot, before.snapshot_version
        outcomes[key] = Outcome(version, snapshot, snapshot_version, change.due_at, change.manager)
        for seq, event in enumerate(change.events):
            if event.key != key or event.version != version:
                raise StorageError(
                    url,
                    f"event {event.type!r} of {event.key} v{event.version} does not "
                    f"belong to the change of {key} to v{version}",
                )
            checked.events.append((seq, event))
    return checked
