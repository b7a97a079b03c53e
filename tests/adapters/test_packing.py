"""Packed snapshots and journals: any text comes back as it went in, and stays readable."""

from __future__ import annotations

import hashlib
import sys
import threading
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib.resources import files

import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from membercore_adapters.stores import packing
from membercore_adapters.stores.packing import (
    DEFLATE_JOURNAL,
    DEFLATE_RECORD,
    JOURNAL,
    RECORD,
    PackingError,
    pack,
    pack_events,
    unpack,
    unpack_events,
)

# A released dictionary never changes: every value packed with it must still read.
_DIGESTS = {
    "journal-1.dict": "ace0599492feb3228c97ab8324e3b05056e68546e154674adfef6328139c39e0",
    "record-1.dict": "2390aa44892c991bc51893477b6e1466067e49cdd2fe71a9fdf5a55a5b1d71b6",
    "journal-2.dict": "40edb8d4494faabb5e565cd3bcbba028aa4de1cec6b840bd585623cb98c42f69",
    "record-2.dict": "1787ce96c9d07844b7695e45bf5af48ca488c6feb75f393b9a774f7467d9ec5f",
}
_SIZES = {"1": 32 * 1024, "2": 64 * 1024}
_FORMATS = [DEFLATE_JOURNAL, DEFLATE_RECORD, JOURNAL, RECORD]
_T0 = datetime(2025, 3, 1, 1, 2, 3, 456789, tzinfo=UTC)
_POSTING = (
    '{"type":"points_posted","posting_id":"P000007/4","member_id":"P000007","kind":"earn",'
    '"points":5,"at":"2025-07-04T05:22:19+00:00","explanation":"积分 5"}'
)

# Any code point, lone surrogates included (the port's text may hold them).
texts = st.text(st.characters(exclude_categories=()), max_size=300)
instants = st.datetimes(
    min_value=datetime(1900, 1, 1),  # noqa: DTZ001 - bounds of a strategy for aware instants
    max_value=datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@pytest.mark.parametrize(("name", "digest"), sorted(_DIGESTS.items()))
def test_the_released_dictionaries_are_the_ones_stored_values_were_packed_with(
    name: str, digest: str
) -> None:
    data = files(packing.__name__).joinpath(name).read_bytes()
    assert len(data) == _SIZES[name.removesuffix(".dict")[-1]]
    assert hashlib.sha256(data).hexdigest() == digest


@given(text=texts, form=st.sampled_from(_FORMATS))
def test_any_text_comes_back_in_every_format(text: str, form: int) -> None:
    packed = pack(form, text)
    assert packed[0] == form
    assert unpack(packed) == text
    assert unpack(memoryview(packed)) == text  # as PostgreSQL hands bytea over


@given(st.lists(st.tuples(texts, instants, texts), max_size=8))
def test_a_commits_events_come_back_in_order_whatever_their_text(
    events: list[tuple[str, datetime, str]],
) -> None:
    assert unpack_events(pack_events(events)) == events


def test_typical_events_take_a_fraction_of_their_text() -> None:
    events = [("points_posted", _T0 + timedelta(seconds=n), _POSTING) for n in range(5)]
    packed = pack_events(events)
    assert len(packed) < len(_POSTING)  # five events in less room than one as text
    assert len(pack(RECORD, "{}")) <= 12  # format, frame header, text, check


@pytest.mark.parametrize(
    "released",
    [
        # Written with journal-1 (deflate) when it was released, and with journal-2
        # (Zstandard) when it was: a dictionary or framing that changed would no longer
        # read them.
        "01c33a8c66606e696069646c626a666e61a963684aead27b731c1d58739ccd6f53f4a14313d0"
        "809f919195a1258e04ff7cf9faa71d6d0aa64ab50085038d4c",
        "030000d5010053820695c98a74e10b430ce18739107bdbaccdf6d4786f5e4d7cfb360d09fcf382"
        "00b4b254b8cc313f3ea804783930e9526d9aeab01ebc5b5a0385038d4c",
    ],
)
def test_a_value_packed_by_a_released_version_still_reads(released: str) -> None:
    assert unpack_events(bytes.fromhex(released)) == [("points_posted", _T0, _POSTING)]


def test_the_stores_write_zstandard_and_pack_a_commit_smaller_than_deflate_did() -> None:
    events = [("points_posted", _T0 + timedelta(seconds=n), _POSTING) for n in range(5)]
    text = packing.frame(events)
    assert pack_events(events)[0] == JOURNAL
    assert len(pack(JOURNAL, text)) < len(pack(DEFLATE_JOURNAL, text))
    assert unpack_events(pack(DEFLATE_JOURNAL, text)) == events  # an earlier release's


@pytest.mark.parametrize("form", [DEFLATE_JOURNAL, JOURNAL])
@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda form: b"", "unknown packing format nothing"),
        (lambda form: b"\x07abc", "unknown packing format 7"),
        (lambda form: bytes((form,)) + b"\xff\xff\xff", "damaged packed value"),
        (lambda form: pack(form, "one") + b"tail", "does not end where its data ends"),
        (lambda form: pack(form, "one")[:-2], "does not end where its data ends"),
        (lambda form: pack(form, "one")[:-6], "does not end where its data ends"),
        (
            lambda form: pack(form, "one")[:-4] + b"\0\0\0\0",
            "its check does not match its text",
        ),
    ],
)
def test_a_damaged_or_unknown_value_is_refused_by_name(
    form: int, damage: Callable[[int], bytes], says: str
) -> None:
    with pytest.raises(PackingError, match=says):
        unpack(damage(form))


@pytest.mark.parametrize(
    ("packed", "says"),
    [
        (pack(RECORD, "{}"), "not a commit's packed events"),
        (pack(JOURNAL, "[]"), "lengths do not add up"),
        (pack(JOURNAL, "no frame\n"), "damaged frame"),
        (pack(JOURNAL, '[["t",0,5]]\nabc'), "lengths do not add up"),
        (pack(JOURNAL, '[["t",0]]\nabc'), "damaged frame"),
        (pack(JOURNAL, "{\n"), "damaged frame"),
        (pack(JOURNAL, '[["t",1e400,0]]\n'), "damaged frame"),
        (pack(JOURNAL, '[["t",99999999999999999999999,0]]\n'), "damaged frame"),
        (pack(JOURNAL, "[[5,0,0]]\n"), "damaged frame"),
        (pack(JOURNAL, "[" * 100_000 + "\n"), "damaged frame"),
    ],
)
def test_a_damaged_frame_of_events_is_refused_by_name(packed: bytes, says: str) -> None:
    with pytest.raises(PackingError, match=says):
        unpack_events(packed)


def test_a_packed_value_is_a_frame_of_its_format_with_its_dictionary() -> None:
    text = b'{"member_id":"P000001"}'
    packed = pack(DEFLATE_RECORD, text.decode())
    dictionary = files(packing.__name__).joinpath("record-1.dict").read_bytes()
    decompressor = zlib.decompressobj(-15, zdict=dictionary)
    assert decompressor.decompress(packed[1:]) == text
    packed = pack(RECORD, text.decode())
    trained = zstandard.ZstdCompressionDict(
        files(packing.__name__).joinpath("record-2.dict").read_bytes()
    )
    reader = zstandard.ZstdDecompressor(dict_data=trained, format=zstandard.FORMAT_ZSTD1_MAGICLESS)
    assert reader.decompressobj().decompress(packed[1:-4]) == text


@given(st.data(), st.sampled_from([DEFLATE_JOURNAL, JOURNAL]))
def test_any_single_flipped_bit_is_found_never_read_as_other_text(
    data: st.DataObject, form: int
) -> None:
    events = [("points_posted", _T0, _POSTING), ("tag_added", _T0, '{"tag":"care"}')]
    packed = bytearray(pack(form, packing.frame(events)))
    bit = data.draw(st.integers(0, len(packed) * 8 - 1))
    packed[bit // 8] ^= 1 << (bit % 8)
    try:
        read = unpack_events(bytes(packed))
    except PackingError:
        return
    assert read == events  # a bit neither format reads (the last byte's padding)


def test_a_snapshot_read_again_unchanged_is_not_unpacked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[bytes] = []

    def counted(packed: bytes) -> str:
        calls.append(bytes(packed))
        return unpack(packed)

    monkeypatch.setattr(packing, "unpack", counted)
    unpacked = packing.Unpacked(budget=400)
    first, second = pack(RECORD, '{"a":1}'), pack(RECORD, '{"a":2}')
    assert unpacked.text("member:p-1", first) == '{"a":1}'
    assert unpacked.text("member:p-1", memoryview(first)) == '{"a":1}'
    assert len(calls) == 1
    assert unpacked.text("member:p-1", second) == '{"a":2}'  # another snapshot
    assert len(calls) == 2
    big = pack(RECORD, "x" * 500)  # larger than the budget: read, never held
    assert unpacked.text("member:p-2", big) == "x" * 500
    assert unpacked.text("member:p-2", big) == "x" * 500
    assert len(calls) == 4
    for n in range(10):  # the budget lets the oldest go
        unpacked.text(f"member:q-{n}", pack(RECORD, f'{{"n":{n}}}'))
    assert unpacked.text("member:p-1", second) == '{"a":2}'
    assert len(calls) == 15


def test_snapshots_read_from_several_threads_keep_the_budget_exact() -> None:
    unpacked = packing.Unpacked(budget=3_000)
    values = {f"member:{n}": pack(RECORD, f'{{"n":{n},"text":"{"积分" * n}"}}') for n in range(40)}
    errors: list[BaseException] = []

    def read(offset: int) -> None:
        try:
            for round_ in range(3000):
                key = f"member:{(round_ * 7 + offset) % 40}"
                n = int(key.partition(":")[2])
                assert unpacked.text(key, values[key]) == f'{{"n":{n},"text":"{"积分" * n}"}}'
        except BaseException as error:  # reported below
            errors.append(error)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=read, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch)
    assert errors == []
    held = unpacked._held
    assert unpacked._size == sum(packing._footprint(h) for h in held.values()) <= 3_000
