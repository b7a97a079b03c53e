"""Patient identity across campuses: one number issued by two campuses is two people."""

from __future__ import annotations

from membercore_hl7v2 import mapping_from_dict, receive

from .conftest import code, listening, open_engine, sample, send, text


def _admission(campus: str, control: str, card: str) -> bytes:
    return (
        sample("ADT01-23.hl7")
        .replace(b"|599102|", f"|{control}|".encode())
        .replace(
            b"PID|1||10006579^^^1^MR^1||",
            f"PID|1||000777^^^{campus}^MR~{card}^^^CHN^NNCHN||".encode(),
        )
        .replace(b"123121234", f"{card}9".encode())  # each their own social security number
    )


def test_one_number_from_two_campuses_is_refused_unless_patients_are_named_by_campus() -> None:
    first, second = _admission("HZ01", "A-1", "330102"), _admission("HZ03", "B-1", "330104")
    with open_engine("memory://") as engine:
        acks = listening(engine, lambda port: send(port, first, second))
        assert [code(a) for a in acks] == ["AA", "AE"]
        assert "was issued by HZ01^MR, not HZ03^MR" in text(acks[1])
        assert [r.key for r in engine.store.scan("member:")] == ["member:000777"]
    qualified = mapping_from_dict({"hl7v2": {"patient": {"qualify": True}}})
    with open_engine("memory://") as engine:
        acks = listening(engine, lambda port: send(port, first, second), mapping=qualified)
        assert [code(a) for a in acks] == ["AA", "AA"]
        members = sorted(r.key for r in engine.store.scan("member:"))
        assert members == ["member:HZ01:000777", "member:HZ03:000777"]
        assert engine.identified("CHN^NNCHN", "330104") == "HZ03:000777"


def test_the_facts_of_a_message_whose_registration_was_refused_are_refused_with_it() -> None:
    first = _admission("HZ01", "A-1", "330102")
    charge = (
        sample("DFT-P03-01.hl7")
        .replace(b"PATID1234^5^M11^test1&2.16.1&HCD^MR^GOOD HEALTH HOSPITAL", b"000777^^^HZ03^MR")
        .replace(b"~123456789^^^USSSA^SS", b"")
        .replace(b"|198808181126+0215|M||", b"||M||")
        .replace(b"|20080825111630+0115|Y", b"||N")
    )
    mapping = mapping_from_dict({"hl7v2": {"currency": "USD"}})
    with open_engine("memory://") as engine:
        acks = listening(engine, lambda port: send(port, first, charge), mapping=mapping)
        assert [code(a) for a in acks] == ["AA", "AE"]
        assert "registration with it was refused" in text(acks[1])
        assert engine.member("000777").ledger.lots == {}


def test_an_a40_and_a_message_under_the_retired_id_in_one_batch_reach_the_survivor() -> None:
    admission = _admission("HZ01", "A-1", "330102")
    merge = (
        sample("ADT-A40-01.hl7")
        .replace(b"PID|1||12345^^^BCBS^MR", b"PID|1||000777^^^HZ01^MR")
        .replace(b"MRG|56789^^^BCBS^MR", b"MRG|939999^^^HZ01^MR")
        .replace(b"|20190423150137+0215|", b"|20050111000000+0700|")
        .replace(b"|20180205|", b"|19241010|")
    )
    later = _admission("HZ01", "A-2", "330109").replace(b"|000777^^^HZ01^MR", b"|939999^^^HZ01^MR")
    later = later.replace(b"20050110045502+0700", b"20050112045502+0700")
    with open_engine("memory://") as engine:
        inputs = [
            item
            for n, data in enumerate((admission, merge, later))
            for item in receive(data, mapping_from_dict({}), where=f"m{n}").inputs
        ]
        report = engine.ingest(inputs)
        assert report.rejected == 0, report.refusals
        assert [r.key for r in engine.store.scan("member:")] == ["member:000777"]
        assert engine.identified("", "939999") == "000777"


def _bare_result(patient: str) -> bytes:
    """A laboratory system's result naming the patient by the bare number (no issuer)."""
    return sample("ORU-R01-RMGEAD.hl7").replace(b"PID|||555-44-4444|", f"PID|||{patient}|".encode())


def test_a_number_sent_without_its_issuer_names_the_patient_without_finding_another() -> None:
    admission = _admission("HZ01", "A-1", "330102")
    with open_engine("memory://") as engine:
        acks = listening(engine, lambda port: send(port, admission, _bare_result("000777")))
        assert [code(a) for a in acks] == ["AA", "AA"]
        assert [r.key for r in engine.store.scan("member:")] == ["member:000777"]
    qualified = mapping_from_dict({"hl7v2": {"patient": {"qualify": True}}})
    with open_engine("memory://") as engine:
        acks = listening(
            engine, lambda port: send(port, admission, _bare_result("000777")), mapping=qualified
        )
        assert [code(a) for a in acks] == ["AA", "AE"]
        assert "set [hl7v2.patient] authority" in text(acks[1])
    lis = mapping_from_dict({"hl7v2": {"patient": {"qualify": True, "authority": "HZ01"}}})
    with open_engine("memory://") as engine:
        acks = listening(engine, lambda port: send(port, admission), mapping=qualified)
        acks += listening(engine, lambda port: send(port, _bare_result("000777")), mapping=lis)
        assert [code(a) for a in acks] == ["AA", "AA"]
        assert [r.key for r in engine.store.scan("member:")] == ["member:HZ01:000777"]


def test_an_a40_names_the_record_merged_away_by_issuer_when_patients_are() -> None:
    qualified = mapping_from_dict({"hl7v2": {"patient": {"qualify": True}}})
    merge = (
        sample("ADT-A40-01.hl7")
        .replace(b"PID|1||12345^^^BCBS^MR", b"PID|1||000777^^^HZ01^MR")
        .replace(b"MRG|56789^^^BCBS^MR", b"MRG|000555^^^HZ03^MR")
    )
    with open_engine("memory://") as engine:
        (ack,) = listening(engine, lambda port: send(port, merge), mapping=qualified)
        assert code(ack) == "AA", text(ack)
        assert engine.identified("", "HZ03:000555") == "HZ01:000777"


def test_an_id_card_is_one_whatever_case_its_check_digit_and_the_system_it_is_sent_under() -> None:
    first = _admission("HZ01", "A-1", "11010519491231002X")
    lower = _admission("HZ03", "B-1", "11010519491231002x").replace(
        b"|000777^^^HZ03^MR~", b"|B-555^^^HZ03^MR~"
    )
    other = (
        _admission("HZ05", "C-1", "11010519491231002X")
        .replace(b"|000777^^^HZ05^MR~", b"|C-888^^^HZ05^MR~")
        .replace(b"^^^CHN^NNCHN|", b"^^^^ID|")
    )
    mapping = mapping_from_dict({"hl7v2": {"systems": {"^ID": "CHN^NNCHN"}}})
    with open_engine("memory://") as engine:
        acks = listening(engine, lambda port: send(port, first, lower, other), mapping=mapping)
        assert [code(a) for a in acks] == ["AA", "AA", "AA"], [text(a) for a in acks]
        assert [r.key for r in engine.store.scan("member:")] == ["member:000777"]
        assert engine.identified("", "C-888") == "000777"
