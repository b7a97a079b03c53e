"""The patient's phone and e-mail from PID-13, PID-40 and PID-14, as the channels use them.

Messages other than the samples are the samples with other telecommunication fields:
ADT01-23 (v2.3, sent 2005-01-10) sends PID-13 and PID-14 as bare numbers; the GHH
samples (v2.8) send repetitions with use codes, equipment types, dates, a preference
order, and PID-40.
"""

from __future__ import annotations

import pytest

from membercore.facts import PatientRegistered
from membercore.idempotency import fingerprint
from membercore.serialization import message_to_dict
from membercore.service.member import contact
from membercore_hl7v2 import receive, translate

from .conftest import MAPPING, open_engine, sample

#: ADT01-23's PID-13 and PID-14, as sent.
_BARE = "|8885551212|8885551212|"


def _xtn(**components: str) -> str:
    """An XTN of the components given by number (``c1="138..."``, ``c3="CP"``)."""
    numbered = {int(name[1:]): value for name, value in components.items()}
    return "^".join(numbered.get(n, "") for n in range(1, max(numbered) + 1))


def _registered(text: str) -> PatientRegistered:
    (registered,) = [f for f in translate(text, MAPPING).inputs if isinstance(f, PatientRegistered)]
    return registered


def _admission(home: str, business: str = "") -> PatientRegistered:
    """ADT01-23 with PID-13 ``home`` and PID-14 ``business``."""
    text = sample("ADT01-23.hl7").decode("utf-8-sig").replace("\n", "\r")
    assert _BARE in text
    return _registered(text.replace(_BARE, f"|{home}|{business}|"))


#: ADT-A04-02's PID-13 (PID-14 is ``7777^^CP~1111^^TDD``).
_GHH_HOME = "|78788788^^CP^5555^^^1111^^^^^2222^20010110^20020110^^^^18~12121212^^CP|"


def _ghh(pid40: str, home: str = _GHH_HOME) -> PatientRegistered:
    """ADT-A04-02 with PID-40 ``pid40`` (and PID-13 ``home``)."""
    text = sample("ADT-A04-02.hl7").decode().replace("\n", "\r")
    assert text.count("|89898989^WPN^Internet") == text.count(_GHH_HOME) == 1
    text = text.replace(_GHH_HOME, f"|{home}|" if home != _GHH_HOME else home)
    return _registered(text.replace("|89898989^WPN^Internet", f"|{pid40}"))


@pytest.mark.parametrize(
    ("name", "phone"),
    [
        # The first PID-13 repetition is in force 2001-2002, the message sent in 1989;
        # the second is a mobile; PID-14's 7777 (a mobile too) is the business phone.
        ("ADT-A04-02.hl7", "12121212"),
        ("ADT-A08-02.hl7", "12121212"),
        ("SIU-S12-01.hl7", "12121212"),
        ("ADT01-23.hl7", "8885551212"),
        ("LAB-ORU-1.hl7", "8885551212"),
        ("ORU-R01-RMGEAD.hl7", "(206)3345232"),
        # XTN-1 as written, not its area code and local number (111 1111111).
        ("ADT-A40-01.hl7", "(111)111-1111"),
    ],
)
def test_each_sample_gives_its_number_in_force_as_written_and_no_email_that_is_none(
    name: str, phone: str
) -> None:
    registered = _registered(sample(name).decode("utf-8-sig"))
    assert registered.phone == phone
    # The GHH samples' only network address (PID-40) is 89898989; their XTN-4 of a
    # mobile, 5555, is no e-mail address either.
    assert registered.email is None


def test_a_mobile_is_preferred_to_another_number_wherever_it_is_listed() -> None:
    landline = _xtn(c1="0571-88886666", c2="PRN", c3="PH")
    assert _admission(f"{landline}~{_xtn(c1='138 0013 8000', c2='PRN', c3='PH')}").phone == (
        "138 0013 8000"  # a mainland mobile, though sent as a telephone
    )
    mobile = _xtn(c2="PRN", c3="CP", c5="86", c7="13900139000")
    assert _admission(f"{landline}~{mobile}").phone == "+86 13900139000"
    assert _admission(landline).phone == "0571-88886666"


def test_the_preference_order_chooses_between_numbers_alike() -> None:
    second = _xtn(c1="13800138000", c2="PRN", c3="CP", c18="2")
    first = _xtn(c1="13900139000", c2="ORN", c3="CP", c18="1")
    unranked = _xtn(c1="13700137000", c2="PRN", c3="CP")
    assert _admission(f"{unranked}~{second}~{first}").phone == "13900139000"


def test_the_business_phone_is_taken_only_when_no_other_is_sent() -> None:
    assert _admission("N/A", "13800138000").phone == "13800138000"
    at_work = _xtn(c1="13800138000", c2="WPN", c3="CP")
    assert _admission(f"{at_work}~0571-88886666", "13900139000").phone == "0571-88886666"
    assert _admission(at_work, "13900139000").phone == "13800138000"
    assert _admission("", "").phone is None


def test_a_number_out_of_force_when_the_message_was_sent_is_passed_over() -> None:
    expired = _xtn(c1="13800138000", c3="CP", c13="20000101", c14="20041231")
    later = _xtn(c1="13900139000", c3="CP", c13="20060101")
    unreadable = _xtn(c1="13700137000", c3="CP", c14="2005-12-31")
    current = _xtn(c1="13600136000", c3="CP", c13="20040101", c14="20050110")
    home = "0571-88886666"
    assert _admission(f"{expired}~{later}~{unreadable}~{home}").phone == home
    assert _admission(f"{expired}~{current}~{home}").phone == "13600136000"


def test_an_email_is_a_network_address_that_is_one() -> None:
    mobile = _xtn(c1="13800138000", c2="PRN", c3="CP", c4="5555")
    internet = _xtn(c2="NET", c3="Internet", c4=" wang@163.com ")
    registered = _admission(f"{mobile}~{internet}")
    assert (registered.phone, registered.email) == ("13800138000", "wang@163.com")
    assert _admission(_xtn(c2="NET", c3="Internet", c4="N/A")).email is None
    assert _admission(_xtn(c1="li@example.cn", c2="NET", c3="X.400")).email == "li@example.cn"
    assert _admission("li@example.cn").email == "li@example.cn"  # not a number, though in one
    assert _admission("li@example.cn").phone is None


def test_pid_40_lists_addresses_as_its_use_codes_say() -> None:
    registered = _ghh(_xtn(c2="NET", c3="Internet", c4="li@example.cn"))
    assert (registered.phone, registered.email) == ("12121212", "li@example.cn")
    personal = _xtn(c1="13800138000", c2="PRS", c3="CP")
    assert _ghh(personal).phone == "12121212"  # PID-13's comes first
    # Without PID-13: PID-40's before PID-14's business phone (7777, a mobile).
    assert _ghh(personal, home="").phone == "13800138000"
    assert _ghh(_xtn(c1="0571-88886666", c2="PRN", c3="PH"), home="").phone == "0571-88886666"
    # A work number of PID-40 is one as PID-14's are: after the others, before PID-14.
    at_work = _xtn(c1="13900139000", c2="WPN", c3="CP")
    assert _ghh(f"{at_work}~0571-88886666", home="").phone == "0571-88886666"
    assert _ghh(at_work, home="").phone == "13900139000"


def test_a_fax_a_pager_a_text_telephone_and_an_emergency_number_are_not_the_patients() -> None:
    sent = [
        _xtn(c1="0571-1111111", c2="PRN", c3="FX"),
        _xtn(c1="13800138000", c2="BPN", c3="BP"),
        _xtn(c1="13900139000", c2="EMR", c3="CP"),
        _xtn(c1="13700137000", c2="ASN", c3="PH"),
        _xtn(c1="0571-2222222", c2="PRN", c3="TDD"),
    ]
    assert _admission("~".join(sent)).phone is None


def test_a_registration_without_an_address_is_stored_as_before() -> None:
    registered = _admission("N/A^PRN^PH", _xtn(c17="0"))
    assert (registered.phone, registered.email) == (None, None)
    assert not {"phone", "email"} & set(message_to_dict(registered))
    # The fingerprint of the same registration before addresses were read.
    assert fingerprint(registered) == "w1:4831f0eb21197051b21b"


def test_a_sample_s_number_is_the_members_address_for_sms_and_calls() -> None:
    with open_engine("memory://") as engine:
        received = receive(sample("ADT01-23.hl7"), MAPPING, where="ADT01-23.hl7")
        report = engine.ingest(received.inputs)
        assert report.rejected == 0, report.refusals
        member = engine.member("10006579")
        assert contact(member, "sms") == contact(member, "phone") == "8885551212"
        assert contact(member, "email") is None
