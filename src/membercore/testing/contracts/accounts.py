"""The contract of the accounts capability: API tokens, staff accounts, look-ups.

A store need not keep accounts (:class:`~membercore.ports.AccountStore` is optional);
one that does runs this contract beside ``StoreContract``, with the same ``store``
fixture::

    class TestMyStoreAccounts(AccountsContract):
        @pytest.fixture
        def store(self, tmp_path):
            store = MyStore.open(f"my:///{tmp_path}/db")
            yield store
            store.close()

:func:`token_of`, :func:`staff_of` and :func:`lookup_of` build the rows it keeps, for a
backend's own tests too.
"""

# The suite's test names read as sentences and are their own documentation, as the
# project's tests are (whose D rules are off for the same reason).
# ruff: noqa: D102

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore.errors import NaiveInstantError, StorageError
from membercore.ports import AccountStore, ApiToken, Lookup, StaffAccount
from membercore.testing.contracts.base import Contract
from membercore.testing.contracts.builders import (
    EXAMPLES,
    MINUTE,
    SHANGHAI,
    T0,
    examples,
    is_utc,
)

__all__ = ["AccountsContract", "lookup_of", "staff_of", "token_of"]

#: Stands in for a scrypt hash: the store keeps the text it is given.
_HASH = "$scrypt$ln=14,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"


def token_of(
    token_id: str,
    *,
    name: str = "HIS integration",
    scopes: tuple[str, ...] = ("ingest", "read"),
    created_at: datetime = T0,
) -> ApiToken:
    """A token in force, its digest made from its id (each id its own digest)."""
    digest = hashlib.sha256(f"secret of {token_id}".encode()).hexdigest()
    return ApiToken(
        token_id=token_id, name=name, scopes=scopes, digest=digest, created_at=created_at
    )


def staff_of(
    staff_id: str,
    *,
    name: str = "王健康",
    role: str = "health_manager",
    active: bool = True,
    created_at: datetime = T0,
) -> StaffAccount:
    """A staff account (its password hash a stand-in: the store only keeps it)."""
    return StaffAccount(
        staff_id=staff_id,
        name=name,
        role=role,
        password_hash=_HASH,
        active=active,
        created_at=created_at,
    )


def lookup_of(
    member_id: str,
    who: str = "hm-01",
    *,
    at: datetime = T0,
    purpose: str = "随访电话 follow-up call",
    via: str = "console",
) -> Lookup:
    """A look-up of ``member_id``'s record."""
    return Lookup(at=at, who=who, member_id=member_id, purpose=purpose, via=via)


def _members(lookups: Iterable[Lookup]) -> list[str]:
    return [lookup.member_id for lookup in lookups]


# Text a store must keep as it is: any character, the ones databases treat apart too.
_TEXT = st.text(min_size=1).filter(str.strip)


class AccountsContract(Contract):
    """What every :class:`~membercore.ports.AccountStore` does."""

    role = AccountStore

    # -- nothing yet ------------------------------------------------------------------------

    def test_an_empty_store_keeps_no_account(self, store: AccountStore) -> None:
        assert list(store.tokens()) == []
        assert store.token("a1") is None
        assert store.token_by_digest(token_of("a1").digest) is None
        assert list(store.staff_accounts()) == []
        assert store.staff_account("hm-01") is None
        assert list(store.lookups()) == []

    # -- API tokens -------------------------------------------------------------------------

    def test_a_token_is_found_by_its_id_and_by_its_digest(self, store: AccountStore) -> None:
        token = token_of("a1", scopes=("read", "admin", "ingest"))
        store.add_token(token)
        store.add_token(token_of("b2"))
        assert store.token("a1") == token
        assert store.token_by_digest(token.digest) == token
        assert store.token("c3") is None
        assert store.token_by_digest(token_of("c3").digest) is None
        assert token.scopes == ("ingest", "read", "admin")  # each once, in SCOPES' order

    def test_a_token_whose_id_or_digest_is_stored_is_refused_and_the_first_kept(
        self, store: AccountStore
    ) -> None:
        first = token_of("a1")
        store.add_token(first)
        with pytest.raises(StorageError, match="a1"):
            store.add_token(attrs.evolve(first, name="another", digest=token_of("z9").digest))
        same_digest = attrs.evolve(token_of("b2"), digest=first.digest)
        with pytest.raises(StorageError, match="b2"):
            store.add_token(same_digest)
        assert list(store.tokens()) == [first]

    def test_revoking_a_token_keeps_it_with_the_instant_it_was_revoked(
        self, store: AccountStore
    ) -> None:
        store.add_token(token_of("a1"))
        store.add_token(token_of("b2"))
        revoked = store.revoke_token("a1", T0 + MINUTE)
        assert revoked == attrs.evolve(token_of("a1"), revoked_at=T0 + MINUTE)
        assert revoked.revoked
        assert store.token("a1") == revoked
        assert store.token_by_digest(revoked.digest) == revoked
        assert store.token("b2") == token_of("b2")  # the others as they were
        assert [token.token_id for token in store.tokens()] == ["a1", "b2"]

    def test_the_first_revocation_is_kept(self, store: AccountStore) -> None:
        store.add_token(token_of("a1"))
        store.revoke_token("a1", T0 + MINUTE)
        again = store.revoke_token("a1", T0 + 2 * MINUTE)
        assert again.revoked_at == T0 + MINUTE
        assert store.token("a1") == again

    def test_revoking_an_unknown_token_is_refused_naming_it(self, store: AccountStore) -> None:
        with pytest.raises(StorageError, match="n0ne"):
            store.revoke_token("n0ne", T0)
        assert list(store.tokens()) == []

    def test_tokens_are_listed_by_creation_instant_then_id(self, store: AccountStore) -> None:
        later = token_of("a1", created_at=T0 + MINUTE)
        tied = [token_of("c3"), token_of("b2")]
        for token in (later, *tied):
            store.add_token(token)
        assert [token.token_id for token in store.tokens()] == ["b2", "c3", "a1"]

    # -- staff accounts ---------------------------------------------------------------------

    def test_a_staff_account_is_kept_by_its_staff_id(self, store: AccountStore) -> None:
        account = staff_of("hm-01")
        store.save_staff_account(account)
        assert store.staff_account("hm-01") == account
        assert store.staff_account("hm-02") is None
        kept = store.staff_account("hm-01")
        assert kept is not None
        assert kept.password_hash == _HASH

    def test_saving_an_account_of_a_stored_staff_id_replaces_it(self, store: AccountStore) -> None:
        store.save_staff_account(staff_of("hm-01"))
        store.save_staff_account(staff_of("rn-01", role="nurse"))
        deactivated = attrs.evolve(staff_of("hm-01"), active=False, name="王健康（离职）")
        store.save_staff_account(deactivated)
        assert store.staff_account("hm-01") == deactivated
        assert list(store.staff_accounts()) == [deactivated, staff_of("rn-01", role="nurse")]

    def test_staff_accounts_are_listed_by_staff_id_in_code_point_order(
        self, store: AccountStore
    ) -> None:
        ids = ["hm-10", "HM-9", "hm-2", "客服-1", "admin"]
        for staff_id in ids:
            store.save_staff_account(staff_of(staff_id))
        assert [a.staff_id for a in store.staff_accounts()] == sorted(ids)

    # -- look-ups ---------------------------------------------------------------------------

    def test_lookups_are_listed_in_the_order_recorded(self, store: AccountStore) -> None:
        recorded = [
            lookup_of("p-2", at=T0 + MINUTE),
            lookup_of("p-1", "rn-01", via="api"),  # earlier, recorded later: still after
            lookup_of("p-2", "token:a1", via="api", purpose="nightly sync"),
        ]
        for lookup in recorded:
            store.record_lookup(lookup)
        assert list(store.lookups()) == recorded

    def test_the_same_lookup_made_twice_is_recorded_twice(self, store: AccountStore) -> None:
        store.record_lookup(lookup_of("p-1"))
        store.record_lookup(lookup_of("p-1"))
        assert list(store.lookups()) == [lookup_of("p-1"), lookup_of("p-1")]

    def test_lookups_are_listed_by_member_by_who_and_since_an_instant(
        self, store: AccountStore
    ) -> None:
        recorded = [
            lookup_of("p-1", "hm-01", at=T0),
            lookup_of("p-2", "hm-01", at=T0 + MINUTE),
            lookup_of("p-1", "rn-01", at=T0 + 2 * MINUTE),
            lookup_of("p-1", "hm-01", at=T0 + 3 * MINUTE),
        ]
        for lookup in recorded:
            store.record_lookup(lookup)
        assert list(store.lookups(member_id="p-1")) == [recorded[0], recorded[2], recorded[3]]
        assert list(store.lookups(who="hm-01")) == [recorded[0], recorded[1], recorded[3]]
        assert list(store.lookups(member_id="p-1", who="hm-01")) == [recorded[0], recorded[3]]
        since = (T0 + MINUTE).astimezone(SHANGHAI)
        assert list(store.lookups(since=since)) == recorded[1:]
        assert list(store.lookups(member_id="p-1", since=since)) == recorded[2:]
        assert list(store.lookups(member_id="p-9")) == []
        assert list(store.lookups(who="nobody")) == []

    def test_many_lookups_are_listed_whole_and_in_order(self, store: AccountStore) -> None:
        members = [f"p-{n:04}" for n in range(1_201)]
        for number, member in enumerate(members):
            store.record_lookup(lookup_of(member, "hm-01" if number % 3 else "hm-02"))
        assert _members(store.lookups()) == members
        assert _members(store.lookups(who="hm-02")) == members[::3]

    def test_a_listing_may_be_read_while_lookups_are_recorded(self, store: AccountStore) -> None:
        for number in range(3):
            store.record_lookup(lookup_of(f"p-{number}"))
        listing = store.lookups()
        first = next(listing)
        store.record_lookup(lookup_of("p-9"))
        assert first.member_id == "p-0"
        assert _members(listing)[:2] == ["p-1", "p-2"]

    # -- instants ---------------------------------------------------------------------------

    def test_every_instant_comes_back_aware_in_utc(self, store: AccountStore) -> None:
        at = datetime(2025, 3, 1, 18, 0, 0, 123456, tzinfo=SHANGHAI)  # 10:00 UTC
        store.add_token(token_of("a1", created_at=at))
        store.save_staff_account(staff_of("hm-01", created_at=at))
        store.record_lookup(lookup_of("p-1", at=at))
        revoked = store.revoke_token("a1", at + MINUTE)
        instants = [
            revoked.created_at,
            revoked.revoked_at,
            next(store.tokens()).created_at,
            next(store.staff_accounts()).created_at,
            next(store.lookups()).at,
        ]
        assert all(instant is not None and is_utc(instant) for instant in instants)
        assert instants == [at, at + MINUTE, at, at, at]

    def test_a_naive_instant_is_refused(self, store: AccountStore) -> None:
        store.add_token(token_of("a1"))
        naive = T0.replace(tzinfo=None)
        with pytest.raises(NaiveInstantError):
            store.revoke_token("a1", naive)
        with pytest.raises(NaiveInstantError):
            store.lookups(since=naive)
        assert store.token("a1") == token_of("a1")

    # -- properties -------------------------------------------------------------------------

    def test_any_text_round_trips(self, store: AccountStore) -> None:
        @examples
        @given(name=_TEXT, who=_TEXT, purpose=_TEXT, member=_TEXT)
        def check(name: str, who: str, purpose: str, member: str) -> None:
            number = next(EXAMPLES)
            token = token_of(f"t{number}", name=name)
            account = staff_of(f"{who}-{number}", name=name)
            lookup = lookup_of(f"{member}-{number}", f"{who}-{number}", purpose=purpose)
            store.add_token(token)
            store.save_staff_account(account)
            store.record_lookup(lookup)
            assert store.token(token.token_id) == token
            assert store.staff_account(account.staff_id) == account
            assert list(store.lookups(member_id=lookup.member_id)) == [lookup]
            assert list(store.lookups(who=lookup.who)) == [lookup]

        check()

    def test_any_instant_round_trips(self, store: AccountStore) -> None:
        @examples
        @given(
            at=st.datetimes(
                min_value=datetime(1900, 1, 1),  # noqa: DTZ001 - bounds of naive wall times
                max_value=datetime(2200, 1, 1),  # noqa: DTZ001
                timezones=st.sampled_from([UTC, SHANGHAI, timezone(-timedelta(hours=9.5))]),
            )
        )
        def check(at: datetime) -> None:
            member = f"p-instant-{next(EXAMPLES)}"
            store.record_lookup(lookup_of(member, at=at))
            (stored,) = store.lookups(member_id=member)
            assert stored.at == at
            assert is_utc(stored.at)

        check()
