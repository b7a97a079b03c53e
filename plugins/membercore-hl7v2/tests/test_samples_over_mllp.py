"""Every sample message through python-hl7's MLLP client to the listener, on every store.

Each message is acknowledged AA once its facts are committed; each fact says what the
converter's FHIR of the message says; the same messages sent again are acknowledged and
change nothing.
"""

from __future__ import annotations

import pytest

from membercore.facts import Fact
from membercore_hl7v2 import Received

from . import oracle
from .conftest import code, listening, open_engine, sample, sample_names, send, text

# The record the A40 sample merges away, registered first as the HIS would have: the
# sample's own segments, as an A04 of that record.
_DUPLICATE = (
    sample("ADT-A40-01.hl7")
    .decode()
    .replace("ADT^A40^ADT_A40|8919-40", "ADT^A04^ADT_A04|8919-04")
    .replace("PID|1||12345^^^BCBS^MR", "PID|1||56789^^^BCBS^MR")
    .replace("\nMRG|56789^^^BCBS^MR", "")
)


def test_every_sample_becomes_facts_that_say_what_its_fhir_says(store_url: str) -> None:
    seen: list[tuple[Received, str]] = []
    names = sample_names()
    with open_engine(store_url) as engine:
        acks = listening(
            engine,
            lambda port: send(port, _DUPLICATE, *(sample(name) for name in names)),
            on_commit=seen.extend,
        )
        assert [code(ack) for ack in acks] == ["AA"] * (len(names) + 1), [text(a) for a in acks]
        received = [r for r, _ in seen[1:]]
        checked = 0
        for name, message in zip(names, received, strict=True):
            assert message.translated is not None
            facts = [i.raw for i in message.inputs]
            checked += oracle.check(name, facts)
            taken = engine.store.seen([f.fact_id for f in facts if isinstance(f, Fact)])
            assert set(taken) == {f.fact_id for f in facts if isinstance(f, Fact)}
        assert checked >= 30
        # The merge ran: the record merged away names the survivor.
        assert engine.member("56789").identity.merged_into == "12345"
        assert engine.identified("BCBS^MR", "56789") == "12345"
        before = {record.key: record.version for record in engine.store.scan()}
        again = listening(engine, lambda port: send(port, *(sample(name) for name in names)))
        assert [code(ack) for ack in again] == ["AA"] * len(names)
        assert {record.key: record.version for record in engine.store.scan()} == before


@pytest.mark.parametrize("name", sample_names())
def test_each_sample_alone_is_acknowledged_with_its_control_id(name: str) -> None:
    with open_engine("memory://") as engine:
        (ack,) = listening(engine, lambda port: send(port, sample(name)))
    sent = sample(name).decode("utf-8-sig").replace("\n", "\r")
    control = sent.split("\r")[0].split("|")[9]
    assert str(ack.segment("MSA")(2)) == control
    assert str(ack.segment("MSH")(9)).startswith("ACK")
    assert code(ack) == "AA", text(ack)


def test_an_a40_of_a_record_the_programme_never_saw_retires_its_id_into_the_survivor() -> None:
    with open_engine("memory://") as engine:
        (ack,) = listening(engine, lambda port: send(port, sample("ADT-A40-01.hl7")))
        assert code(ack) == "AA"
        assert engine.identified("", "56789") == "12345"
        result = (
            sample("ORU-R01-RMGEAD.hl7")
            .replace(b"PID|||555-44-4444|", b"PID|||56789^^^BCBS^MR|")
            .replace(b"CNTRL-3456", b"CNTRL-3457")
        )
        (taken,) = listening(engine, lambda port: send(port, result))
        assert code(taken) == "AA"
        assert [r.key for r in engine.store.scan("member:")] == ["member:12345"]
