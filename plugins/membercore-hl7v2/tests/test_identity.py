"""Patient identity across campuses: one number issued by two campuses is two people."""

from __future__ import annotations

from membercore_hl7v2 import mapping_from_dict

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
