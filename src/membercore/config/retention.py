"""How long the details of what was sent and refused are kept.

PIPL Art. 19: no longer than the purpose needs. Past each period the worker
(``membercore worker``, or ``membercore retain`` from a scheduler) erases a detail and
keeps the fact of it: a message's body (its text and variables, in the outbox and in
the member's journal) while its id, channel, purpose, status and outcome stay; the
address a message went to and the provider's error text; the raw payload of an input
refused, while its id, type, reason and instant stay.
"""

from __future__ import annotations

import attrs

from membercore.config.common import MAX_DAYS, within

__all__ = ["Retention"]


@attrs.frozen(kw_only=True)
class Retention:
    """How many days each detail is kept (0: kept for good).

    Attributes:
        message_days: a message's body, counted from its delivery (or, never delivered,
            from its send instant); a message still waiting to go keeps it.
        delivery_days: the address a message was delivered to and the provider's last
            error, counted the same way.
        dead_letter_days: the raw payload of an input refused (a HIS message with a
            diagnosis, a line of a file), counted from its refusal.
    """

    message_days: int = attrs.field(default=180, validator=within(0, MAX_DAYS))
    delivery_days: int = attrs.field(default=365, validator=within(0, MAX_DAYS))
    dead_letter_days: int = attrs.field(default=90, validator=within(0, MAX_DAYS))
