"""What the programme takes as plausible: bounds on amounts, points and instants.

A HIS sends an amount of 10^30 fen, a refund larger than its charge, a birth date in
9999, a visit in 1900: each would decide something absurd and stay in the journal. The
bounds here refuse such a fact or command, as a dead letter (or an error for a command
carried out at once) whose reason names the bound.
"""

from __future__ import annotations

import attrs

from membercore.config.common import MAX_DAYS, positive, within

__all__ = ["Plausibility"]


@attrs.frozen(kw_only=True)
class Plausibility:
    """Bounds a fact or command must keep to.

    Attributes:
        max_line_fen: the most one line of a charge (or a payment, a refund) may be, in
            fen (1,000,000 元 by default).
        max_charge_fen: the most a whole charge may come to, in fen (10,000,000 元).
        max_points: the most points one command may give, take or move.
        history_days: how old a fact may be when it is decided (30 years by default:
            older history is not the programme's).
        ahead_days: how far after the decision instant an instant a fact or command names
            may be (an appointment booked, a payment date), 3 years by default. A fact's
            own ``occurred_at`` may be ahead only by the engine's clock skew.
        max_age_years: the oldest a patient may be by their birth date.
    """

    max_line_fen: int = attrs.field(default=100_000_000, validator=positive)
    max_charge_fen: int = attrs.field(default=1_000_000_000, validator=positive)
    max_points: int = attrs.field(default=1_000_000, validator=positive)
    history_days: int = attrs.field(default=30 * 366, validator=within(1, MAX_DAYS))
    ahead_days: int = attrs.field(default=3 * 366, validator=within(1, MAX_DAYS))
    max_age_years: int = attrs.field(default=130, validator=within(1, 150))
