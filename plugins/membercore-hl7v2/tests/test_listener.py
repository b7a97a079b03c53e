"""The listener's acknowledgements and its group commit, over a real MLLP connection."""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
import warnings
from typing import Any

import pytest

from membercore import Engine
from membercore.errors import ConfigError, StorageError
from membercore.service.recording import member_key
from membercore_hl7v2 import Listener, Received

from .conftest import MAPPING, code, listening, open_engine, sample, send, text

_ADMISSION = sample("ADT01-23.hl7")


def test_a_message_missing_a_field_is_a_dead_letter_acknowledged_ae_with_the_reason() -> None:
    broken = _ADMISSION.replace(b"|40007716^^^AccMgr^VN|", b"||")
    with open_engine("memory://") as engine:
        (ack,) = listening(engine, lambda port: send(port, broken))
        assert code(ack) == "AE"
        assert "PV1-19 (the visit number) is empty" in text(ack)
        (letter,) = engine.dead_letters()
        assert "PV1-19" in letter.reason
        assert letter.payload.startswith("MSH|^~\\&|AccMgr")  # the raw text is kept


def _routing(ack: Any) -> list[str]:
    """What an integration engine routes an acknowledgement by: MSH-3 to 6, 9, 10, 12."""
    return [str(ack.segment("MSH")(n)) for n in (3, 4, 5, 6, 9, 10, 12)]


def test_a_refusal_is_routed_back_as_an_acceptance_is() -> None:
    header = b"MSH|^~\\&|HIS|WN|MEMBERCORE|HOSPITAL|20260302093000+0800||ADT^A01|A0001|P|2.4"
    good = _ADMISSION.replace(
        _ADMISSION.split(b"\r")[0].split(b"\n")[0].lstrip(b"\xef\xbb\xbf"), header
    )
    broken = good.replace(b"|40007716^^^AccMgr^VN|", b"||")
    with open_engine("memory://") as engine:
        refused, taken = listening(engine, lambda port: send(port, broken, good))
    assert (code(refused), code(taken)) == ("AE", "AA")
    assert _routing(refused) == _routing(taken)
    assert _routing(taken) == [
        "MEMBERCORE",
        "HOSPITAL",
        "HIS",
        "WN",
        "ACK^A01^ACK",
        "A0001-ACK",
        "2.4",
    ]


def test_two_messages_in_one_block_are_refused_whole() -> None:
    """MLLP carries one message a block: a second MSH is not the first message's segment."""
    first = b"\r".join(
        [
            b"MSH|^~\\&|HIS|WN|MC|H|20260302093000+0800||ADT^A01|T1|P|2.4",
            b"PID|1||ZA001^^^HOSPITAL^MR||ZHANG^SAN||19800101|M",
            b"PV1|1|O|0301||||||||0301||||||||V1",
        ]
    )
    second = b"\r".join(
        [
            b"MSH|^~\\&|HIS|WN|MC|H|20260302093100+0800||ADT^A01|T2|P|2.4",
            b"PID|1||ZB002^^^HOSPITAL^MR||LI^SI||19700101|F",
            b"PV1|1|O|0301||||||||0301||||||||V2",
            b"DG1|1||E11.9^Type 2 diabetes^I10||20260302091000+0800|A",
        ]
    )
    with open_engine("memory://") as engine:
        (ack,) = listening(engine, lambda port: send(port, first + b"\r" + second))
        assert code(ack) == "AR"
        assert "the block holds 2 messages (an MSH segment at segments 1, 4)" in text(ack)
        assert str(ack.segment("MSA")(2)) == "T1"
        keys = [member_key("ZA001"), member_key("ZB002")]
        assert engine.store.load(keys) == {}  # neither patient taken
        (letter,) = engine.dead_letters()
        assert "2 messages" in letter.reason
        assert "ZB002" in letter.payload  # kept whole, to be sent again one at a time
        taken = listening(engine, lambda port: send(port, first, second))
        assert [code(a) for a in taken] == ["AA", "AA"]
        assert "condition:type2_diabetes" in engine.tags("ZB002")
        assert "condition:type2_diabetes" not in engine.tags("ZA001")


_HEADER = b"MSH|^~\\&|HIS|WN|MC|H|20260302093000+0800||ADT^A01|T9|P|2.4"
_PATIENT = b"PID|1||ZA009^^^HOSPITAL^MR||ZHANG^SAN||19800101|M"
_VISIT = b"PV1|1|O|0301||||||||0301||||||||V-9"


@pytest.mark.parametrize(
    ("message", "condition"),
    [
        (
            b"\r".join([_HEADER, _PATIENT, _VISIT.removesuffix(b"V-9")]),
            "101^Required field missing",
        ),
        (
            b"\r".join([_HEADER, _PATIENT.replace(b"19800101", b"1980X101"), _VISIT]),
            "102^Data type error",
        ),
        (b"\r".join([_HEADER, _VISIT]), "100^Segment sequence error"),
        (sample("DFT-P03-01.hl7").replace(b"|100&USD|", b"|100&EUR|"), "103^Table value not found"),
    ],
)
def test_an_ae_names_the_kind_of_mistake_in_err_3_and_the_reason_in_err_8(
    message: bytes, condition: str
) -> None:
    """ERR-3 (table 0357) tells the sender its message was wrong, and how; ERR-8 where."""
    with open_engine("memory://") as engine:
        (ack,) = listening(engine, lambda port: send(port, message))
    assert code(ack) == "AE"
    err = ack.segment("ERR")
    assert str(err(3)) == f"{condition}^HL70357"
    assert ack.unescape(str(err(8))) == text(ack)


def test_an_ar_and_an_ae_the_programme_refused_carry_err_207() -> None:
    """What the sender could not have put right carries 207 (application internal error):
    text that is no HL7, and a charge past the programme's plausibility bound."""
    past_the_bound = sample("DFT-P03-01.hl7").replace(b"|100&USD|", b"|2000000&USD|")
    with open_engine("memory://") as engine:
        acks = listening(engine, lambda port: send(port, b"not hl7 at all", past_the_bound))
    assert [code(ack) for ack in acks] == ["AR", "AE"]
    assert "max_line_fen" in text(acks[1])
    for ack in acks:
        err = ack.segment("ERR")
        assert str(err(3)) == "207^Application internal error^HL70357"
        assert ack.unescape(str(err(8))) == text(ack)


def test_text_that_is_not_hl7_is_acknowledged_ar_and_kept() -> None:
    with open_engine("memory://") as engine:
        (ack,) = listening(engine, lambda port: send(port, b"hello, is this the HIS?"))
        assert code(ack) == "AR"
        (letter,) = engine.dead_letters()
        assert letter.payload == "hello, is this the HIS?"


def test_a_message_not_in_the_mapping_s_encoding_is_acknowledged_ar() -> None:
    gbk = _ADMISSION.replace(b"DUCK^DONALD", "段^誉".encode("gbk"))
    with open_engine("memory://") as engine:
        (ack,) = listening(engine, lambda port: send(port, gbk))
        assert code(ack) == "AR"
        assert "not utf-8 text" in text(ack)
        (taken,) = listening(engine, lambda port: send(port, gbk), encoding="gb18030")
        assert code(taken) == "AA"
        assert engine.member("10006579").profile.registrations


def test_a_store_that_fails_acknowledges_ar_and_keeps_nothing_of_the_group() -> None:
    with open_engine("memory://") as engine:
        real = engine.store.commit

        def failing(commit: Any) -> None:
            raise StorageError(engine.store.url, "disk full")

        engine.store.commit = failing  # type: ignore[method-assign]
        (ack,) = listening(engine, lambda port: send(port, _ADMISSION))
        assert code(ack) == "AR"
        assert "send it again" in text(ack)
        engine.store.commit = real  # type: ignore[method-assign]
        (again,) = listening(engine, lambda port: send(port, _ADMISSION))
        assert code(again) == "AA"


def test_messages_on_eight_connections_are_committed_together() -> None:
    samples = ["ADT01-23.hl7", "LAB-ORU-1.hl7", "ORU-R01-RMGEAD.hl7", "ADT-A04-02.hl7"]
    groups: list[int] = []

    def eight_senders(port: int) -> list[str]:
        codes: list[str] = []
        lock = threading.Lock()

        def sender(n: int) -> None:
            messages = [
                sample(name).replace(b"|599102|", f"|599102-{n}-{m}|".encode())
                for m, name in enumerate(samples * 5)
            ]
            acks = send(port, *messages)
            with lock:
                codes.extend(code(ack) for ack in acks)

        threads = [threading.Thread(target=sender, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return codes

    def committed(outcomes: list[tuple[Received, str]]) -> None:
        groups.append(len(outcomes))

    with open_engine("memory://") as engine:
        codes = listening(engine, eight_senders, on_commit=committed)
    assert codes == ["AA"] * 160
    assert sum(groups) == 160
    assert max(groups) > 1  # messages of several connections shared a commit
    assert len(groups) < 160


def test_a_port_that_is_not_a_number_is_refused_naming_it() -> None:
    with open_engine("memory://") as engine, pytest.raises(ConfigError, match="port"):
        Listener.from_options(engine, {"port": "twenty"})


def test_an_encoding_no_codec_has_is_refused_naming_it_before_any_message_comes() -> None:
    # The acknowledgements are written in it: the sender would get none.
    with open_engine("memory://") as engine:
        assert Listener.from_options(engine, {"encoding": "gb18030"}).encoding == "gb18030"
        with pytest.raises(ConfigError, match=r"encoding.*no character encoding is named 'utf9'"):
            Listener.from_options(engine, {"encoding": "utf9"})


def test_shared_is_true_or_false_and_says_whether_the_port_is_shared() -> None:
    with open_engine("memory://") as engine:
        assert Listener.from_options(engine, {"shared": "true"}).shared
        assert not Listener.from_options(engine, {"shared": "false"}).shared
        assert not Listener.from_options(engine, {}).shared
        with pytest.raises(ConfigError, match=r"shared.*'yes' is neither true nor false"):
            Listener.from_options(engine, {"shared": "yes"})


def test_a_discharge_cancelled_by_a13_undoes_the_follow_up_it_started() -> None:
    alive = sample("ADT-A03-02.hl7").replace(b"|20080825111630+0115|Y", b"||N")
    discharge = alive.replace(b"PV1|1|P|", b"PV1|1|I|")
    # The A13 an hour after the discharge (PV1-45, 2015-02-09 11:34), before the day-1 call.
    cancel = discharge.replace(
        b"|ADT^A03^ADT_A03|MSG00001|", b"|ADT^A13^ADT_A13|MSG00013|"
    ).replace(b"|20210817151943.4+0200|", b"|20150209123419+0110|")
    with open_engine("memory://") as engine:
        acks = listening(engine, lambda port: send(port, discharge))
        assert [code(a) for a in acks] == ["AA"]
        journeys = engine.member("PATID1234").journeys.instances.values()
        (follow_up,) = [i for i in journeys if i.journey == "post_discharge"]
        assert follow_up.ended is None
        acks = listening(engine, lambda port: send(port, cancel))
        assert [code(a) for a in acks] == ["AA"]
        journeys = engine.member("PATID1234").journeys.instances.values()
        (follow_up,) = [i for i in journeys if i.journey == "post_discharge"]
        assert follow_up.ended == "retracted:discharged"


def test_msh_18_says_the_encoding_whatever_the_listener_expects() -> None:
    header = b"|ADT^A01|599102|P|2.3|||"
    named = _ADMISSION.replace(b"DUCK^DONALD", "欧阳^娜".encode()).replace(
        header, b"|ADT^A01|599102|P|2.3||||||UNICODE UTF-8|"
    )
    with open_engine("memory://") as engine:
        (ack,) = listening(engine, lambda port: send(port, named), encoding="gb18030")
        assert code(ack) == "AA", text(ack)
        (registration,) = engine.member("10006579").profile.registrations.values()
        assert registration.name == "欧阳先生"


def test_a_group_committed_as_the_listener_stops_is_acknowledged() -> None:
    """SIGTERM lets the group in flight commit, and acknowledges what it committed."""
    messages = [
        sample("ADT01-23.hl7").replace(b"|599102|", f"|599102-stop-{n}|".encode()) for n in range(8)
    ]
    replies: list[bytes] = []
    committed: list[str] = []

    def sender(port: int, message: bytes) -> None:
        try:  # a connection the stopped listener refuses, or closes without a reply
            with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
                connection.sendall(b"\x0b" + message + b"\x1c\r")
                replies.append(connection.recv(1 << 16))
        except OSError:
            replies.append(b"")

    def senders(port: int) -> None:
        threads = [threading.Thread(target=sender, args=(port, m)) for m in messages]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    async def main(engine: Engine) -> None:
        loop = asyncio.get_running_loop()
        stopping: list[asyncio.Task[None]] = []

        def stop_as_committed(outcomes: list[tuple[Received, str]]) -> None:
            committed.extend(code for _, code in outcomes)
            if not stopping:  # the stop comes as the first group is committed
                stopping.append(loop.create_task(listener.stop()))

        listener = Listener(engine, MAPPING, port=0, on_commit=stop_as_committed)
        await listener.start()
        await asyncio.to_thread(senders, listener.port)
        await stopping[0]

    with open_engine("memory://") as engine, warnings.catch_warnings():
        # asyncio drops, unclosed, a connection it accepted just as its server closed
        # (Server._attach refuses it, Python 3.11): the collector closes its socket, here
        # rather than in whichever test runs next. Accepted before its transport was
        # made, the socket itself is what is left unclosed.
        warnings.filterwarnings("ignore", "unclosed transport", ResourceWarning)
        warnings.filterwarnings("ignore", "unclosed <socket.socket", ResourceWarning)
        asyncio.run(main(engine))
        gc.collect()
    assert committed
    assert committed.count("AA") == sum(b"MSA|AA" in reply for reply in replies)
