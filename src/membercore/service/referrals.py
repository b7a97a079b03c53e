"""Referral guards: a referral is rewarded once, for a patient the programme has seen.

A ``referral_qualified`` fact pays its referrer (``patient_id``) the referral reward. It
is taken only when the referrer is not the referred patient (the plausibility checks
refuse a self-referral first), the referred patient's first completed visit (the
fact's ``visit_id``) is known to the programme from the HIS's own visit fact and is
the first of theirs it knows (a returning patient is nobody's referral), and
nobody was rewarded for referring that patient before: one referred patient rewards one
referrer, the first whose referral qualifies. The referred patient's record notes who
referred them (:class:`~membercore.identity.ReferralCredited`), in the same unit of
work as the reward. A refused referral is a dead letter with the reason.
"""

from __future__ import annotations

from datetime import datetime

from membercore.errors import ReferralRefusedError
from membercore.facts import ReferralQualified
from membercore.identity import ReferralCredited
from membercore.service.member import evolve_all
from membercore.service.unit_of_work import UnitOfWork

__all__ = ["credit"]


def credit(uow: UnitOfWork, fact: ReferralQualified, now: datetime) -> None:
    """Note the referrer on the referred patient's record, or refuse the referral.

    Raises:
        ReferralRefusedError: a patient the programme does not know, whose visit it has
            not seen or whose first visit was another, or one whose referrer was
            already rewarded.
    """
    referrer, referred_id = fact.patient_id, fact.referred_patient_id
    referred = uow.member(referred_id, create=False)
    if referred is None:
        raise ReferralRefusedError(referrer, referred_id, "the referred patient is not known")
    survivor = referred.state.identity.merged_into
    if survivor is not None:  # the person goes on under the record they were merged into
        referred = uow.require_member(survivor)
    if referred.state.member_id == referrer:
        raise ReferralRefusedError(referrer, referred_id, "the same person as the referrer")
    visits = sorted(referred.state.profile.visits.values(), key=lambda visit: visit.at)
    if not any(visit.visit_id == fact.visit_id for visit in visits):
        problem = f"no completed visit {fact.visit_id!r} of the referred patient is known"
        raise ReferralRefusedError(referrer, referred_id, problem)
    if visits[0].visit_id != fact.visit_id:
        problem = (
            f"visit {fact.visit_id!r} is not their first: the programme has known them "
            f"since visit {visits[0].visit_id!r}"
        )
        raise ReferralRefusedError(referrer, referred_id, problem)
    earlier = referred.state.identity.referred_by
    if earlier is not None:
        if earlier == referrer:
            return  # the same referral again: the ledger decides it once
        problem = f"{earlier} was rewarded for referring this patient"
        raise ReferralRefusedError(referrer, referred_id, problem)
    noted = ReferralCredited(
        member_id=referred_id, referrer_id=referrer, fact_id=fact.fact_id, at=now
    )
    referred.take(evolve_all(referred.state, [noted]), [noted])
