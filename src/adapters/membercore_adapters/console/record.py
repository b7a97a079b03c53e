"""A member's page: what the engine says of them now, put in words and local times.

Every part is read with the same engine calls as the API's views
(:mod:`~membercore_adapters.http.members`): tier and points, plans and the benefits they
grant with the uses of each quota left, the journeys with the state each is in and what
moves it next, consent by purpose and channel, the messages and calls of the last two
weeks (and those to come) with the requests refused and why, and the member's tasks.
Nothing here decides; it is read on the engine's thread after the visit was admitted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, tzinfo

import attrs

from membercore import benefits, journeys, ledger, outreach
from membercore.config import ProgrammeConfig
from membercore.config.journeys import JourneyDefinition
from membercore.journeys import JourneyInstance
from membercore.messages import CHANNELS, PURPOSES
from membercore.ports import StoredEvent
from membercore.serialization import message_from_stored
from membercore.service.engine import Engine
from membercore.service.recording import member_key
from membercore_adapters.console.outcomes import expected_outcomes
from membercore_adapters.console.pages import when
from membercore_adapters.console.work import TaskLine, staff_name, task_line
from membercore_adapters.http.auth import Principal
from membercore_adapters.http.shapes import MessageView
from membercore_adapters.labels import (
    CHANNELS as CHANNEL_NAMES,
)
from membercore_adapters.labels import (
    PLAN_STATUSES,
    REFUSAL_REASONS,
    named,
)
from membercore_adapters.labels import (
    PURPOSES as PURPOSE_NAMES,
)

__all__ = ["MemberRecord", "member_record"]


@attrs.frozen(kw_only=True)
class PlanLine:
    """A subscription: the plan, where it stands, and its current term."""

    label: str
    status: str
    term: str


@attrs.frozen(kw_only=True)
class BenefitLine:
    """A benefit the member may use now, what grants it, and a quota's uses left."""

    label: str
    granted_by: str
    left: str


@attrs.frozen(kw_only=True)
class JourneyLine:
    """A journey the member is in: its state since when, and what moves it next."""

    label: str
    state: str
    since: str
    next: tuple[str, ...]


@attrs.frozen(kw_only=True)
class ConsentRow:
    """The channels agreed to for one purpose, in the order of :attr:`MemberRecord.channels`.

    Attributes:
        key: the purpose (``marketing``), as a withdrawal names it.
        purpose: its label.
        granted: whether each channel is agreed to.
    """

    key: str
    purpose: str
    granted: tuple[bool, ...]


@attrs.frozen(kw_only=True)
class MessageLine:
    """A message or call decided for the member."""

    at: str
    channel: str
    purpose: str
    template: str
    journey: str
    status: str


@attrs.frozen(kw_only=True)
class RefusalLine:
    """A message asked for and refused, with the reason."""

    at: str
    template: str
    purpose: str
    reason: str
    explanation: str


@attrs.frozen(kw_only=True)
class MemberRecord:
    """A member's page.

    Attributes:
        member_id: the member.
        tier: the tier now, key and name (``L3 金卡``).
        segment: the value segment, if derived.
        tags: the tags, sorted.
        health_manager: their dedicated health manager, if any.
        household_id: their household, if any.
        alive: whether the programme knows them alive.
        points: the balances now.
        plans: the subscriptions, in the order asked for.
        benefits: what the member may use now.
        journeys: the journeys they are in.
        channels: the channels of the consent table, named.
        consent: by purpose, the channels agreed to.
        messages: the messages and calls of the last two weeks, and those to come.
        refused: the requests refused in the last two weeks, with the reasons.
        tasks: the member's tasks, open ones first, each by due time.
    """

    member_id: str
    tier: str
    segment: str | None
    tags: tuple[str, ...]
    health_manager: str | None
    household_id: str | None
    alive: bool
    points: ledger.Balances
    plans: tuple[PlanLine, ...]
    benefits: tuple[BenefitLine, ...]
    journeys: tuple[JourneyLine, ...]
    channels: tuple[str, ...]
    consent: tuple[ConsentRow, ...]
    messages: tuple[MessageLine, ...]
    refused: tuple[RefusalLine, ...]
    tasks: tuple[TaskLine, ...]


def member_record(engine: Engine, member_id: str, viewer: Principal) -> MemberRecord:
    """The page of ``member_id`` as ``viewer`` sees it now (on the engine's thread)."""
    config, now = engine.config, engine.now()
    member = engine.member(member_id)
    tier = engine.tier(member_id)
    level = next((held for held in config.tiers.levels if held.key == tier), None)
    running = tuple(journeys.active(member.journeys))
    journal = engine.store.events(member_key(member_id))
    outcomes = expected_outcomes(running, config)
    tasks = sorted(member.work.tasks.values(), key=lambda t: (t.status != "open", t.due_at))
    return MemberRecord(
        member_id=member_id,
        tier=tier if level is None else f"{tier} {level.label}",
        segment=engine.segment(member_id),
        tags=tuple(sorted(engine.tags(member_id))),
        health_manager=staff_name(config, member.work.health_manager),
        household_id=member.household_id,
        alive=member.identity.alive(now),
        points=engine.points(member_id),
        plans=tuple(_plans(engine, member_id)),
        benefits=tuple(_benefits(engine, member_id)),
        journeys=tuple(_journey(instance, config, now) for instance in running),
        channels=tuple(named(CHANNEL_NAMES, channel, "zh-CN") for channel in CHANNELS),
        consent=tuple(_consent(member.consent.granted)),
        messages=tuple(_messages(member.outreach, journal, config, now)),
        refused=tuple(_refused(journal, config.tz, now)),
        tasks=tuple(
            task_line(task, member_id, viewer=viewer, config=config, now=now, outcomes=outcomes)
            for task in tasks
        ),
    )


def _plans(engine: Engine, member_id: str) -> Iterator[PlanLine]:
    zone = engine.config.tz
    for held in engine.subscriptions(member_id):
        plan = engine.config.plans.plan(held.plan_key)
        term = held.terms[-1] if held.terms else None
        yield PlanLine(
            label=held.plan_key if plan is None else plan.label,
            status=named(PLAN_STATUSES, held.status.value, "zh-CN"),
            term="" if term is None else f"{_day(term.start, zone)} 至 {_day(term.end, zone)}",
        )


def _day(at: datetime, zone: tzinfo) -> str:
    return at.astimezone(zone).date().isoformat()


def _benefits(engine: Engine, member_id: str) -> Iterator[BenefitLine]:
    standing, quotas = engine.benefits_held(member_id)
    now = engine.now()
    packages = {package.key: package.label for package in engine.config.packages}
    for entitlement in benefits.entitlements(standing, engine.config):
        yield BenefitLine(
            label=entitlement.benefit.label,
            granted_by="、".join(packages.get(s.package, s.grant) for s in entitlement.sources),
            left=_left(entitlement, standing, quotas, engine.config, now),
        )


_PERIODS = {"year": "本年", "month": "本月", "term": "本期"}


def _left(
    entitlement: benefits.Entitlement,
    standing: benefits.Standing,
    quotas: tuple[benefits.QuotaState, ...],
    config: ProgrammeConfig,
    now: datetime,
) -> str:
    """A quota's uses left in its period (``本年剩余 3/4 次``); empty for another benefit."""
    quota = entitlement.benefit.quota
    if quota is None:
        return ""
    if quota.per_period is None:
        return "不限次数"
    holder = benefits.holder_of(entitlement, standing)
    state = next((held for held in quotas if held.holder_id == holder), None)
    if state is None:
        return ""
    allowance = benefits.allowance(entitlement, standing, state, config, now)
    if allowance is None or allowance.remaining is None:
        return ""
    period = _PERIODS.get(quota.period, "")
    shared = "（家庭共享）" if quota.shared_by_household else ""
    return f"{period}剩余 {allowance.remaining}/{quota.per_period} 次{shared}"


def _definition(config: ProgrammeConfig, key: str) -> JourneyDefinition | None:
    return next((held for held in config.journeys if held.key == key), None)


def _journey(instance: JourneyInstance, config: ProgrammeConfig, now: datetime) -> JourneyLine:
    definition = _definition(config, instance.journey)
    label = instance.journey if definition is None else definition.label
    return JourneyLine(
        label=label,
        state=instance.state,
        since=when(instance.entered_at, config.tz),
        next=tuple(_next_steps(instance, definition, config.tz)),
    )


def _next_steps(
    instance: JourneyInstance, definition: JourneyDefinition | None, zone: tzinfo
) -> Iterator[str]:
    """What moves the journey on: its timers by due time, then the facts its state awaits."""
    if definition is None:
        return
    steps = definition.transitions
    for timer in sorted(instance.timers, key=lambda held: held.due_at):
        if 0 <= timer.transition < len(steps):
            step = steps[timer.transition]
            yield f"{when(timer.due_at, zone)} {step.step} → {step.target}"
    awaited = [
        f"{step.trigger.type} → {step.target}"
        for step in steps
        if step.source == instance.state and step.trigger.kind in ("fact", "event")
    ]
    if awaited:
        yield "或收到：" + "；".join(dict.fromkeys(awaited))


def _consent(granted: Mapping[str, frozenset[str]]) -> Iterator[ConsentRow]:
    for purpose in PURPOSES:
        channels = granted.get(purpose, frozenset())
        yield ConsentRow(
            key=purpose,
            purpose=named(PURPOSE_NAMES, purpose, "zh-CN"),
            granted=tuple(channel in channels for channel in CHANNELS),
        )


def _templates(journal: Iterable[StoredEvent]) -> dict[str, str]:
    """The template each queued message or call was asked with, by message id."""
    asked = (outreach.MessageQueued.TYPE, outreach.PhoneTaskRequested.TYPE)
    found: dict[str, str] = {}
    for stored in journal:
        if stored.type in asked:
            event = message_from_stored(stored.payload)
            found[event.message_id] = event.template_key
    return found


def _messages(
    held: outreach.OutreachState,
    journal: list[StoredEvent],
    config: ProgrammeConfig,
    now: datetime,
) -> Iterator[MessageLine]:
    templates = _templates(journal)
    for message in sorted(held.sent, key=lambda item: item.at, reverse=True):
        view = MessageView.of(message, held.handed_over)
        # A journey instance's id is <member>/<journey>/<n>.
        journey = view.journey.rsplit("/", 2)[-2] if view.journey.count("/") >= 2 else ""
        definition = _definition(config, journey)
        yield MessageLine(
            at=when(view.at, config.tz),
            channel=named(CHANNEL_NAMES, view.channel, "zh-CN"),
            purpose=named(PURPOSE_NAMES, view.purpose, "zh-CN"),
            template=templates.get(view.message_id, ""),
            journey="" if definition is None else definition.label,
            status=_status(view, now),
        )


def _status(view: MessageView, now: datetime) -> str:
    if view.delivered:
        return "已送达"
    if view.handed_over:
        return "已发出"
    return "待发送" if view.at > now else "待交付渠道"


def _refused(journal: Iterable[StoredEvent], zone: tzinfo, now: datetime) -> Iterator[RefusalLine]:
    since = now - outreach.KEPT_FOR
    refusals = [
        stored
        for stored in journal
        if stored.type == outreach.MessageRefused.TYPE and stored.at >= since
    ]
    for stored in reversed(refusals):
        event = message_from_stored(stored.payload)
        yield RefusalLine(
            at=when(event.decided_at, zone),
            template=event.template_key,
            purpose=named(PURPOSE_NAMES, event.purpose, "zh-CN"),
            reason=named(REFUSAL_REASONS, event.reason, "zh-CN"),
            explanation=event.explanation,
        )
