from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest

from membercore import (
    IdempotencyConflictError,
    InvalidFactError,
    MemberMismatchError,
    serialization,
)
from membercore import consent as c
from membercore import outreach as o
from membercore.config import ProgrammeConfig
from membercore.config.outreach import (
    MessageTemplate,
    OutreachPolicy,
    reference_outreach,
    reference_templates,
)
from membercore.errors import ConfigError, NaiveInstantError
from membercore.serialization import converter, dump_config, load_config

SH = ZoneInfo("Asia/Shanghai")
ME = "p-li"
CONFIG = ProgrammeConfig(outreach=reference_outreach())
REMINDER = {"name": "李雷", "date": "5月12日", "department": "内分泌科"}


def _at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """An instant in May 2026, Shanghai time; 11 May 2026 is a Monday."""
    return datetime(2026, 5, day, hour, minute, second, tzinfo=SH)


def _consent(**granted: tuple[c.Channel, ...]) -> c.ConsentState:
    state = c.ConsentState(member_id=ME)
    for number, (purpose, channels) in enumerate(granted.items()):
        grant = c.GrantConsent(
            key=f"grant-{number}",
            member_id=ME,
            purpose=purpose,  # type: ignore[arg-type]
            channels=channels,
            given_by=ME,
            source="小程序",
        )
        for event in c.decide(grant, state, _at(1, 9)):
            state = c.evolve(state, event)
    return state


def _withdraw(
    state: c.ConsentState, purpose: c.Purpose, *channels: c.Channel, key: str = "w-1"
) -> c.ConsentState:
    command = c.WithdrawConsent(key=key, member_id=ME, purpose=purpose, channels=channels)
    for event in c.decide(command, state, _at(1, 9)):
        state = c.evolve(state, event)
    return state


def _request(
    key: str = "r-1",
    template: str = "appointment_reminder",
    purpose: c.Purpose = "care",
    variables: dict[str, str] | None = None,
    *,
    urgent: bool = False,
) -> o.RequestMessage:
    return o.RequestMessage(
        key=key,
        member_id=ME,
        template_key=template,
        purpose=purpose,
        variables=REMINDER if variables is None else variables,
        urgent=urgent,
        reason="journey check-up follow-up, step 2",
    )


def _offer(key: str) -> o.RequestMessage:
    return _request(key, "annual_plan_offer", "marketing", {"name": "李雷", "price": "599"})


def _run(
    state: o.OutreachState,
    command: o.RequestMessage,
    consent: c.ConsentState,
    now: datetime,
    config: ProgrammeConfig = CONFIG,
    **context: Any,
) -> tuple[o.OutreachEvent, o.OutreachState]:
    events = o.decide(command, state, consent, config, now, **context)
    assert len(events) == 1
    return events[0], o.evolve(state, events[0])


def _one(
    command: o.RequestMessage, consent: c.ConsentState, now: datetime, **context: Any
) -> o.OutreachEvent:
    return _run(o.OutreachState(member_id=ME), command, consent, now, **context)[0]


def _queued(event: o.OutreachEvent) -> o.MessageQueued:
    assert isinstance(event, o.MessageQueued), event
    return event


def _refused(event: o.OutreachEvent) -> o.MessageRefused:
    assert isinstance(event, o.MessageRefused), event
    return event


# --- consent, per purpose and channel ------------------------------------------------------


def test_a_care_message_goes_by_the_first_channel_the_member_consents_to() -> None:
    event = _queued(_one(_request(), _consent(care=("wecom", "sms")), _at(11, 10)))
    assert (event.message_id, event.channel, event.purpose) == ("p-li/msg/1", "wecom", "care")
    assert event.text == "李雷您好，提醒您5月12日在内分泌科就诊，请按时到院。"
    assert event.send_at == _at(11, 10)
    assert event.send_at.tzinfo is UTC


def test_care_consent_does_not_open_the_door_to_marketing() -> None:
    event = _refused(_one(_offer("r-1"), _consent(care=("wecom", "sms")), _at(11, 10)))
    assert event.reason == "no_consent"
    assert "no marketing consent on wecom, sms (consented: none)" in event.explanation


def test_consent_is_per_channel_and_e_mail_is_used_only_when_the_member_prefers_it() -> None:
    consent = _consent(marketing=("email",))
    assert _refused(_one(_offer("r-1"), consent, _at(11, 10))).reason == "no_consent"
    event = _queued(_one(_offer("r-1"), consent, _at(11, 10), preferred=("email",)))
    assert event.channel == "email"


def test_the_members_preferred_channel_comes_before_the_fallback_order() -> None:
    consent = _consent(care=("wecom", "sms"))
    event = _queued(_one(_request(), consent, _at(11, 10), preferred=("sms", "wecom")))
    assert event.channel == "sms"


def test_without_wecom_consent_the_message_falls_back_to_sms() -> None:
    event = _queued(_one(_request(), _consent(care=("sms", "phone")), _at(11, 10)))
    assert event.channel == "sms"
    assert "channel sms (no consent on wecom), care consent on sms, phone" in event.explanation


def test_without_a_message_channel_the_fallback_is_a_staff_call_task() -> None:
    event = _one(
        _request(template="hba1c_recheck", variables={"name": "李雷"}),
        _consent(care=("phone",)),
        _at(11, 10),
    )
    assert isinstance(event, o.PhoneTaskRequested)
    assert event.message_id == "p-li/msg/1"
    assert event.text == "李雷您好，您的糖化血红蛋白复查已到期，请预约复查。"
    assert event.due_at == _at(11, 10)
    assert "channel phone (no consent on wecom, sms)" in event.explanation


def test_a_care_message_no_consented_channel_carries_becomes_a_call_when_phone_is_consented() -> (
    None
):
    # diabetes_intro goes by WeCom, SMS or e-mail; the member may be reached by phone only.
    command = _request(template="diabetes_intro", variables={"name": "李雷"})
    event = _one(command, _consent(care=("phone",)), _at(11, 10))
    assert isinstance(event, o.PhoneTaskRequested)
    assert event.text.startswith("李雷您好")
    assert "a call instead" in event.explanation
    no_calls = attrs.evolve(CONFIG.outreach, channel_order=("wecom", "sms"))
    config = attrs.evolve(CONFIG, outreach=no_calls)
    refused = _refused(_one(command, _consent(care=("phone",)), _at(11, 10), config=config))
    assert refused.reason == "no_consent"  # the hospital asks for no calls in place of messages


def test_consent_to_a_channel_the_template_may_not_use_is_no_consent() -> None:
    # hba1c_recheck may go by wecom, sms or phone; e-mail consent does not help.
    command = _request(template="hba1c_recheck", variables={"name": "李雷"})
    event = _refused(_one(command, _consent(care=("email",)), _at(11, 10), preferred=("email",)))
    assert event.reason == "no_consent"
    assert "no care consent on wecom, sms, phone (consented: email)" in event.explanation


def test_a_template_whose_channels_are_neither_preferred_nor_in_the_fallback_has_no_channel() -> (
    None
):
    newsletter = MessageTemplate(
        key="newsletter",
        purpose="marketing",
        texts={"zh-CN": "${name}您好，本月会员日活动预告。"},
        channels=("email",),
        variables=("name",),
    )
    config = ProgrammeConfig(outreach=OutreachPolicy(templates=(newsletter,)))
    command = _request(template="newsletter", purpose="marketing", variables={"name": "李雷"})
    event = _refused(_one(command, _consent(marketing=("email",)), _at(11, 10), config=config))
    assert event.reason == "no_channel"
    assert "the template may go by email only; tried wecom, sms, phone" in event.explanation


# --- quiet hours --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "sent"),
    [
        (_at(11, 20, 59), _at(11, 20, 59)),
        (_at(11, 21, 0), _at(12, 8, 0)),
        (_at(11, 23, 30), _at(12, 8, 0)),
        (_at(12, 0, 30), _at(12, 8, 0)),
        (_at(12, 7, 59), _at(12, 8, 0)),
        (_at(12, 8, 0), _at(12, 8, 0)),
    ],
    ids=["20:59", "21:00", "23:30", "00:30 after midnight", "07:59", "08:00"],
)
def test_messages_asked_for_in_quiet_hours_are_deferred_to_their_end(
    asked: datetime, sent: datetime
) -> None:
    event = _queued(_one(_request(), _consent(care=("wecom",)), asked))
    assert event.send_at == sent
    assert event.decided_at == asked


def test_the_explanation_says_when_and_why_a_message_was_deferred() -> None:
    event = _queued(_one(_request(), _consent(care=("wecom",)), _at(11, 22, 15)))
    assert (
        "asked at 2026-05-11 22:15, in quiet hours 21:00–08:00 Asia/Shanghai: "
        "deferred to 2026-05-12 08:00"
    ) in event.explanation


def test_an_urgent_care_message_is_not_deferred() -> None:
    command = _request(urgent=True)
    event = _queued(_one(command, _consent(care=("wecom",)), _at(11, 23, 0)))
    assert event.send_at == _at(11, 23, 0)
    assert "not deferred: urgent care" in event.explanation


def test_only_care_messages_may_be_urgent() -> None:
    with pytest.raises(InvalidFactError, match="only care messages may be urgent"):
        _request(template="annual_plan_offer", purpose="marketing", urgent=True)


def test_a_call_task_asked_for_at_night_is_due_in_the_morning() -> None:
    command = _request(template="hba1c_recheck", variables={"name": "李雷"})
    event = _one(command, _consent(care=("phone",)), _at(11, 21, 30))
    assert isinstance(event, o.PhoneTaskRequested)
    assert event.due_at == _at(12, 8, 0)


def test_quiet_hours_need_not_span_midnight_and_may_be_switched_off() -> None:
    policy = OutreachPolicy(quiet_start="12:00", quiet_end="14:00")
    assert o.quiet_until(_at(11, 11, 59), policy, SH) is None
    assert o.quiet_until(_at(11, 12, 0), policy, SH) == _at(11, 14, 0)
    assert o.quiet_until(_at(11, 14, 0), policy, SH) is None
    assert o.quiet_until(_at(11, 23, 0), policy, SH) is None
    always = OutreachPolicy(quiet_start="08:00", quiet_end="08:00")
    assert always.quiet_hours() is None
    assert o.quiet_until(_at(11, 3, 0), always, SH) is None


# --- weekly caps --------------------------------------------------------------------------


def test_the_marketing_cap_counts_a_rolling_week_to_the_second() -> None:
    consent = _consent(marketing=("wecom",))
    state = o.OutreachState(member_id=ME)
    _, state = _run(state, _offer("r-1"), consent, _at(11, 10))  # Monday 10:00
    _, state = _run(state, _offer("r-2"), consent, _at(12, 10))  # Tuesday 10:00
    # Next Monday 09:59:59 still shares a rolling week with last Monday 10:00.
    early = _refused(_run(state, _offer("r-3"), consent, _at(18, 9, 59, 59))[0])
    assert early.reason == "weekly_cap"
    assert (
        "2 marketing messages already in a rolling week holding 2026-05-18 09:59; the cap is 2"
    ) in early.explanation
    # Exactly seven days later the Monday message has left the week.
    event = _queued(_run(state, _offer("r-3"), consent, _at(18, 10))[0])
    assert "2 of 2 marketing in the rolling week" in event.explanation


def test_caps_count_messages_by_when_they_go_out_not_when_they_were_asked_for() -> None:
    consent = _consent(marketing=("wecom",))
    state = o.OutreachState(member_id=ME)
    first, state = _run(state, _offer("r-1"), consent, _at(11, 22))  # goes Tue 12, 08:00
    assert _queued(first).send_at == _at(12, 8)
    _, state = _run(state, _offer("r-2"), consent, _at(13, 10))  # Wednesday 10:00
    # Asked Tue 19 at 07:00 (a week after first went out less an hour), it goes at 08:00:
    # exactly a week after the first, which therefore no longer counts.
    event = _queued(_run(state, _offer("r-3"), consent, _at(19, 7))[0])
    assert event.send_at == _at(19, 8)


def test_caps_are_per_purpose() -> None:
    consent = _consent(marketing=("wecom",), care=("wecom",), research=("wecom",))
    state = o.OutreachState(member_id=ME)
    for key in ("m-1", "m-2"):
        _, state = _run(state, _offer(key), consent, _at(11, 10))
    assert _refused(_run(state, _offer("m-3"), consent, _at(11, 11))[0]).reason == "weekly_cap"
    event, state = _run(state, _request("c-1"), consent, _at(11, 11))
    assert _queued(event).message_id == "p-li/msg/3"
    study = _request("s-1", "research_invitation", "research", {"name": "李雷"})
    _, state = _run(state, study, consent, _at(11, 11))
    again = attrs.evolve(study, key="s-2")
    assert _refused(_run(state, again, consent, _at(11, 12))[0]).reason == "weekly_cap"


def test_a_message_going_out_before_others_still_respects_every_rolling_week() -> None:
    sent = [
        o.SentMessage(message_id=f"m{n}", at=_at(day, 10), purpose="marketing", channel="sms")
        for n, day in enumerate((14, 15))
    ]
    # 11 May 10:00 shares the week [11 May 10:00, 18 May 10:00) with both.
    assert o.weekly_load(sent, "marketing", _at(11, 10)) == 2
    # 8 May 10:00: the week [8 May 10:00, 15 May 10:00) holds only the 14 May one.
    assert o.weekly_load(sent, "marketing", _at(8, 10)) == 1
    assert o.weekly_load(sent, "marketing", _at(7, 10)) == 0
    assert o.weekly_load(sent, "care", _at(14, 10)) == 0


# --- templates ----------------------------------------------------------------------------


def test_the_members_language_is_used_when_the_template_has_it() -> None:
    event = _queued(_one(_request(), _consent(care=("wecom",)), _at(11, 10), language="en"))
    assert event.language == "en"
    assert event.text == "Dear 李雷, a reminder of your visit to 内分泌科 on 5月12日."


@pytest.mark.parametrize(
    ("language", "says"), [("en", "Dear valued member,"), ("zh-CN", "尊敬的会员")]
)
def test_a_member_without_a_name_is_addressed_in_the_text_s_language(
    language: str, says: str
) -> None:
    unnamed = {name: value for name, value in REMINDER.items() if name != "name"}
    consent = _consent(care=("wecom",))
    event = _queued(_one(_request(variables=unnamed), consent, _at(11, 10), language=language))
    assert event.language == language
    assert says in event.text
    assert ("valued member" in event.text) == (language == "en")  # never the other's words
    named = _queued(_one(_request(), consent, _at(11, 10), language=language))
    assert "李雷" in named.text  # a name the record gives is the name said


@pytest.mark.parametrize(
    ("template", "language"),
    [("appointment_reminder", "ja"), ("research_invitation", "en")],
)
def test_a_template_without_the_members_language_falls_back_to_chinese(
    template: str, language: str
) -> None:
    purpose: c.Purpose = "research" if template == "research_invitation" else "care"
    command = _request(template=template, purpose=purpose)
    consent = _consent(**{purpose: ("wecom",)})
    event = _queued(_one(command, consent, _at(11, 10), language=language))
    assert event.language == "zh-CN"
    assert event.text.startswith("李雷您好")
    assert f"text in zh-CN ({language} missing)" in event.explanation


@pytest.mark.parametrize(
    "payload",
    [
        "${department}",
        "${date}${name}",
        "$department",
        "{0.__class__}",
        "{name.__init__.__globals__}",
        "%(name)s",
        "\\g<0> \\1",
    ],
)
def test_a_variable_value_is_inserted_literally_and_never_expanded(payload: str) -> None:
    variables = {**REMINDER, "name": payload}
    event = _queued(_one(_request(variables=variables), _consent(care=("wecom",)), _at(11, 10)))
    assert event.text == f"{payload}您好，提醒您5月12日在内分泌科就诊，请按时到院。"


def test_only_dollar_brace_placeholders_in_operator_text_are_interpreted() -> None:
    text = "{0.__class__} $name ${ name } $${name} ${name}"
    assert o.render(text, {"name": "王"}) == "{0.__class__} $name ${ name } $王 王"
    assert o.render("${unknown}", {}) == "${unknown}"


def test_a_request_without_every_variable_the_text_uses_is_refused() -> None:
    command = _request(variables={"name": "李雷"})
    event = _refused(_one(command, _consent(care=("wecom",)), _at(11, 10)))
    assert event.reason == "missing_variables"
    assert "no value for date, department" in event.explanation


def test_an_unknown_template_is_refused_and_recorded() -> None:
    event = _refused(_one(_request(template="nope"), _consent(care=("wecom",)), _at(11, 10)))
    assert (event.reason, event.template_key, event.purpose) == ("unknown_template", "nope", "care")
    assert event.explanation == (
        "care message 'nope' asked by journey check-up follow-up, step 2: refused, the "
        "outreach policy has no such template (policy v1)"
    )


def test_a_request_whose_purpose_is_not_the_templates_is_refused() -> None:
    command = _request(template="annual_plan_offer", purpose="care")
    event = _refused(_one(command, _consent(care=("wecom",)), _at(11, 10)))
    assert event.reason == "purpose_mismatch"
    assert "the template is a marketing message" in event.explanation


# --- configuration ------------------------------------------------------------------------


def _template(channels: tuple[c.Channel, ...], text: str = "请${name}复查${diagnosis}") -> Any:
    return MessageTemplate(
        key="recheck",
        purpose="care",
        texts={"zh-CN": text},
        channels=channels,
        variables=("name", "diagnosis"),
    )


@pytest.mark.parametrize("channel", ["sms", "wecom", "email"])
def test_a_diagnosis_may_not_go_out_on_an_external_channel(channel: c.Channel) -> None:
    with pytest.raises(ConfigError, match="may only be carried by a phone task") as caught:
        OutreachPolicy(templates=(_template(("phone", channel)),))
    assert caught.value.key == "templates[0].texts"


def test_a_diagnosis_may_go_in_a_call_script() -> None:
    policy = OutreachPolicy(templates=(_template(("phone",)),))
    assert policy.template("recheck") is not None


def test_sensitive_variables_are_recognised_whatever_their_case_or_if_only_declared() -> None:
    shouting = MessageTemplate(
        key="x",
        purpose="care",
        texts={"zh-CN": "${ICD10}"},
        channels=("sms",),
        variables=("ICD10",),
    )
    with pytest.raises(ConfigError) as caught:
        OutreachPolicy(templates=(shouting,))
    assert caught.value.key == "templates[0].texts"
    declared = _template(("sms",), text="请${name}复查")
    with pytest.raises(ConfigError) as caught:
        OutreachPolicy(templates=(declared,))
    assert caught.value.key == "templates[0].variables"


def test_the_loader_names_the_offending_template_of_the_programme() -> None:
    data = dump_config(CONFIG)
    assert data["outreach"]["templates"][2]["key"] == "health_manager_call"
    data["outreach"]["templates"][2]["channels"] = ["phone", "sms"]
    with pytest.raises(ConfigError) as caught:
        load_config(data)
    assert caught.value.key == "$.outreach.templates[2].texts"


def test_the_reference_policy_survives_a_round_trip_through_plain_data() -> None:
    assert load_config(json.loads(json.dumps(dump_config(CONFIG)))) == CONFIG


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"quiet_start": "24:00"}, "quiet_start"),
        ({"quiet_end": "8:00"}, "quiet_end"),
        ({"weekly_caps": {"sales": 1}}, "weekly_caps['sales']"),
        ({"weekly_caps": {"care": -1}}, "weekly_caps['care']"),
        ({"channel_order": ("wecom", "fax")}, "channel_order"),
        ({"channel_order": ("sms", "sms")}, "channel_order"),
        ({"sensitive_variables": ("icd-10",)}, "sensitive_variables[0]"),
        ({"version": 0}, "version"),
        ({"templates": reference_templates()[:2] * 2}, "templates[2].key"),
    ],
)
def test_an_invalid_policy_names_its_key(change: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        OutreachPolicy(**change)
    assert caught.value.key == key


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"texts": {"en": "Hello"}}, "texts"),
        ({"texts": {"zh-CN": "你好", "en": "  "}}, "texts['en']"),
        ({"texts": {"zh-CN": "你好", "en": "Hi ${nmae}"}}, "texts['en']"),
        ({"channels": ()}, "channels"),
        ({"purpose": "sales"}, "purpose"),
        ({"key": " "}, "key"),
    ],
)
def test_an_invalid_template_names_its_key(change: dict[str, Any], key: str) -> None:
    fields: dict[str, Any] = {
        "key": "hello",
        "purpose": "care",
        "texts": {"zh-CN": "${name}您好"},
        "channels": ("wecom",),
        "variables": ("name",),
    }
    with pytest.raises(ConfigError) as caught:
        MessageTemplate(**{**fields, **change})
    assert caught.value.key == key


def test_the_default_policy_is_the_reference_without_templates() -> None:
    policy = OutreachPolicy()
    assert (policy.quiet_start, policy.quiet_end) == ("21:00", "08:00")
    assert dict(policy.weekly_caps) == {"care": 10, "marketing": 2, "research": 1}
    assert policy.channel_order == ("wecom", "sms", "phone")
    assert policy.templates == ()
    assert reference_outreach() == attrs.evolve(policy, templates=reference_templates())


# --- refusals, withdrawal, idempotency, replay ---------------------------------------------


def test_a_refusal_records_its_key_but_takes_no_message_id() -> None:
    consent = _consent(care=("wecom",))
    refused, state = _run(
        o.OutreachState(member_id=ME), _request(template="nope"), consent, _at(11, 10)
    )
    assert state.keys == {"r-1": _refused(refused).fingerprint}
    assert state.sent == ()
    event, state = _run(state, _request("r-2"), consent, _at(11, 10))
    assert _queued(event).message_id == "p-li/msg/1"


def test_withdrawing_consent_cancels_the_pending_messages_of_that_purpose_at_once() -> None:
    consent = _consent(care=("wecom",), marketing=("wecom", "sms"))
    state = o.OutreachState(member_id=ME)
    offer, state = _run(state, _offer("m-1"), consent, _at(11, 22))  # due Tue 08:00
    care, state = _run(state, _request("c-1"), consent, _at(11, 22))  # due Tue 08:00
    consent = _withdraw(consent, "marketing")
    cancelled = o.cancel_pending(state, consent, _at(11, 22, 30))
    assert [(e.message_id, e.purpose, e.channel) for e in cancelled] == [
        (_queued(offer).message_id, "marketing", "wecom")
    ]
    assert "marketing consent on wecom withdrawn" in cancelled[0].explanation
    for event in cancelled:
        state = o.evolve(state, event)
    assert [item.message_id for item in state.pending(_at(11, 22, 30))] == [
        _queued(care).message_id
    ]
    assert o.cancel_pending(state, consent, _at(11, 22, 30)) == []
    later = _refused(_run(state, _offer("m-2"), consent, _at(12, 9))[0])
    assert later.reason == "no_consent"


def test_withdrawing_another_channel_or_after_the_message_went_out_cancels_nothing() -> None:
    consent = _consent(marketing=("wecom", "sms"))
    state = o.OutreachState(member_id=ME)
    queued, state = _run(state, _offer("m-1"), consent, _at(11, 22))  # wecom, due Tue 08:00
    assert o.cancel_pending(state, _withdraw(consent, "marketing", "sms"), _at(11, 23)) == []
    withdrawn = _withdraw(consent, "marketing")
    # Due but not handed over (a dispatcher has not got to it yet): cancelled.
    (cancelled,) = o.cancel_pending(state, withdrawn, _at(12, 9))
    assert cancelled.message_id == queued.message_id
    handed = o.MessageHandedOver(
        member_id=ME, message_id=queued.message_id, channel="wecom", at=_at(12, 8)
    )
    assert o.cancel_pending(o.evolve(state, handed), withdrawn, _at(12, 9)) == []  # it has gone


def test_a_cancelled_message_frees_its_place_under_the_cap() -> None:
    consent = _consent(marketing=("wecom", "sms"))
    state = o.OutreachState(member_id=ME)
    _, state = _run(state, _offer("m-1"), consent, _at(11, 22))  # wecom
    _, state = _run(state, _offer("m-2"), consent, _at(11, 22))  # wecom
    for event in o.cancel_pending(state, _withdraw(consent, "marketing", "wecom"), _at(11, 23)):
        state = o.evolve(state, event)
    consent = _withdraw(consent, "marketing", "wecom")
    event = _queued(_run(state, _offer("m-3"), consent, _at(11, 23))[0])
    assert (event.channel, event.message_id) == ("sms", "p-li/msg/3")


def test_the_same_request_twice_is_decided_once() -> None:
    consent = _consent(care=("wecom",))
    _, state = _run(o.OutreachState(member_id=ME), _request(), consent, _at(11, 10))
    assert o.decide(_request(), state, consent, CONFIG, _at(11, 12)) == []
    reordered = _request(variables=dict(reversed(list(REMINDER.items()))))
    assert o.decide(reordered, state, consent, CONFIG, _at(11, 12)) == []


def test_a_key_reused_for_another_request_is_refused() -> None:
    consent = _consent(care=("wecom",))
    _, state = _run(o.OutreachState(member_id=ME), _request(), consent, _at(11, 10))
    with pytest.raises(IdempotencyConflictError):
        o.decide(_request(template="hba1c_recheck"), state, consent, CONFIG, _at(11, 12))


def test_replaying_the_events_rebuilds_the_state() -> None:
    consent = _consent(care=("wecom", "phone"), marketing=("sms",))
    state = o.OutreachState(member_id=ME)
    events: list[o.OutreachEvent] = []
    for command, now in (
        (_request("c-1"), _at(11, 10)),
        (_offer("m-1"), _at(11, 22)),
        (_request("c-2", template="nope"), _at(12, 9)),
        (
            _request(
                "c-3", "health_manager_call", variables={"name": "李雷", "diagnosis": "2型糖尿病"}
            ),
            _at(12, 9),
        ),
    ):
        event, state = _run(state, command, consent, now)
        events.append(event)
    cancelled = o.cancel_pending(state, _withdraw(consent, "marketing"), _at(11, 23))
    for event in cancelled:
        state = o.evolve(state, event)
    events += cancelled
    assert o.replay(ME, events) == state
    assert state.seq == 3
    assert [item.message_id for item in state.sent] == ["p-li/msg/1", "p-li/msg/3"]


def test_what_went_out_two_weeks_before_a_decision_is_forgotten() -> None:
    consent = _consent(care=("wecom",))
    _, state = _run(o.OutreachState(member_id=ME), _request("c-1"), consent, _at(1, 10))
    _, state = _run(state, _request("c-2"), consent, _at(15, 10, 0, 1))
    assert [item.at for item in state.sent] == [_at(15, 10, 0, 1)]


def test_another_members_request_or_consent_is_an_error() -> None:
    state = o.OutreachState(member_id=ME)
    other = c.ConsentState(member_id="p-han")
    with pytest.raises(MemberMismatchError):
        o.decide(_request(), state, other, CONFIG, _at(11, 10))
    with pytest.raises(MemberMismatchError):
        o.decide(
            attrs.evolve(_request(), member_id="p-han"), state, _consent(), CONFIG, _at(11, 10)
        )
    with pytest.raises(MemberMismatchError):
        o.cancel_pending(state, other, _at(11, 10))


def test_a_naive_now_is_refused() -> None:
    naive = datetime(2026, 5, 11, 10)  # noqa: DTZ001
    with pytest.raises(NaiveInstantError):
        o.decide(_request(), o.OutreachState(member_id=ME), _consent(), CONFIG, naive)


# --- the messages as data ------------------------------------------------------------------


def _every_kind_of_event() -> Iterable[o.OutreachEvent]:
    consent = _consent(care=("wecom", "phone"), marketing=("sms",))
    state = o.OutreachState(member_id=ME)
    yield (queued := _run(state, _offer("m-1"), consent, _at(11, 22))[0])
    yield _one(
        _request(template="health_manager_call", variables={"name": "李雷", "diagnosis": "高血压"}),
        _consent(care=("phone",)),
        _at(11, 10),
    )
    yield _one(_request(template="nope"), consent, _at(11, 10))
    state = o.evolve(state, queued)
    yield from o.cancel_pending(state, _withdraw(consent, "marketing"), _at(11, 23))
    yield o.MessageHandedOver(member_id=ME, message_id="m-1", channel="sms", at=_at(12, 8))
    yield o.MessageDeliveryFailed(
        member_id=ME, message_id="m-1", at=_at(12, 8), error="timeout", retry_at=_at(12, 9)
    )
    yield o.MessageDelivered(
        member_id=ME, message_id="m-1", channel="sms", purpose="marketing", at=_at(12, 9)
    )


def test_every_outreach_message_survives_a_round_trip_through_json() -> None:
    note = o.NoteDelivery(
        member_id=ME, message_id="m-1", at=_at(12, 9), delivered=False, detail="no such number"
    )
    messages: list[Any] = [_request(), note, *_every_kind_of_event()]
    assert sorted(type(m).__name__ for m in messages) == sorted(t.__name__ for t in o.MESSAGE_TYPES)
    for message in messages:
        data = json.loads(json.dumps(converter().unstructure(message)))
        assert converter().structure(data, type(message)) == message


def test_outreach_type_tags_are_stable_and_unique() -> None:
    tags = [kind.TYPE for kind in o.MESSAGE_TYPES]
    assert tags == [
        "request_message",
        "message_queued",
        "phone_task_requested",
        "message_refused",
        "message_cancelled",
        "message_handed_over",
        "message_delivery_failed",
        "message_delivered",
        "note_delivery",
    ]
    # None collides with the tags already registered for serialization.
    assert set(tags).isdisjoint(set(serialization._MESSAGE_TYPES) - set(tags))


def test_the_hand_over_cancels_for_a_dead_member_or_without_consent_and_holds_at_night() -> None:
    consent = _consent(care=("wecom",))
    queued, state = _run(o.OutreachState(member_id=ME), _request(), consent, _at(11, 10))
    message_id = queued.message_id  # type: ignore[union-attr]
    sent = o.hand_over(message_id, "wecom", state, consent, CONFIG, _at(11, 11))
    assert sent.send
    assert isinstance(sent.events[0], o.MessageHandedOver)
    dead = o.hand_over(message_id, "wecom", state, consent, CONFIG, _at(11, 11), alive=False)
    assert not dead.send
    assert "died" in dead.events[0].explanation  # type: ignore[union-attr]
    none = _withdraw(consent, "care")
    refused = o.hand_over(message_id, "wecom", state, none, CONFIG, _at(11, 11))
    assert not refused.send
    assert "no care consent" in refused.events[0].explanation  # type: ignore[union-attr]
    night = o.hand_over(message_id, "wecom", state, consent, CONFIG, _at(11, 22))
    assert (night.send, night.events, night.later) == (False, (), _at(12, 8))
