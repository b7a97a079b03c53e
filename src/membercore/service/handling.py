"""What every use case shares: a record run through the pipeline, events handed out.

The household view a member's decisions see, the unit of work's staff loads kept up to
date, and the events a decision made given to the records they belong to.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import attrs

from membercore import households
from membercore.segments import FamilyStatus
from membercore.service import pipeline
from membercore.service.member import Member, evolve_all
from membercore.service.recording import Working
from membercore.service.unit_of_work import Loads, UnitOfWork
from membercore.staff import tasks

__all__ = [
    "Handler",
    "catch_up",
    "context",
    "count_work",
    "give",
    "household_view",
    "member_command",
    "note",
    "run",
    "view_of",
]


Handler = Callable[[UnitOfWork, pipeline.Context, Any, datetime], tuple[object, ...]]


def household_view(state: households.HouseholdState, member_id: str) -> pipeline.Household:
    """What a household tells the parts about one of its members."""
    dependent = state.dependents.get(member_id)
    guardians = [state.head_id] if state.head_id and state.head_id != member_id else []
    if dependent is not None and dependent.guardian_id and dependent.guardian_id not in guardians:
        guardians.append(dependent.guardian_id)
    everyone = households.members(state)
    return pipeline.Household(
        household_id=state.household_id,
        family=FamilyStatus(
            has_dependents=state.head_id == member_id and bool(state.dependents),
            is_dependent=dependent is not None,
        ),
        guardians=tuple(guardians),
        relatives=len(everyone - {member_id}),
        birth_date=dependent.birth_date if dependent is not None else None,
        child=dependent is not None and dependent.relationship == "child",
        adult=dependent is not None and dependent.relationship in ("spouse", "parent"),
    )


def context(uow: UnitOfWork, ctx: pipeline.Context) -> pipeline.Context:
    """The pipeline's context with the staff and case loads as this unit of work counts them.

    Each is read from the store only if an assignment looks at it (the context's own
    staff loads stand while the store counts no open task).
    """
    given = ctx.loads
    loads = Loads(lambda: uow.loads or given)
    return attrs.evolve(ctx, loads=loads, cases=Loads(lambda: uow.cases))


def view_of(uow: UnitOfWork, member: Member) -> pipeline.Household | None:
    """What the member's household, if held, tells the parts about them."""
    held = uow.household_of(member)
    return None if held is None else household_view(held.state, member.member_id)


def count_work(uow: UnitOfWork, before: tasks.WorkState, events: Iterable[object]) -> None:
    """Bring the unit of work's staff and case loads up to date with a record's events.

    ``before`` is the record's staff work before them. A task created for someone, or
    given to them (assigned, or escalated to them), adds to their open tasks; one closed,
    or taken from them, no longer counts as theirs; a member given a health manager
    counts in the manager's cases, and no longer in those of the one they had.
    """
    holders: dict[str, str | None] = {}

    def holder(task_key: str) -> str | None:
        if task_key in holders:
            return holders[task_key]
        task = before.tasks.get(task_key)
        return task.assignee if task is not None and task.status == "open" else None

    manager = before.health_manager
    for event in events:
        if isinstance(event, tasks.TaskCreated | tasks.TaskEscalated):
            to: str | None = event.assignee
        elif isinstance(event, tasks.TaskAssigned):
            to = event.staff_id
        elif isinstance(event, tasks.TaskClosed):
            to = None
        else:
            if isinstance(event, tasks.HealthManagerAssigned):
                _move(uow.cases, manager, event.staff_id)
                manager = event.staff_id
            continue
        _move(uow.loads, holder(event.task_key), to)
        holders[event.task_key] = to


def _move(loads: Counter[str], held_by: str | None, to: str | None) -> None:
    """One piece of work passing from ``held_by`` to ``to`` (either may be nobody)."""
    if held_by == to:
        return
    if held_by is not None:
        loads[held_by] -= 1
    if to is not None:
        loads[to] += 1


def run(
    uow: UnitOfWork, ctx: pipeline.Context, held: Working, message: object, at: datetime
) -> tuple[object, ...]:
    """One fact or command of the member's record through the pipeline."""
    member: Member = held.state
    outcome = pipeline.run(message, member, context(uow, ctx), at, household=view_of(uow, member))
    held.take(outcome.member, outcome.events)
    count_work(uow, member.work, outcome.events)
    return outcome.events


def catch_up(
    uow: UnitOfWork, ctx: pipeline.Context, held: Working, at: datetime
) -> tuple[object, ...]:
    """Bring a member's record up to ``at``: what fell due on it happens; its events.

    A tick does it to every due record; before a part decides over several records (a
    transfer, a gift, a merge), each is brought up to the instant of the decision, as a
    fact or a command of its own is.
    """
    member: Member = held.state
    outcome = pipeline.tick(member, context(uow, ctx), at, household=view_of(uow, member))
    if outcome.events:
        held.take(outcome.member, outcome.events)
        count_work(uow, member.work, outcome.events)
    return outcome.events


def give(
    uow: UnitOfWork, ctx: pipeline.Context, held: Working, events: Iterable[object], at: datetime
) -> tuple[object, ...]:
    """A member's share of events decided over several records, and what follows."""
    mine = [event for event in events if _owner(event) == _id(held)]
    if not mine:
        return ()
    member: Member = held.state
    outcome = pipeline.apply(mine, member, context(uow, ctx), at, household=view_of(uow, member))
    held.take(outcome.member, outcome.events)
    count_work(uow, member.work, outcome.events)
    return outcome.events


def note(held: Working, events: Iterable[object]) -> None:
    """Events about the record itself (its household, its keys), taken as they are."""
    events = list(events)
    held.take(evolve_all(held.state, events), events)


def _id(held: Working) -> str:
    member: Member = held.state
    return member.member_id


def _owner(event: object) -> str | None:
    # A quota's events belong to its holder; every other part's to its member.
    owner = getattr(event, "holder_id", None) or getattr(event, "member_id", None)
    return owner if isinstance(owner, str) else None


def member_command(
    uow: UnitOfWork, ctx: pipeline.Context, command: Any, at: datetime
) -> tuple[object, ...]:
    """A command of one member's record, through the pipeline."""
    return run(uow, ctx, uow.require_member(command.member_id), command, at)
