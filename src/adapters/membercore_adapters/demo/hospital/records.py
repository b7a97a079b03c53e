"""What the hospital writes down: facts and commands, and the ids it numbers them with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from membercore.facts import Fact
from membercore.service.engine import Message
from membercore.service.use_cases import AnyCommand
from membercore_adapters.demo.hospital.patient import Patient
from membercore_adapters.demo.hospital.schedule import Schedule

__all__ = ["Records"]

_F = TypeVar("_F", bound=Fact)
_C = TypeVar("_C", bound=AnyCommand)


@attrs.define
class Records:
    """The messages of the action running, and the counters every id is numbered from.

    Attributes:
        clock: gives the instant facts occur at.
        out: the messages the running action emitted, in order.
    """

    clock: Schedule
    out: list[Message] = attrs.field(factory=list, init=False)
    _facts: int = attrs.field(default=0, init=False)
    _keys: int = attrs.field(default=0, init=False)
    _visits: int = attrs.field(default=0, init=False)
    _charges: int = attrs.field(default=0, init=False)
    _appointments: int = attrs.field(default=0, init=False)
    _subscriptions: int = attrs.field(default=0, init=False)

    def fact(self, cls: type[_F], patient: Patient, **fields: Any) -> _F:
        """Emit a fact about ``patient`` happening now."""
        fact = cls(
            fact_id=self.fact_id(),
            patient_id=patient.pid,
            occurred_at=self.clock.instant,
            **fields,
        )
        self.out.append(fact)
        return fact

    def command(self, cls: Callable[..., _C], **fields: Any) -> _C:
        """Emit a command with the next key."""
        self._keys += 1
        command = cls(key=f"K{self._keys:08d}", **fields)
        self.out.append(command)
        return command

    def fact_id(self) -> str:
        """The id of the next fact."""
        self._facts += 1
        return f"F{self._facts:08d}"

    def visit_id(self) -> str:
        """The id of the next visit or stay."""
        self._visits += 1
        return f"V{self._visits:07d}"

    def charge_id(self) -> str:
        """The id of the next charge."""
        self._charges += 1
        return f"C{self._charges:07d}"

    def appointment_id(self) -> str:
        """The id of the next appointment."""
        self._appointments += 1
        return f"A{self._appointments:07d}"

    def subscription_id(self) -> str:
        """The id of the next plan subscription."""
        self._subscriptions += 1
        return f"S{self._subscriptions:06d}"
