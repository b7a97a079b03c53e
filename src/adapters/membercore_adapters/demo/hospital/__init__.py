"""A seeded synthetic private general hospital: the demo data of the reference programme.

:func:`messages` streams what a hospital's systems and its members would send
membercore over a period: registrations (建档) of whole families, consents, outpatient
visits and their charges (some partly paid by 医保, a few refunded), diabetes care with
HbA1c rechecks (some missed), deliveries, orthopaedic surgery, dental implants,
check-ups, app check-ins and likes, health lectures and member days, referrals, paid
plans with their renewals, lapses and cancellations, and points redemptions.

The stream is generated day by day from a heap of scheduled actions, so memory grows
with the number of patients, never with the number of messages. Everything comes from
one ``random.Random(seed)``: the same spec always yields the same stream.

Commands carry no instant of their own; :func:`timed_messages` gives the instant at
which each message happens (a fact's ``occurred_at``, a payment's ``paid_at``), which is
the ``now`` to decide a command at.

The generator is made of small pieces, one per pathway of care, sharing the clock
(:mod:`.schedule`) and what is written down (:mod:`.records`): the population and its
registrations (:mod:`.population`, :mod:`.registration`, :mod:`.households`,
:mod:`.consents`), the visit and charge every pathway shares (:mod:`.care`), outpatient
visits (:mod:`.outpatient`), inpatient stays and rehabilitation (:mod:`.inpatient`),
orthopaedic surgery (:mod:`.surgery`), maternity (:mod:`.maternity`), diabetes
(:mod:`.chronic`), check-ups (:mod:`.checkups`), dental implants and cosmetics
(:mod:`.elective`), the member app with events and referrals (:mod:`.app`), points
(:mod:`.points`) and paid plans (:mod:`.paid_plans`); :mod:`.generator` wires them.
"""

from __future__ import annotations

from membercore_adapters.demo.hospital.generator import messages, timed_messages
from membercore_adapters.demo.hospital.patient import shard_of
from membercore_adapters.demo.hospital.spec import HospitalSpec, small

__all__ = ["HospitalSpec", "messages", "shard_of", "small", "timed_messages"]
