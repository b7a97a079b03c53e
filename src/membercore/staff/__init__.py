"""Staff work: what health managers do for members.

Tasks for health managers (:mod:`~membercore.staff.tasks`), paid-plan offers
(:mod:`~membercore.staff.offers`) and disease programmes
(:mod:`~membercore.staff.programmes`).
"""
