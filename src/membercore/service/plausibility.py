"""Plausibility: a fact or command that could not have happened is refused with the bound.

Pure checks against the programme's :class:`~membercore.config.Plausibility` and the
member's record: amounts and points within bounds, instants within a window around the
decision instant, a birth date neither after the fact nor past the oldest age, and a
refund never of a charge the programme has not seen nor above what is left of it (a
refund that arrives before its charge is refused: the HIS sends it again once the
charge is in).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

import attrs

from membercore import ledger
from membercore.config import ProgrammeConfig
from membercore.errors import ImplausibleError
from membercore.facts import ChargePaid, Fact, PatientRegistered, RefundIssued
from membercore.service.member import Member

__all__ = ["check"]

_POINTS = ("points",)
# Fields whose declared type holds no instant and no amount: never looked at.
_TEXT = frozenset({"str", "str | None", "bool", "ClassVar[str]"})


@cache
def _plan(cls: Any) -> tuple[str, ...]:
    """The fields of a message type that may hold an instant, an amount or nested values."""
    if not attrs.has(cls):
        return ()
    return tuple(f.name for f in attrs.fields(cls) if str(f.type) not in _TEXT)


def _registered(message: object, name: str) -> bool:
    """Whether ``name`` is when a patient registered: as old as the HIS's record may be.

    A HIS registers a patient at their first visit, decades ago: the registration is
    taken however old, so that their recent facts find them (their older facts are
    refused as before).
    """
    return isinstance(message, PatientRegistered) and name == "occurred_at"


def check(message: object, member: Member | None, config: ProgrammeConfig, now: datetime) -> None:
    """Refuse a fact or command outside the programme's bounds.

    Args:
        message: the fact or command.
        member: the record it is about (None for a patient not yet registered).
        config: the programme.
        now: the decision instant.

    Raises:
        ImplausibleError: naming the field, the value and the bound it is past.
    """
    bounds = config.plausibility
    kind = str(getattr(message, "TYPE", type(message).__name__))
    earliest = now - timedelta(days=bounds.history_days)
    latest = now + timedelta(days=bounds.ahead_days)
    for name, value in _fields(message):
        if isinstance(value, datetime):
            if value < earliest and not _registered(message, name):
                raise ImplausibleError(
                    kind, name, value, f"before {earliest.date()}, plausibility.history_days"
                )
            if name != "occurred_at" and value > latest:
                raise ImplausibleError(
                    kind, name, value, f"after {latest.date()}, plausibility.ahead_days"
                )
        elif isinstance(value, int) and not isinstance(value, bool):
            _check_amount(kind, name, value, config)
    if isinstance(message, Fact):
        _check_fact(kind, message, member, config)


def _fields(message: object, prefix: str = "") -> Iterator[tuple[str, object]]:
    """Every (path, value) of an attrs message that may hold an instant or an amount."""
    kind: Any = type(message)
    for name in _plan(kind):
        value = getattr(message, name)
        path = f"{prefix}{name}"
        if isinstance(value, tuple | list):
            for n, item in enumerate(value):
                yield from _fields(item, f"{path}[{n}].")
        elif attrs.has(type(value)):
            yield from _fields(value, f"{path}.")
        else:
            yield path, value


def _check_amount(kind: str, name: str, value: int, config: ProgrammeConfig) -> None:
    bounds = config.plausibility
    field = name.rpartition(".")[2]
    if field in _POINTS and abs(value) > bounds.max_points:
        raise ImplausibleError(
            kind, name, value, f"more than {bounds.max_points}, plausibility.max_points"
        )
    if field.endswith("_fen") and abs(value) > bounds.max_line_fen:
        raise ImplausibleError(
            kind, name, value, f"more than {bounds.max_line_fen} fen, plausibility.max_line_fen"
        )


def _check_fact(kind: str, fact: Fact, member: Member | None, config: ProgrammeConfig) -> None:
    local = fact.occurred_at.astimezone(config.tz).date()
    born = getattr(fact, "birth_date", None)
    if isinstance(born, date):
        oldest = local.replace(year=local.year - config.plausibility.max_age_years, day=1)
        if born > local:
            raise ImplausibleError(kind, "birth_date", born, f"after the fact ({local})")
        if born < oldest:
            raise ImplausibleError(
                kind, "birth_date", born, f"before {oldest}, plausibility.max_age_years"
            )
    if isinstance(fact, RefundIssued):
        _check_refund(kind, fact, member)
    if isinstance(fact, ChargePaid):
        _check_charge(kind, fact, member, config)
    referred = getattr(fact, "referred_patient_id", None)
    if referred is not None and referred == fact.patient_id:
        raise ImplausibleError(kind, "referred_patient_id", referred, "a patient refers themselves")


def _check_charge(
    kind: str, charge: ChargePaid, member: Member | None, config: ProgrammeConfig
) -> None:
    bound = config.plausibility.max_charge_fen
    total = sum(line.amount_fen for line in charge.lines)
    if total > bound:
        problem = f"the charge comes to {total} fen, more than {bound}, plausibility.max_charge_fen"
        raise ImplausibleError(kind, "lines", total, problem)
    charges = member.profile.charges.values() if member is not None else ()
    # The same fact again (another worker took it meanwhile) is the parts' to replay.
    taken = [
        f"as fact {noted.fact_id}"
        for noted in charges
        if noted.charge_id == charge.charge_id and noted.fact_id != charge.fact_id
    ]
    # A charge the profile has let go (paid more than a year before), or one a merged
    # record brought, that earned points is still known to the ledger.
    reference = ledger.charge_reference(charge.charge_id)
    earned = member is not None and reference in member.ledger.references
    if not taken and earned and not _taken(member, charge.fact_id):
        taken = ["(it earned points)"]
    if taken:
        raise ImplausibleError(
            kind,
            "charge_id",
            charge.charge_id,
            f"taken before {taken[0]}: a charge is sent once (a correction is a "
            "refund, and a new charge with its own id)",
        )


def _taken(member: Member | None, fact_id: str) -> bool:
    """Whether the record took this very fact (sent again, it is the parts' to replay)."""
    if member is None:
        return False
    return fact_id in member.profile.facts or fact_id in member.ledger.keys


def _check_refund(kind: str, refund: RefundIssued, member: Member | None) -> None:
    charges = (
        []
        if member is None
        else [c for c in member.profile.charges.values() if c.charge_id == refund.charge_id]
    )
    if not charges:
        _check_refund_of_earning(kind, refund, member)
        return
    total = sum(c.total_fen for c in charges if c.total_fen is not None)
    if any(c.total_fen is None for c in charges):
        return  # a charge taken before totals were kept: nothing to hold it to
    refunded = (
        sum(
            r.amount_fen for r in member.profile.refunds.values() if r.charge_id == refund.charge_id
        )
        if member is not None
        else 0
    )
    _check_left(kind, refund, total, total - refunded)


def _check_refund_of_earning(kind: str, refund: RefundIssued, member: Member | None) -> None:
    """A refund of a charge the profile has let go (paid more than a year before).

    The ledger still knows a charge that earned points: the refund is held to what is
    left of the charge by the refunds its earning took back. One whose earning was let
    go too (older than ``ledger.reversible_months``) takes nothing back and is taken.
    """
    reference = ledger.charge_reference(refund.charge_id)
    lot_id = None if member is None else member.ledger.references.get(reference)
    if lot_id is None:
        raise ImplausibleError(
            kind,
            "charge_id",
            refund.charge_id,
            "no such charge of the patient has been taken (send the refund after its charge)",
        )
    held = member.ledger.lots.get(lot_id) if member is not None else None
    if held is None or held.lot.basis_fen is None:
        return
    total = held.lot.basis_fen
    _check_left(kind, refund, total, total - held.refunded_fen)


def _check_left(kind: str, refund: RefundIssued, total: int, left: int) -> None:
    if refund.amount_fen > left:
        raise ImplausibleError(
            kind,
            "amount_fen",
            refund.amount_fen,
            f"more than is left of charge {refund.charge_id} ({left} of {total} fen)",
        )
