"""The staff who take the programme's work: call tasks, visits, health management."""

from __future__ import annotations

import attrs

from membercore.config.common import positive, unique_keys

__all__ = ["StaffMember", "StaffRoster", "reference_staff"]


@attrs.frozen(kw_only=True)
class StaffMember:
    """A member of staff.

    Attributes:
        key: the staff id (as in the hospital's staff directory).
        name: shown to colleagues.
        roles: what they do (``health_manager``, ``nurse``, ``doctor``...).
        capacity: most cases they should hold at once (assignment avoids going over it
            while anyone with the role has room).
    """

    key: str
    name: str
    roles: tuple[str, ...]
    capacity: int = attrs.field(default=200, validator=positive)


@attrs.frozen(kw_only=True)
class StaffRoster:
    """Who may be assigned work."""

    staff: tuple[StaffMember, ...] = attrs.field(default=(), validator=unique_keys)

    @property
    def roles(self) -> frozenset[str]:
        """Every role someone on the roster has."""
        return frozenset(role for member in self.staff for role in member.roles)

    def with_role(self, role: str) -> tuple[StaffMember, ...]:
        """The staff who have ``role``, in roster order."""
        return tuple(member for member in self.staff if role in member.roles)


def reference_staff() -> StaffRoster:
    """A small team: three health managers, two nurses and a doctor."""
    return StaffRoster(
        staff=(
            StaffMember(key="hm-01", name="王健康", roles=("health_manager",), capacity=150),
            StaffMember(key="hm-02", name="李管家", roles=("health_manager",), capacity=150),
            StaffMember(key="hm-03", name="赵顾问", roles=("health_manager",), capacity=100),
            StaffMember(key="rn-01", name="陈护士", roles=("nurse",)),
            StaffMember(key="rn-02", name="刘护士", roles=("nurse",)),
            StaffMember(key="md-01", name="周医生", roles=("doctor",), capacity=80),
        )
    )
