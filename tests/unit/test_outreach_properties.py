from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore import consent as c
from membercore import outreach as o
from membercore.config import ProgrammeConfig
from membercore.config.outreach import (
    EXTERNAL_CHANNELS,
    MessageTemplate,
    OutreachPolicy,
    reference_outreach,
)
from membercore.errors import ConfigError

SH = ZoneInfo("Asia/Shanghai")
ME = "p-li"
CONFIG = ProgrammeConfig(outreach=reference_outreach())
POLICY = CONFIG.outreach
START = datetime(2026, 5, 11, 0, 0, tzinfo=SH)
TEMPLATES = POLICY.templates

# Values a journey might pass, and values an attacker would try.
values = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["${name}", "${diagnosis}", "{0.__class__}", "$date", "\\g<0>", "%s"]),
)
consents = st.fixed_dictionaries(
    {purpose: st.frozensets(st.sampled_from(c.CHANNELS)) for purpose in c.PURPOSES}
).map(lambda granted: c.ConsentState(member_id=ME, granted=granted))
preferences = st.lists(st.sampled_from(c.CHANNELS), unique=True, max_size=4).map(tuple)
languages = st.sampled_from(["zh-CN", "en", "ja"])


@st.composite
def requests(draw: st.DrawFn, key: str) -> o.RequestMessage:
    template: MessageTemplate | None = draw(st.sampled_from((*TEMPLATES, None)))
    if template is None:
        return o.RequestMessage(
            key=key,
            member_id=ME,
            template_key="no-such-template",
            purpose=draw(st.sampled_from(c.PURPOSES)),
            reason="property",
        )
    # Mostly the template's own purpose; sometimes a wrong one.
    purpose = draw(st.sampled_from((template.purpose,) * 4 + c.PURPOSES))
    # Mostly every variable; sometimes one is left out.
    variables = {name: draw(values) for name in template.variables if draw(st.integers(0, 9)) > 0}
    urgent = purpose == "care" and draw(st.integers(0, 3)) == 0
    return o.RequestMessage(
        key=key,
        member_id=ME,
        template_key=template.key,
        purpose=purpose,
        variables=variables,
        urgent=urgent,
        reason="property",
    )


@attrs.frozen
class Ask:
    command: o.RequestMessage
    at: datetime


@attrs.frozen
class Change:
    purpose: c.Purpose
    channels: frozenset[c.Channel]
    at: datetime


def _instants(span: timedelta) -> st.SearchStrategy[datetime]:
    minutes = int(span.total_seconds() // 60)
    return st.integers(0, minutes - 1).map(lambda m: START + timedelta(minutes=m))


@st.composite
def histories(draw: st.DrawFn) -> list[Ask | Change]:
    """Requests and consent changes over three weeks, in time order."""
    steps: list[Ask | Change] = []
    for number in range(draw(st.integers(1, 30))):
        at = draw(_instants(timedelta(days=21)))
        if draw(st.integers(0, 5)) == 0:
            purpose = draw(st.sampled_from(c.PURPOSES))
            channels = draw(st.frozensets(st.sampled_from(c.CHANNELS)))
            steps.append(Change(purpose, channels, at))
        else:
            steps.append(Ask(draw(requests(f"r-{number}")), at))
    return sorted(steps, key=lambda step: step.at)


def _when(event: o.MessageQueued | o.PhoneTaskRequested) -> datetime:
    return event.send_at if isinstance(event, o.MessageQueued) else event.due_at


def _channel(event: o.MessageQueued | o.PhoneTaskRequested) -> c.Channel:
    return event.channel if isinstance(event, o.MessageQueued) else "phone"


def _most_in_a_rolling_week(times: Iterable[datetime]) -> int:
    ordered = sorted(times)
    return max((sum(1 for t in ordered if s <= t < s + o.WEEK) for s in ordered), default=0)


def _assert_caps_hold(events: Sequence[o.OutreachEvent]) -> None:
    cancelled = {e.message_id for e in events if isinstance(e, o.MessageCancelled)}
    live = [
        e
        for e in events
        if isinstance(e, o.MessageQueued | o.PhoneTaskRequested) and e.message_id not in cancelled
    ]
    for purpose in c.PURPOSES:
        cap = POLICY.weekly_cap(purpose)
        assert cap is not None
        times = [_when(e) for e in live if e.purpose == purpose]
        assert _most_in_a_rolling_week(times) <= cap, (purpose, sorted(times))


@pytest.mark.slow
@given(history=histories(), consent=consents, preferred=preferences, language=languages)
def test_the_policy_holds_over_any_history(
    history: list[Ask | Change],
    consent: c.ConsentState,
    preferred: tuple[c.Channel, ...],
    language: str,
) -> None:
    state = o.OutreachState(member_id=ME)
    journal: list[o.OutreachEvent] = []
    for step in history:
        if isinstance(step, Change):
            consent = attrs.evolve(
                consent, granted={**consent.granted, step.purpose: step.channels}
            )
            cancelled = o.cancel_pending(state, consent, step.at)
            for event in cancelled:
                state = o.evolve(state, event)
            journal += cancelled
            # Withdrawal stops outreach at once: nothing pending lacks consent.
            for item in state.pending(step.at):
                assert c.allows(consent, item.purpose, item.channel)
            continue
        events = o.decide(
            step.command, state, consent, CONFIG, step.at, preferred=preferred, language=language
        )
        assert len(events) == 1
        (event,) = events
        assert event.key == step.command.key
        if isinstance(event, o.MessageQueued | o.PhoneTaskRequested):
            # No message without consent for its purpose and channel, when it is decided.
            assert c.allows(consent, event.purpose, _channel(event))
            template = POLICY.template(event.template_key)
            assert template is not None
            # A channel the template may use; or, for care, a call standing in for a
            # template that no channel the member consents to can carry.
            candidates = o.candidate_channels(template, POLICY, preferred)
            assert _channel(event) in template.channels or (
                event.purpose == "care"
                and _channel(event) == "phone"
                and not any(c.allows(consent, "care", channel) for channel in candidates)
            )
            # None scheduled in quiet hours, except urgent care; none before it was asked.
            assert _when(event) >= step.at
            assert _when(event) - step.at <= timedelta(hours=11)
            if not step.command.urgent:
                assert o.quiet_until(_when(event), POLICY, SH) is None
        state = o.evolve(state, event)
        journal.append(event)
        # The same request again changes nothing.
        assert o.decide(step.command, state, consent, CONFIG, step.at) == []
    _assert_caps_hold(journal)
    assert o.replay(ME, journal) == state


@given(
    asks=st.lists(st.tuples(requests("k"), _instants(timedelta(days=7))), min_size=1, max_size=25),
    consent=consents,
    preferred=preferences,
)
def test_caps_hold_in_every_rolling_week_whatever_order_messages_are_decided_in(
    asks: list[tuple[o.RequestMessage, datetime]],
    consent: c.ConsentState,
    preferred: tuple[c.Channel, ...],
) -> None:
    state = o.OutreachState(member_id=ME)
    journal: list[o.OutreachEvent] = []
    for number, (command, at) in enumerate(asks):
        keyed = attrs.evolve(command, key=f"r-{number}")
        for event in o.decide(keyed, state, consent, CONFIG, at, preferred=preferred):
            state = o.evolve(state, event)
            journal.append(event)
    _assert_caps_hold(journal)


def _outcome(event: o.OutreachEvent) -> tuple[Any, ...]:
    """What was decided, leaving out the message id and the running count of the cap."""
    if isinstance(event, o.MessageQueued):
        return ("queued", event.channel, event.send_at, event.language, event.text)
    if isinstance(event, o.PhoneTaskRequested):
        return ("call", event.due_at, event.language, event.text)
    assert isinstance(event, o.MessageRefused)
    return ("refused", event.reason)


def _decide_all(
    asks: Sequence[tuple[o.RequestMessage, datetime]],
    consent: c.ConsentState,
    preferred: tuple[c.Channel, ...],
    language: str,
) -> dict[str, o.OutreachEvent]:
    state = o.OutreachState(member_id=ME)
    decided: dict[str, o.OutreachEvent] = {}
    for command, at in asks:
        for event in o.decide(
            command, state, consent, CONFIG, at, preferred=preferred, language=language
        ):
            assert command.key not in decided
            decided[command.key] = event
            state = o.evolve(state, event)
    return decided


@st.composite
def one_days_requests(draw: st.DrawFn) -> list[tuple[o.RequestMessage, datetime]]:
    asks = [
        (draw(requests(f"r-{number}")), draw(_instants(timedelta(days=1))))
        for number in range(draw(st.integers(1, 15)))
    ]
    # A request delivered twice (a retried journey step) is the same request.
    repeats = draw(st.lists(st.sampled_from(asks), max_size=3))
    return asks + repeats


@given(
    asks=one_days_requests(),
    data=st.data(),
    consent=consents,
    preferred=preferences,
    language=languages,
)
def test_the_same_requests_in_any_order_within_a_day_get_the_same_decisions(
    asks: list[tuple[o.RequestMessage, datetime]],
    data: st.DataObject,
    consent: c.ConsentState,
    preferred: tuple[c.Channel, ...],
    language: str,
) -> None:
    shuffled = data.draw(st.permutations(asks))
    first = _decide_all(asks, consent, preferred, language)
    second = _decide_all(shuffled, consent, preferred, language)
    assert first.keys() == second.keys() == {command.key for command, _ in asks}
    # Caps are the one rule where order matters: which requests fill the week. How many
    # of each purpose go out does not depend on it, and every other decision is the same.
    for purpose in c.PURPOSES:
        sent = [
            Counter(
                e.purpose == purpose
                for e in run.values()
                if isinstance(e, o.MessageQueued | o.PhoneTaskRequested)
            )[True]
            for run in (first, second)
        ]
        assert sent[0] == sent[1]
    for key, event in first.items():
        capped = {_outcome(event), _outcome(second[key])} & {("refused", "weekly_cap")}
        if not capped:
            assert _outcome(event) == _outcome(second[key])


@given(value=values, before=st.text(max_size=5), after=st.text(max_size=5))
def test_a_value_is_inserted_exactly_as_given(value: str, before: str, after: str) -> None:
    text = before.replace("$", "") + "${name}" + after.replace("$", "")
    expected = before.replace("$", "") + value + after.replace("$", "")
    assert o.render(text, {"name": value}) == expected


@given(text=st.text(), variables=st.dictionaries(st.text(max_size=5), values, max_size=3))
def test_text_without_placeholders_is_left_as_it_is(text: str, variables: dict[str, str]) -> None:
    plain = text.replace("${", "$ {")
    assert o.render(plain, variables) == plain


@given(
    name=st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True),
    channels=st.lists(st.sampled_from(c.CHANNELS), min_size=1, unique=True).map(tuple),
)
def test_a_sensitive_variable_is_accepted_only_on_a_call_script(
    name: str, channels: tuple[c.Channel, ...]
) -> None:
    template = MessageTemplate(
        key="t",
        purpose="care",
        texts={"zh-CN": f"请致电，关于${{{name}}}"},
        channels=channels,
        variables=(name,),
    )
    if EXTERNAL_CHANNELS.intersection(channels):
        with pytest.raises(ConfigError) as caught:
            OutreachPolicy(sensitive_variables=(name,), templates=(template,))
        assert caught.value.key == "templates[0].texts"
    else:
        OutreachPolicy(sensitive_variables=(name,), templates=(template,))
