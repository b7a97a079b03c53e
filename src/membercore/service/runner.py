"""The record being worked on in one pass of the pipeline, and the part each command goes to.

A :class:`Runner` takes a fact through the ledger, the tier ladder and the profile, then
the journeys; a command goes to its part's decider (:data:`COMMAND_TYPES`), and what a
journey's actions ask for runs through the same runner, at most :data:`MAX_DEPTH` deep.
It also makes what guards and message templates see of the record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, get_args

from membercore import consent, journeys, ledger, outreach, plans, segments, tiers
from membercore.config import ProgrammeConfig
from membercore.config.outreach import EXTERNAL_CHANNELS
from membercore.dates import age_on
from membercore.errors import InvalidFactError, UnknownSubscriptionError
from membercore.experiments import assignment as experiments
from membercore.facts import Fact, PatientDied
from membercore.households import ADULT_AGE
from membercore.identity import ReverseDeath
from membercore.ledger.commands import AdjustPoints, AwardBonus, ExpireDue, Redeem, ReversePosting
from membercore.messages import PURPOSES
from membercore.outreach.rules import FALLBACK_VALUES
from membercore.service import actions, death, retractions, work
from membercore.service.context import Context, Household
from membercore.service.member import Member, birth_date, contact, evolve_all
from membercore.service.skipping import skipped
from membercore.staff import offers, programmes, tasks

__all__ = ["COMMAND_TYPES", "DEFAULT_NAME", "MAX_DEPTH", "Runner"]


#: How deep actions may start actions (a journey's message request is depth 1).
MAX_DEPTH = 4


#: How a zh-CN message addresses a member whose registration gives no name (each
#: language's: :data:`membercore.outreach.rules.FALLBACK_VALUES`).
DEFAULT_NAME = FALLBACK_VALUES["zh"]["name"]


class Runner:
    """The record being worked on within one pass of the pipeline (local to it, never shared)."""

    def __init__(
        self,
        member: Member,
        ctx: Context,
        now: datetime,
        household: Household | None,
        *,
        learnt: datetime | None = None,
    ) -> None:
        self.member = member
        self.ctx = ctx
        #: The programme this member's decisions use: their variants' where they were
        #: assigned in an experiment (:func:`membercore.experiments.member_config`).
        self.config = experiments.member_config(member.experiments, ctx.config)
        self.now = now
        self.household = household
        #: When the programme learnt of what it decides (``None``: at each decision's
        #: own instant, as a history import replays it).
        self.learnt = None if ctx.history else learnt
        self.events: list[object] = []
        self.message: object = None
        self.offered: str | None = None
        self._seen: tuple[Member, datetime, journeys.Situation] | None = None

    # -- applying -----------------------------------------------------------------------

    def take(self, events: Sequence[object]) -> Sequence[object]:
        """Apply ``events`` to the record and keep them, in order.

        An event that exposes the member to an experiment assigns them right after it.
        """
        self.member = evolve_all(self.member, events)
        self.events.extend(events)
        self.expose(events)
        return events

    def expose(self, messages: Sequence[object]) -> None:
        """Assign the member in each experiment one of ``messages`` first exposes them to.

        From then on the member's decisions use their variant's programme. The dead are
        not assigned.
        """
        if not self.ctx.config.experiments or self.member.identity.died_at is not None:
            return
        m = self.member
        made = experiments.exposures(
            m.experiments, self.ctx.config, messages, m.member_id, self.now
        )
        if made:
            self.member = evolve_all(self.member, made)
            self.events.extend(made)
            self.config = experiments.member_config(self.member.experiments, self.ctx.config)

    def tier_key(self) -> str:
        """The member's tier now."""
        return tiers.tier_of(self.member.tier, self.config)

    def floor(self) -> str | None:
        """The lowest tier the member's plans hold them at, if any."""
        return plans.tier_floor(self.member.plans, self.config, self.now)

    def catch_up(self) -> None:
        """Settle the tier first when time moved it since it was last decided.

        A review, an override's end or a plan floor: a message is decided on the tier
        the member has at its instant.
        """
        m = self.member
        if tiers.behind(m.tier, self.config, self.now, self.floor()):
            self.journeys_on(list(self.settle_tier()), depth=0)

    def settle_tier(self, message: Any = None) -> Sequence[object]:
        """Have the tier ladder decide on ``message`` (or on the time passed), and apply it."""
        m = self.member
        return self.take(
            tiers.decide(message, m.tier, m.ledger, self.config, self.now, floor=self.floor())
        )

    # -- facts --------------------------------------------------------------------------

    def fact(self, fact: Fact) -> None:
        """A fact through the ledger, the tier ladder and the profile, then the journeys.

        A death ends what the programme does for the member; a fact dated after it is
        recorded without effect (:mod:`membercore.service.death`).
        """
        if isinstance(fact, PatientDied):
            # The journeys take the death (each ends on it), then the death is noted.
            self.journeys_on([fact], depth=0)
            death.died(self, fact)
            return
        if death.set_aside(self, fact) or death.without_effect(self, fact):
            return
        if retractions.retract(self, fact):
            return
        self.expose([fact])
        m = self.member
        made = list(
            self.take(ledger.decide(fact, m.ledger, self.config, self.now, tier=self.tier_key()))
        )
        made += self.settle_tier(fact)
        family = self.household.family if self.household else None
        made += self.take(
            segments.decide(fact, self.member.profile, self.config, self.now, family=family)
        )
        made += work.reported(self, fact)
        self.journeys_on([fact, *made], depth=0)

    # -- commands -----------------------------------------------------------------------

    def command(self, command: object, depth: int) -> None:
        """A command through its part's decider, then the journeys."""
        handler = _HANDLERS.get(type(command))
        if handler is None:
            raise TypeError(f"{type(command).__name__} is not a command of a member's record")
        self.expose([command])
        made = list(handler(self, command))
        self.journeys_on([command, *made], depth=depth)

    def journeys_on(self, messages: Sequence[object], depth: int) -> None:
        """Let the journeys take each message that one of them listens to.

        None does once the member's death is noted: death ends every journey.
        """
        if self.member.identity.died_at is not None:
            return
        for message in messages:
            if getattr(message, "TYPE", None) not in self.ctx.triggers:
                continue
            self.message = message
            made = journeys.decide(
                message,
                self.member.journeys,
                self.ctx.journeys,
                self.ctx.registry,
                self.situation(),
            )
            self.take(made)
            work.superseded(self, made)
            self.carry_out(made, depth)

    def carry_out(self, made: Sequence[object], depth: int) -> None:
        """Run the commands the journeys' actions ask for, at most :data:`MAX_DEPTH` deep."""
        if depth >= MAX_DEPTH:
            return
        issued = [event for event in made if isinstance(event, journeys.JourneyActionIssued)]
        # A step that makes an offer and sends its message quotes the offered plan.
        offered = {
            (event.instance_id, event.step): str(event.action.params.get("plan", ""))
            for event in issued
            if event.action.name == "make_offer"
        }
        withheld: set[tuple[str, str]] = set()  # steps whose offer was not made
        for event in issued:
            step = (event.instance_id, event.step)
            self.offered = offered.get(step)
            commands = actions.commands_for(event, self.variables(), self.ctx.registry)
            learnt = self.learnt or self.now
            skip = skipped(event, commands, self.ctx, learnt, offer_withheld=step in withheld)
            if skip is not None:
                self.take([skip])
                continue
            before = len(self.events)
            for command in commands:
                self.command(command, depth + 1)
            if any(isinstance(e, offers.OfferWithheld) for e in self.events[before:]):
                withheld.add(step)

    # -- what guards and messages see ---------------------------------------------------

    def situation(self) -> journeys.Situation:
        """What the journeys' guards see of the record now."""
        # Several messages in a row often meet the same record: decide the view once.
        if self._seen is not None and self._seen[0] is self.member and self._seen[1] == self.now:
            return self._seen[2]
        m = self.member
        seen = journeys.Situation(
            member_id=m.member_id,
            now=self.now,
            config=self.config,
            tier=self.tier_key(),
            tags=segments.tags(m.profile),
            plans=plans.active_plans(m.plans, self.now),
            programmes=self.programmes(),
            flags=self.flags(),
            consented=frozenset(p for p in PURPOSES if consent.channels_for(m.consent, p)),
        )
        self._seen = (m, self.now, seen)
        return seen

    def programmes(self) -> tuple[str, ...]:
        """The disease programmes the member is in, enrolled or by a plan."""
        m = self.member
        held = plans.programmes(m.plans, self.config, self.now)
        return tuple(sorted(m.programmes.programmes | set(held)))

    def flags(self) -> dict[str, bool]:
        """The record's yes-or-no facts that guards may test."""
        m = self.member
        hm = m.work.health_manager
        return {
            "health_manager_used": hm is not None
            and any(t.assignee == hm and t.status == "closed" for t in m.work.tasks.values()),
            "spend_stable": _spend_stable(m, self.now),
            "interaction_frequent": _interaction_frequent(m, self.now),
            "relatives_seen": bool(self.household and self.household.relatives)
            or segments.relatives_seen(m.profile),
        }

    def variables(self) -> dict[str, str]:
        """What message templates may say, from the record and the triggering message."""
        m = self.member
        noted = list(m.profile.registrations.values())
        name = next((n.name for n in reversed(noted) if n.name), None)
        local = self.now.astimezone(self.config.tz)
        values = {
            "tier": self.tier_key(),
            "date": f"{local.month}月{local.day}日",
            "department": "门诊",
            "price": str(_price(self.config, self.offered) // 100),
        }
        if name:  # else the text says its language's (FALLBACK_VALUES)
            values["name"] = name
        diagnoses = list(m.profile.diagnoses.values())
        if diagnoses:
            values["diagnosis"] = diagnoses[-1].icd10
        message = self.message
        department = getattr(message, "department", None)
        if isinstance(department, str):
            values["department"] = department
        scheduled = getattr(message, "scheduled_at", None)
        if isinstance(scheduled, datetime):
            day = scheduled.astimezone(self.config.tz)
            values["date"] = f"{day.month}月{day.day}日"
        return values

    def age(self) -> int | None:
        """The member's age: by their registration, else by their household's record.

        A child of the household whose birth date nobody gave counts as a young child, so
        that a guardian consents for them: never taken as an adult by default. The
        head's spouse or parent whose birth date nobody gave counts as an adult, who
        consents for themself.
        """
        household = self.household
        born = birth_date(self.member) or (household.birth_date if household else None)
        if born is None and household is not None and (household.child or household.adult):
            return 0 if household.child else ADULT_AGE
        if born is None:
            return None
        return age_on(born, self.now.astimezone(self.config.tz).date())


def _price(config: ProgrammeConfig, plan_key: str | None) -> int:
    """The price of the plan on offer, else of the cheapest individual plan."""
    prices = {plan.key: plan.price_fen for plan in config.plans.plans}
    if plan_key in prices:
        return prices[plan_key]
    individual = [plan.price_fen for plan in config.plans.plans if plan.kind == "individual"]
    return min(individual, default=0)


def _spend_stable(member: Member, now: datetime) -> bool:
    """Paid charges in at least three of the last six calendar months."""
    months = {
        (noted.at.year, noted.at.month)
        for noted in member.profile.charges.values()
        if 0 <= (now - noted.at).days <= 183
    }
    return len(months) >= 3


def _interaction_frequent(member: Member, now: datetime) -> bool:
    """At least six interactions (check-ins, shares, likes...) in the last 90 days."""
    recent = sum(
        1 for noted in member.profile.interactions.values() if 0 <= (now - noted.at).days <= 90
    )
    return recent >= 6


_Handler = Callable[[Runner, Any], Sequence[object]]


def _ledger(run: Runner, command: Any) -> Sequence[object]:
    m = run.member
    made = list(
        run.take(ledger.decide(command, m.ledger, run.config, run.now, tier=run.tier_key()))
    )
    return made + list(run.settle_tier()) if made else made


def _tier(run: Runner, command: Any) -> Sequence[object]:
    return run.settle_tier(command)


def _plans(run: Runner, command: Any) -> Sequence[object]:
    made = list(run.take(plans.decide(command, run.member.plans, run.config, run.now)))
    return made + list(run.settle_tier()) if made else made


def _consent(run: Runner, command: Any) -> Sequence[object]:
    if isinstance(command, consent.GrantConsent):
        death.refuse_after_death(run, "consent is taken")
    m = run.member
    guardians = run.household.guardians if run.household else ()
    made = list(
        run.take(consent.decide(command, m.consent, run.now, age=run.age(), guardians=guardians))
    )
    if made:
        cancelled = run.take(
            outreach.cancel_pending(run.member.outreach, run.member.consent, run.now)
        )
        made += [*cancelled, *work.calls_cancelled(run, cancelled)]
    return made


def _reach(member: Member, config: ProgrammeConfig) -> dict[str, Any]:
    """How the member may be reached: their preferred channel and language, if any.

    A programme that configures its channels sends to addresses: a channel the record
    gives no address for (a mobile number for SMS...) is passed over, not tried and
    failed. Without configured channels (the console's) none is.
    """
    registrations = list(member.profile.registrations.values())
    # The latest registration that names each (an update may leave it out).
    channel = next(
        (n.preferred_channel for n in reversed(registrations) if n.preferred_channel), None
    )
    language = next((n.language for n in reversed(registrations) if n.language), None)
    reach: dict[str, Any] = {"preferred": (channel,) if channel else ()}
    if config.channels:
        external = sorted(EXTERNAL_CHANNELS)
        reach["unreachable"] = tuple(c for c in external if not contact(member, c))
    return {**reach, "language": language} if language else reach


def _message(run: Runner, command: Any) -> Sequence[object]:
    death.refuse_after_death(run, "message is sent")
    m = run.member
    made = run.take(
        outreach.decide(
            command, m.outreach, m.consent, run.config, run.now, **_reach(m, run.config)
        )
    )
    return [*made, *work.call_tasks(run, made)]


def _delivery(run: Runner, command: Any) -> Sequence[object]:
    m = run.member
    alive = m.identity.alive(run.now)
    made = run.take(
        outreach.note_delivery(
            command,
            m.outreach,
            m.consent,
            run.config,
            run.now,
            fallback=alive,
            **_reach(m, run.config),
        )
    )
    return [*made, *work.call_tasks(run, made)]


def _work(run: Runner, command: Any) -> Sequence[object]:
    if isinstance(command, tasks.CreateTask):
        death.refuse_after_death(run, "task is created")
    return work.decide(run, command)


def _offer(run: Runner, command: Any) -> Sequence[object]:
    if isinstance(command, offers.MakeOffer):
        death.refuse_after_death(run, "offer is made")
    held = run.member.plans.subscriptions
    if isinstance(command, offers.RedeemOffer) and command.subscription_id not in held:
        raise UnknownSubscriptionError(command.member_id, command.subscription_id)
    m = run.member
    return run.take(offers.decide(command, m.offers, run.config, run.now, plans=m.plans))


def _programme(run: Runner, command: Any) -> Sequence[object]:
    known = run.config.programme_keys
    if isinstance(command, programmes.Enrol) and command.programme not in known:
        problem = f"no package, plan or journey names it (known: {sorted(known)})"
        raise InvalidFactError(command.TYPE, "programme", command.programme, problem)
    return run.take(programmes.decide(command, run.member.programmes, run.now))


def _profile(run: Runner, command: Any) -> Sequence[object]:
    family = _family(run)
    return run.take(
        segments.decide(command, run.member.profile, run.config, run.now, family=family)
    )


def _family(run: Runner) -> segments.FamilyStatus | None:
    """The member's place in a household, as the households part has it.

    In none: nothing is known (``None``) unless the profile holds a place they have left
    since, which no longer holds.
    """
    if run.household is not None:
        return run.household.family
    return None if run.member.profile.family is None else segments.FamilyStatus()


def _identity(run: Runner, command: Any) -> Sequence[object]:
    return death.reverse(run, command)


def _handlers() -> dict[type[Any], _Handler]:
    groups: list[tuple[_Handler, Sequence[type[Any]]]] = [
        (_ledger, (Redeem, AdjustPoints, AwardBonus, ReversePosting, ExpireDue)),
        (_tier, (tiers.SetTierOverride, tiers.ClearTierOverride, tiers.ReviewTier)),
        (_plans, plans.PLAN_COMMAND_TYPES),
        (_consent, (consent.GrantConsent, consent.WithdrawConsent)),
        (_message, (outreach.RequestMessage,)),
        (_delivery, (outreach.NoteDelivery,)),
        (_work, get_args(tasks.WorkCommand)),
        (_offer, (offers.MakeOffer, offers.RedeemOffer)),
        (_programme, (programmes.Enrol, programmes.Leave)),
        (_profile, (segments.AddTag, segments.RemoveTag, segments.RefreshProfile)),
        (_identity, (ReverseDeath,)),
    ]
    return {kind: handler for handler, kinds in groups for kind in kinds}


_HANDLERS = _handlers()


#: Every command a member's record takes.
COMMAND_TYPES: tuple[type[Any], ...] = tuple(_HANDLERS)
