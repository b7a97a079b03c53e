"""What the SQL stores' tests of accounts share: a store migrated to keep them, secrets."""

from __future__ import annotations

from collections.abc import Callable

from membercore.access import authenticate_staff, authenticate_token
from membercore.ports import AccountStore, Lookup, Store
from membercore.testing.contracts import T0
from membercore.testing.contracts.accounts import lookup_of
from membercore.testing.contracts.builders import MINUTE
from membercore_adapters.access import new_staff_account, new_token

__all__ = ["PASSWORD", "keeps_accounts_after_migrating", "keeps_no_secret"]

#: A staff member's password, which no store may keep as it is.
PASSWORD = "晨光-Ward7-随访!"


def keeps_accounts_after_migrating(store: Store) -> None:
    """A store migrated from before accounts holds none, keeps what it held, and takes them.

    The store held :func:`~membercore.testing.contracts.every_table` at ``member:p-1``.
    """
    assert isinstance(store, AccountStore)
    assert store.load(["member:p-1"])["member:p-1"].snapshot == '{"points":1}'
    assert [e.version for e in store.events("member:p-1")] == [1]
    assert len(list(store.outbox())) == len(list(store.dead_letters())) == 1
    assert [task.task_key for task in store.tasks(None)] == ["task-member:p-1"]
    assert store.position("source-member:p-1") == "1"
    assert list(store.tokens()) == list(store.staff_accounts()) == list(store.lookups()) == []
    token, secret = new_token("HIS integration", ["ingest"], T0)
    store.add_token(token)
    store.save_staff_account(new_staff_account("hm-01", "王健康", "health_manager", PASSWORD, T0))
    store.record_lookup(lookup_of("p-1", at=T0 + MINUTE))
    assert authenticate_token(store, secret) == token
    assert authenticate_staff(store, "hm-01", PASSWORD) is not None
    assert [lookup.member_id for lookup in store.lookups(who="hm-01")] == ["p-1"]


def keeps_no_secret(store: AccountStore, stored: Callable[[], bytes]) -> None:
    """What the store writes holds no token's secret and no password, only their digests.

    Args:
        store: the store, empty of accounts.
        stored: every byte the store has written (its files, or its tables' text).
    """
    token, secret = new_token("HIS integration", ["ingest", "read"], T0)
    store.add_token(token)
    store.save_staff_account(new_staff_account("hm-01", "王健康", "health_manager", PASSWORD, T0))
    store.record_lookup(Lookup(at=T0, who="hm-01", member_id="p-1", purpose="call", via="api"))
    written = stored()
    # Nothing of a secret's value reaches the assertions: a failure says only which.
    found = token.digest.encode() in written  # the bytes are the store's, found by it
    assert found, "the token's digest is not where the store writes"
    plain = {
        "the token's secret": secret.encode(),
        "its random part": secret.split("_", 2)[2].encode(),
        "the password": PASSWORD.encode("utf-8"),
    }
    leaked = [name for name, text in plain.items() if text in written]
    assert leaked == []
