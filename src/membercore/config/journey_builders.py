"""Shorthand for writing journey definitions in Python, as the reference journeys are."""

from __future__ import annotations

from membercore.config.journeys import Call, Delay, ParamValue, Trigger

__all__ = ["DIED", "after", "before", "call", "on_event", "on_fact", "send"]

#: The exit every reference journey shares: the patient died.
DIED = ("patient_died",)


def call(action: str, **params: ParamValue) -> Call:
    """A call of a registered action or condition function, with its parameters."""
    return Call(name=action, params=params)


def on_fact(tag: str) -> Trigger:
    """A step on a fact with the ``TYPE`` tag ``tag``."""
    return Trigger(kind="fact", type=tag)


def on_event(tag: str) -> Trigger:
    """A step on a domain event with the ``TYPE`` tag ``tag``."""
    return Trigger(kind="event", type=tag)


def after(*, months: int = 0, days: int = 0, hours: int = 0) -> Trigger:
    """A timed step a delay after the state was entered."""
    return Trigger(kind="after", delay=Delay(months=months, days=days, hours=hours))


def before(anchor: str, *, days: int) -> Trigger:
    """A timed step ``days`` before an anchor of the entry message."""
    return Trigger(kind="before", anchor=anchor, delay=Delay(days=days))


def send(template: str, purpose: str = "care") -> Call:
    """A ``send_message`` action: ``template``, for ``purpose``."""
    return call("send_message", template=template, purpose=purpose)
