"""Tokens and passwords: written, digested, hashed and checked (membercore.access).

No secret or hash reaches an assertion's message: a failure says what was wrong, never
with which secret.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from membercore.access import (
    SALT_BYTES,
    TOKEN_PREFIX,
    authenticate_staff,
    authenticate_token,
    authenticates,
    hash_password,
    needs_rehash,
    token_digest,
    token_id_of,
    token_text,
    verify_password,
    who,
)
from membercore.errors import NaiveInstantError
from membercore.ports import SCOPES, ApiToken, Lookup, StaffAccount
from membercore_adapters.access import new_password_hash, new_staff_account, new_token
from membercore_adapters.stores.memory import MemoryStore

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
# Cheap scrypt parameters for the properties: what they check does not depend on the
# cost, and the project's own (2**14) take some 50 ms a hash.
CHEAP = {"n": 2**4, "r": 1, "p": 1}

passwords = st.text(min_size=1, max_size=40)
salts = st.binary(min_size=1, max_size=32)
token_ids = st.from_regex(r"[a-z0-9]{1,64}", fullmatch=True)
random_parts = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)


# -- passwords ----------------------------------------------------------------------------


def test_a_password_hash_says_how_it_was_made() -> None:
    encoded = hash_password("晨光-Ward7", b"s" * SALT_BYTES)
    shape = re.fullmatch(r"\$scrypt\$ln=14,r=8,p=1\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)", encoded)
    assert shape is not None
    salt, key = (base64.b64decode(part + "=" * (-len(part) % 4)) for part in shape.groups())
    assert salt == b"s" * SALT_BYTES
    assert len(key) == 32
    expected = hashlib.scrypt("晨光-Ward7".encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    assert key == expected
    assert verify_password("晨光-Ward7", encoded)
    assert not needs_rehash(encoded)


@given(password=passwords, salt=salts)
def test_a_password_verifies_against_its_own_hash(password: str, salt: bytes) -> None:
    assert verify_password(password, hash_password(password, salt, **CHEAP))


@given(password=passwords, other=passwords, salt=salts, other_salt=salts)
def test_a_password_verifies_against_no_other_passwords_hash(
    password: str, other: str, salt: bytes, other_salt: bytes
) -> None:
    assume(password != other)
    assert not verify_password(other, hash_password(password, salt, **CHEAP))
    assert not verify_password(password, hash_password(other, other_salt, **CHEAP))


@given(password=passwords, salt=salts, other_salt=salts)
def test_each_salt_makes_another_hash_of_one_password(
    password: str, salt: bytes, other_salt: bytes
) -> None:
    assume(salt != other_salt)
    first = hash_password(password, salt, **CHEAP)
    second = hash_password(password, other_salt, **CHEAP)
    assert first != second
    assert verify_password(password, first)
    assert verify_password(password, second)


def test_a_hash_made_with_other_parameters_still_verifies_and_asks_to_be_renewed() -> None:
    older = hash_password("pw-2019", b"salt", n=2**10, r=4, p=2)
    assert older.startswith("$scrypt$ln=10,r=4,p=2$")
    assert verify_password("pw-2019", older)
    assert not verify_password("pw-2020", older)
    assert needs_rehash(older)
    assert needs_rehash(hash_password("pw", b"short salt"))  # 10 bytes, not 16


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "pw",
        "$scrypt$ln=14,r=8,p=1$c2FsdA",  # no key
        "$scrypt$ln=14,r=8,p=1$c2FsdA$!!",  # not base64
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",  # another scheme
        "$scrypt$ln=0,r=8,p=1$c2FsdA$aGFzaA",  # n of 1
        "$scrypt$ln=40,r=8,p=1$c2FsdA$aGFzaA",  # more than a sign-in can afford
        "$scrypt$ln=14,r=0,p=1$c2FsdA$aGFzaA",
    ],
)
def test_a_text_that_is_no_hash_verifies_nothing(encoded: str) -> None:
    assert not verify_password("pw", encoded)
    assert needs_rehash(encoded)


def test_a_changed_hash_verifies_nothing() -> None:
    encoded = hash_password("pw", b"salt", **CHEAP)
    head, _, key = encoded.rpartition("$")
    flipped = ("B" if key[0] == "A" else "A") + key[1:]
    assert not verify_password("pw", f"{head}${flipped}")
    assert not verify_password("", encoded)


@pytest.mark.parametrize(
    ("password", "salt", "n"), [("", b"salt", 16), ("pw", b"", 16), ("pw", b"salt", 12)]
)
def test_an_empty_password_or_salt_or_a_cost_not_a_power_of_two_is_refused(
    password: str, salt: bytes, n: int
) -> None:
    with pytest.raises(ValueError, match=r"password|salt|power of 2"):
        hash_password(password, salt, n=n)


def test_new_hashes_each_draw_their_own_salt() -> None:
    first, second = new_password_hash("pw-1234"), new_password_hash("pw-1234")
    assert first != second
    assert verify_password("pw-1234", first)
    assert verify_password("pw-1234", second)
    salt = first.split("$")[3]
    assert len(base64.b64decode(salt + "=" * (-len(salt) % 4))) == SALT_BYTES


# -- staff accounts -----------------------------------------------------------------------


def _hospital() -> MemoryStore:
    store = MemoryStore()
    store.save_staff_account(new_staff_account("hm-01", "王健康", "health_manager", "pw-1", T0))
    left = new_staff_account("rn-02", "刘护士", "nurse", "pw-2", T0)
    store.save_staff_account(attrs.evolve(left, active=False))
    return store


def test_an_active_account_signs_in_with_its_password_only() -> None:
    store = _hospital()
    account = authenticate_staff(store, "hm-01", "pw-1")
    assert account is not None
    assert account.staff_id == "hm-01"
    assert authenticate_staff(store, "hm-01", "pw-2") is None
    assert authenticate_staff(store, "hm-01", "") is None
    assert authenticate_staff(store, "hm-09", "pw-1") is None  # no such account


def test_a_deactivated_account_signs_in_no_more() -> None:
    assert authenticate_staff(_hospital(), "rn-02", "pw-2") is None


def test_an_account_shows_no_password_hash() -> None:
    account = new_staff_account("hm-01", "王健康", "health_manager", "pw-1", T0)
    shown = repr(account)
    assert "scrypt" not in shown
    assert "password_hash" not in shown
    assert account.password_hash.startswith("$scrypt$ln=14,r=8,p=1$")


@pytest.mark.parametrize(
    "change",
    [
        {"role": "surgeon"},
        {"name": " "},
        {"staff_id": ""},
        {"created_at": datetime(2026, 3, 2, 10, 0)},  # noqa: DTZ001 - naive on purpose
    ],
    ids=lambda change: next(iter(change)),
)
def test_an_account_of_an_unknown_role_an_empty_name_or_a_naive_instant_is_refused(
    change: dict[str, object],
) -> None:
    fields: dict[str, object] = {
        "staff_id": "hm-01",
        "name": "王健康",
        "role": "health_manager",
        "password_hash": "$scrypt$...",
        "created_at": T0,
        **change,
    }
    with pytest.raises(ValueError, match=next(iter(change))):
        StaffAccount(**fields)  # type: ignore[arg-type]


# -- API tokens ---------------------------------------------------------------------------


@given(token_id=token_ids, random_part=random_parts)
def test_a_tokens_secret_carries_its_id(token_id: str, random_part: str) -> None:
    secret = token_text(token_id, random_part)
    assert secret.startswith(TOKEN_PREFIX)
    assert token_id_of(secret) == token_id


@pytest.mark.parametrize(
    "text",
    [
        "",
        "mc_",
        "mc_abc",
        "mc_abc_",
        "mc__abc",
        "MC_abc_def",
        "mc_ABC_def",
        "ghp_abc_def",
        "mc_a b_c",
    ],
)
def test_a_text_that_is_no_tokens_secret_carries_no_id(text: str) -> None:
    assert token_id_of(text) is None


@pytest.mark.parametrize(("token_id", "random_part"), [("A1", "xyz"), ("a_1", "xyz"), ("a1", "")])
def test_a_token_of_an_id_or_random_part_not_of_its_form_is_refused(
    token_id: str, random_part: str
) -> None:
    with pytest.raises(ValueError, match="mc_<id>_<random part>"):
        token_text(token_id, random_part)


def _token(token_id: str, secret: str, *, at: datetime = T0) -> ApiToken:
    return ApiToken(
        token_id=token_id, name="HIS", scopes=("read",), digest=token_digest(secret), created_at=at
    )


@given(
    ids=st.lists(token_ids, min_size=1, max_size=5, unique=True),
    random_part=random_parts,
    data=st.data(),
)
def test_a_tokens_digest_finds_it_and_no_other_secret_does(
    ids: list[str], random_part: str, data: st.DataObject
) -> None:
    store = MemoryStore()
    secrets = {
        token_id: token_text(token_id, f"{random_part}{n}") for n, token_id in enumerate(ids)
    }
    for token_id, secret in secrets.items():
        store.add_token(_token(token_id, secret))
    chosen = data.draw(st.sampled_from(ids))
    found = authenticate_token(store, secrets[chosen])
    assert found is not None
    assert found.token_id == chosen
    other = data.draw(random_parts)
    assume(token_text(chosen, other) != secrets[chosen])
    assert authenticate_token(store, token_text(chosen, other)) is None
    assert not authenticates(found, token_text(chosen, other))


@given(token_id=token_ids, random_part=random_parts, after=st.integers(0, 10**6))
def test_a_revoked_token_does_not_authenticate(token_id: str, random_part: str, after: int) -> None:
    store = MemoryStore()
    secret = token_text(token_id, random_part)
    store.add_token(_token(token_id, secret))
    assert authenticate_token(store, secret) is not None
    revoked = store.revoke_token(token_id, T0 + timedelta(seconds=after))
    assert not authenticates(revoked, secret)
    assert authenticate_token(store, secret) is None
    assert store.token_by_digest(token_digest(secret)) == revoked  # the row is kept


def test_a_secret_whose_digest_matches_another_id_does_not_authenticate() -> None:
    secret = token_text("a1", "xyz")
    stolen_digest = _token("b2", secret)  # a row claiming another id
    assert not authenticates(stolen_digest, secret)
    assert not authenticates(None, secret)


def test_a_text_that_is_no_token_is_refused_before_the_store_is_asked() -> None:
    class Untouchable(MemoryStore):
        def token_by_digest(self, digest: str) -> ApiToken | None:
            raise AssertionError("asked the store")

    assert authenticate_token(Untouchable(), "Bearer something") is None


def test_a_new_token_is_shown_once_and_kept_as_its_digest() -> None:
    token, secret = new_token("HIS integration", ["read", "ingest", "read"], T0)
    assert token_id_of(secret) == token.token_id
    assert len(token.token_id) == 16
    assert len(secret.split("_", 2)[2]) >= 43  # 32 random bytes, URL-safe base64
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert token.scopes == ("ingest", "read")
    assert token.created_at == T0
    assert not token.revoked
    shown = repr(token)
    assert token.digest not in shown
    assert "digest" not in shown
    other, other_secret = new_token("HIS integration", ["read"], T0)
    assert other.token_id != token.token_id
    assert other.digest != token.digest
    different = other_secret != secret  # compared apart: a failure shows neither
    assert different


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"scopes": ("read", "delete")}, "unknown scopes"),
        ({"token_id": "A-1"}, "token id"),
        ({"digest": "abc"}, "SHA-256"),
        ({"name": ""}, "name"),
        ({"revoked_at": datetime(2026, 3, 2)}, "revoked_at"),  # noqa: DTZ001 - naive on purpose
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict) else "",
)
def test_a_token_of_an_unknown_scope_a_bad_id_or_digest_or_a_naive_instant_is_refused(
    change: dict[str, object], problem: str
) -> None:
    fields: dict[str, object] = {
        "token_id": "a1",
        "name": "HIS",
        "scopes": ("read",),
        "digest": token_digest("mc_a1_x"),
        "created_at": T0,
        **change,
    }
    with pytest.raises(ValueError, match=problem):
        ApiToken(**fields)  # type: ignore[arg-type]


def test_scopes_are_the_four_and_a_text_is_not_taken_for_a_list_of_them() -> None:
    assert SCOPES == ("ingest", "read", "commands", "admin")
    with pytest.raises(TypeError, match="not the text"):
        ApiToken(token_id="a1", name="HIS", scopes="read", digest="0" * 64, created_at=T0)


# -- look-ups -----------------------------------------------------------------------------


def test_who_names_staff_by_their_id_and_systems_by_their_token() -> None:
    assert who("staff", "hm-01") == "hm-01"
    assert who("system", "3f9a0c1d2e4b5a6c") == "token:3f9a0c1d2e4b5a6c"


def test_a_lookup_through_an_unknown_way_or_at_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown way 'email'"):
        Lookup(at=T0, who="hm-01", member_id="p-1", purpose="call", via="email")
    with pytest.raises(NaiveInstantError):
        Lookup(at=T0.replace(tzinfo=None), who="hm-01", member_id="p-1", purpose="c", via="api")
    with pytest.raises(ValueError, match="purpose"):
        Lookup(at=T0, who="hm-01", member_id="p-1", purpose=" ", via="api")
