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
    """The reference programme's small team: three health managers, two nurses, a doctor.

    ``reference_config().staff``.
    """
    # The reference programme's parts are read from its file, with this module's classes.
    from membercore.config.reference import reference_config  # noqa: PLC0415

    return reference_config().staff
