"""The one error hierarchy of membercore.

Every error says what was wrong and with which input, and keeps the offending values as
attributes so that callers (and the dead-letter record) can act on them without parsing
the message.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "IdempotencyConflictError",
    "InsufficientPointsError",
    "InvalidAmountError",
    "InvalidFactError",
    "LedgerError",
    "MemberMismatchError",
    "MembercoreError",
    "NaiveInstantError",
    "NotReversibleError",
    "TransferNotAllowedError",
    "UnknownPostingError",
    "UnknownRuleError",
]


class MembercoreError(Exception):
    """Root of every error membercore raises on purpose."""


class NaiveInstantError(MembercoreError, ValueError):
    """An instant without a timezone was given where an aware one is required.

    Attributes:
        field: the name of the field or argument.
        value: the naive datetime.
    """

    def __init__(self, field: str, value: object) -> None:
        self.field = field
        self.value = value
        super().__init__(f"{field} must be timezone-aware, got naive {value!r}")


class InvalidFactError(MembercoreError, ValueError):
    """A fact or command was built with a value out of range.

    Attributes:
        message_type: the type of the fact or command (e.g. ``charge_paid``).
        field: the offending field.
        value: its value.
        problem: what is wrong with it.
    """

    def __init__(self, message_type: str, field: str, value: object, problem: str) -> None:
        self.message_type = message_type
        self.field = field
        self.value = value
        self.problem = problem
        super().__init__(f"{message_type}.{field} = {value!r}: {problem}")


class ConfigError(MembercoreError, ValueError):
    """The programme configuration is invalid.

    Attributes:
        key: the dotted path of the offending key (e.g. ``earning.spending.rate.points``).
        problem: what is wrong with it.
    """

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"config key {key!r}: {problem}")


class LedgerError(MembercoreError):
    """Root of the points ledger's refusals.

    Attributes:
        member_id: the member whose ledger refused.
    """

    def __init__(self, member_id: str, message: str) -> None:
        self.member_id = member_id
        super().__init__(message)


class InvalidAmountError(LedgerError, ValueError):
    """A points amount is out of range (zero, negative where positive is required...).

    Attributes:
        amount: the amount given.
        problem: what is wrong with it.
    """

    def __init__(self, member_id: str, amount: int, problem: str) -> None:
        self.amount = amount
        self.problem = problem
        super().__init__(member_id, f"member {member_id}: invalid amount {amount}: {problem}")


class InsufficientPointsError(LedgerError):
    """A debit asks for more points than the member has available.

    Attributes:
        requested: the points asked for.
        available: the points available at that instant.
    """

    def __init__(self, member_id: str, requested: int, available: int) -> None:
        self.requested = requested
        self.available = available
        super().__init__(
            member_id,
            f"member {member_id}: insufficient points: requested {requested}, "
            f"available {available}",
        )


class UnknownPostingError(LedgerError, LookupError):
    """A command names a posting the member's ledger does not hold.

    Attributes:
        posting_id: the id that was not found.
    """

    def __init__(self, member_id: str, posting_id: str) -> None:
        self.posting_id = posting_id
        super().__init__(member_id, f"member {member_id}: unknown posting {posting_id!r}")


class NotReversibleError(LedgerError):
    """A reversal names a posting that is not an earning.

    Attributes:
        posting_id: the posting named.
        kind: its kind.
    """

    def __init__(self, member_id: str, posting_id: str, kind: str) -> None:
        self.posting_id = posting_id
        self.kind = kind
        super().__init__(
            member_id,
            f"member {member_id}: posting {posting_id!r} of kind {kind!r} cannot be "
            "reversed; only earnings can",
        )


class IdempotencyConflictError(LedgerError):
    """An idempotency key was reused for a different command.

    Attributes:
        key: the reused key.
    """

    def __init__(self, member_id: str, key: str) -> None:
        self.key = key
        super().__init__(
            member_id,
            f"member {member_id}: idempotency key {key!r} was already used by a different command",
        )


class TransferNotAllowedError(LedgerError):
    """A transfer between two members was refused.

    Attributes:
        target_id: the member who would have received the points.
        points: the points asked for.
        reason: why it was refused.
    """

    def __init__(self, member_id: str, target_id: str, points: int, reason: str) -> None:
        self.target_id = target_id
        self.points = points
        self.reason = reason
        super().__init__(
            member_id,
            f"member {member_id}: transfer of {points} points to {target_id} refused: {reason}",
        )


class UnknownRuleError(LedgerError, LookupError):
    """A command names an earning rule the programme does not define.

    Attributes:
        rule_id: the rule named.
        points: the points that were asked for.
    """

    def __init__(self, member_id: str, rule_id: str, points: int) -> None:
        self.rule_id = rule_id
        self.points = points
        super().__init__(
            member_id,
            f"member {member_id}: no earning rule {rule_id!r} in the programme "
            f"(asked for {points} points)",
        )


class MemberMismatchError(LedgerError):
    """A command for one member was applied to another member's ledger.

    Attributes:
        given: the member the command names (``member_id`` is the ledger's owner).
    """

    def __init__(self, member_id: str, given: str) -> None:
        self.given = given
        super().__init__(
            member_id, f"ledger of member {member_id} cannot take a command for member {given}"
        )
