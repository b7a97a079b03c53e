"""The engine's named calls: a member's views, and the everyday commands by name.

Each view reads the member's record at the clock's instant with the part's own query;
each command builds the part's command and runs it through :meth:`Engine.execute`, the
one way a command is carried out (one unit of work, refused with the part's error).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

import attrs

from membercore import (
    analytics,
    benefits,
    consent,
    households,
    journeys,
    ledger,
    plans,
    segments,
    tiers,
)
from membercore.errors import MemberErasedError
from membercore.ledger.commands import AdjustPoints, Redeem
from membercore.ledger.events import LotState
from membercore.ledger.lots import spending_order
from membercore.ports import (
    Commit,
    DeadLetter,
    ErasureNote,
    ErasureStore,
    OutboxMessage,
    Store,
    StoredEvent,
    TaskRow,
)
from membercore.privacy import is_pseudonym
from membercore.service.erased import erasure_of
from membercore.service.erasure import plan_erasure
from membercore.service.export import export_member
from membercore.service.member import Member, profile_at, tier_at
from membercore.service.recording import (
    HOUSEHOLD,
    MEMBER,
    household_key,
    member_of,
)
from membercore.service.relisting import missing_rows
from membercore.service.retention import RetentionReport, plan_retention
from membercore.service.unit_of_work import RecordCache, UnitOfWork, decode

if TYPE_CHECKING:
    from membercore.config import ProgrammeConfig
    from membercore.service.use_cases import AnyCommand

__all__ = ["MemberCalls"]

_T = TypeVar("_T")

log = logging.getLogger("membercore.engine")

#: How many records :meth:`MemberCalls.relist_tasks` reads before writing what they lack.
_RELISTED = 500


class MemberCalls:
    """Named views and commands over :meth:`member` and :meth:`execute` (mixed into the engine)."""

    if TYPE_CHECKING:
        # What the engine provides: the calls below are built on these.
        config: ProgrammeConfig
        store: Store
        _records: RecordCache

        def member(self, member_id: str) -> Member:
            """The member's whole record."""

        def execute(
            self, command: AnyCommand, *, now: datetime | None = None
        ) -> tuple[object, ...]:
            """Carry out one command."""

        def now(self) -> datetime:
            """The clock's instant."""

        def retrying(self, work: Callable[[], _T], what: str) -> tuple[_T, int]:
            """Run ``work`` until it commits without a version conflict."""

        def unit_of_work(self, now: datetime) -> UnitOfWork:
            """A unit of work over the store, deciding at ``now``."""

        def standing(self, member_id: str) -> benefits.Standing:
            """The member's standing now."""

        def benefits_held(
            self, member_id: str
        ) -> tuple[benefits.Standing, tuple[benefits.QuotaState, ...]]:
            """The member's standing and the quota states they draw on."""

    # -- views --------------------------------------------------------------------------

    def points(self, member_id: str) -> ledger.Balances:
        """The member's balances now: available, pending, qualifying, lifetime..."""
        return ledger.balances(self.member(member_id).ledger, self.config, self.now())

    def lots(self, member_id: str) -> tuple[LotState, ...]:
        """The member's lots with points left, in the order they would be spent.

        Available lots first — earliest expiring first, then oldest earned, then in the
        order the ledger numbered them — then those still pending.
        """
        held, now = self.member(member_id).ledger, self.now()
        available = spending_order(held, self.config, now, vested=True)
        return (*available, *spending_order(held, self.config, now, vested=False))

    def tier(self, member_id: str) -> str:
        """The member's tier key now (``L1``..``L5`` in the reference programme).

        A review or an override's end that fell due since the last tick counts already.
        """
        return tier_at(self.member(member_id), self.config, self.now())

    def tier_history(self, member_id: str) -> tuple[tiers.TierChanged, ...]:
        """Every tier change of the member, with its reason, oldest first."""
        return tiers.history(self.member(member_id).tier)

    def entitlements(self, member_id: str) -> tuple[benefits.Entitlement, ...]:
        """Every benefit the member may use now, and where it comes from."""
        return benefits.entitlements(self.standing(member_id), self.config)

    def quote(
        self,
        member_id: str,
        items: Iterable[benefits.BillItem],
        *,
        appointment_id: str | None = None,
    ) -> benefits.Quote:
        """A bill priced for the member now: discounts and free-use quotas applied.

        Args:
            member_id: the member.
            items: the bill's lines.
            appointment_id: the appointment being billed: the uses reserved for it (by the
                member or from the household's shared quota) count as free for this bill.
        """
        held, quotas = self.benefits_held(member_id)
        return benefits.quote(
            items, held, self.config, self.now(), quotas=quotas, appointment_id=appointment_id
        )

    def subscriptions(self, member_id: str) -> tuple[plans.SubscriptionState, ...]:
        """The member's subscriptions, in the order they were asked for."""
        return tuple(self.member(member_id).plans.subscriptions.values())

    def journeys(self, member_id: str) -> tuple[journeys.JourneyInstance, ...]:
        """The journeys the member is in now."""
        return tuple(journeys.active(self.member(member_id).journeys))

    def tags(self, member_id: str) -> frozenset[str]:
        """The member's tags (conditions, stage, spending power, channel, family...)."""
        return segments.tags(profile_at(self.member(member_id), self.config, self.now()))

    def segment(self, member_id: str) -> str | None:
        """The member's value segment (A, B or C in the reference programme)."""
        return segments.segment_of(profile_at(self.member(member_id), self.config, self.now()))

    def open_tasks(self) -> list[TaskRow]:
        """Open staff tasks, by due instant."""
        return list(self.store.tasks("open"))

    def pending_outbox(self) -> list[OutboxMessage]:
        """Messages waiting for delivery, in commit order."""
        return list(self.store.outbox("pending"))

    def dead_letters(self) -> list[DeadLetter]:
        """Inputs refused, with their reasons, oldest first."""
        return list(self.store.dead_letters())

    def identified(self, system: str, value: str) -> str | None:
        """The member an identifier names (``("MR", "10006579")``), if any.

        A member merged into another is named as the survivor (the last one, when that
        one was merged in turn); a patient id a source used for a member known under
        another (system ``""``) names that member.
        """
        links = self.store.identified([value])
        found = next((link.patient_id for link in links if link.system == system), None)
        if found is None:
            return None
        uow = self.unit_of_work(self.now())
        uow.load_members([found])
        return uow.survivor(found) or found

    def identifiers(self, member_id: str) -> list[tuple[str, str]]:
        """The member's identifiers as ``(system, value)``, by system then value."""
        return [(link.system, link.value) for link in self.store.identifiers_of(member_id)]

    # -- commands -----------------------------------------------------------------------

    def redeem(
        self, member_id: str, points: int, *, key: str, reference: str | None = None
    ) -> tuple[object, ...]:
        """Spend points, earliest-expiring first.

        Raises:
            InsufficientPointsError: fewer points are available; nothing is spent.
        """
        return self.execute(
            Redeem(key=key, member_id=member_id, points=points, reference=reference)
        )

    def adjust_points(
        self, member_id: str, points: int, *, key: str, operator: str, reason: str
    ) -> tuple[object, ...]:
        """Add or take points by hand, with who did it and why."""
        command = AdjustPoints(
            key=key, member_id=member_id, points=points, operator=operator, reason=reason
        )
        return self.execute(command)

    def reserve_quota(
        self,
        member_id: str,
        benefit_key: str,
        *,
        key: str,
        appointment_id: str,
        units: int = 1,
        service_at: datetime | None = None,
    ) -> tuple[object, ...]:
        """Set free uses aside for an appointment.

        Raises:
            NotEntitledError, QuotaExhaustedError: the member holds no such quota, or too
                few uses remain.
        """
        command = benefits.ReserveQuota(
            key=key,
            member_id=member_id,
            benefit_key=benefit_key,
            appointment_id=appointment_id,
            units=units,
            service_at=service_at,
        )
        return self.execute(command)

    def consume_quota(self, member_id: str, *, key: str, appointment_id: str) -> tuple[object, ...]:
        """Use the uses set aside for an appointment that took place."""
        command = benefits.ConsumeQuota(key=key, member_id=member_id, appointment_id=appointment_id)
        return self.execute(command)

    def release_quota(
        self, member_id: str, *, key: str, appointment_id: str, reason: str | None = None
    ) -> tuple[object, ...]:
        """Give back the uses set aside for an appointment that did not take place."""
        command = benefits.ReleaseQuota(
            key=key, member_id=member_id, appointment_id=appointment_id, reason=reason
        )
        return self.execute(command)

    def subscribe(
        self,
        member_id: str,
        plan_key: str,
        *,
        key: str,
        subscription_id: str,
        dependents: Sequence[str] = (),
        attributed_to: str | None = None,
    ) -> tuple[object, ...]:
        """Ask for a paid plan; it starts when its first payment is recorded."""
        command = plans.Subscribe(
            key=key,
            member_id=member_id,
            subscription_id=subscription_id,
            plan_key=plan_key,
            dependents=tuple(dependents),
            attributed_to=attributed_to,
        )
        return self.execute(command)

    def record_payment(
        self, member_id: str, *, key: str, subscription_id: str, amount_fen: int, paid_at: datetime
    ) -> tuple[object, ...]:
        """Record the payment a subscription awaits (its first term or a renewal)."""
        command = plans.RecordPayment(
            key=key,
            member_id=member_id,
            subscription_id=subscription_id,
            amount_fen=amount_fen,
            paid_at=paid_at,
        )
        return self.execute(command)

    def renew(self, member_id: str, *, key: str, subscription_id: str) -> tuple[object, ...]:
        """Ask for one more term of a subscription; it then awaits payment."""
        return self.execute(
            plans.Renew(key=key, member_id=member_id, subscription_id=subscription_id)
        )

    def cancel(
        self, member_id: str, *, key: str, subscription_id: str, reason: str
    ) -> tuple[object, ...]:
        """End a subscription now, refunding unused days if the plan's policy says so."""
        command = plans.Cancel(
            key=key, member_id=member_id, subscription_id=subscription_id, reason=reason
        )
        return self.execute(command)

    def add_dependent(
        self,
        household_id: str,
        member_id: str,
        relationship: households.Relationship,
        *,
        key: str,
        birth_date: date | None = None,
        guardian_id: str | None = None,
    ) -> tuple[object, ...]:
        """Add a relative to a household (a minor needs an adult guardian in it)."""
        command = households.AddDependent(
            key=key,
            household_id=household_id,
            member_id=member_id,
            relationship=relationship,
            birth_date=birth_date,
            guardian_id=guardian_id,
        )
        return self.execute(command)

    def record_consent(
        self,
        member_id: str,
        purpose: consent.Purpose,
        channels: Sequence[consent.Channel],
        *,
        key: str,
        given_by: str,
        source: str,
        text_version: str | None = None,
        operator: str | None = None,
    ) -> tuple[object, ...]:
        """Record a consent for a purpose on channels (a guardian's for a child under 14).

        ``text_version`` names the consent text agreed to; ``operator`` the member of
        staff who took it (None: the person gave it themselves).
        """
        command = consent.GrantConsent(
            key=key,
            member_id=member_id,
            purpose=purpose,
            channels=tuple(channels),
            given_by=given_by,
            source=source,
            text_version=text_version,
            operator=operator,
        )
        return self.execute(command)

    def withdraw_consent(
        self,
        member_id: str,
        purpose: consent.Purpose,
        *,
        key: str,
        channels: Sequence[consent.Channel] = (),
        reason: str | None = None,
        operator: str | None = None,
    ) -> tuple[object, ...]:
        """Withdraw a consent (every channel when none is named); outreach stops at once.

        ``operator`` is the member of staff who took the withdrawal (None: the person
        withdrew it themselves).
        """
        command = consent.WithdrawConsent(
            key=key,
            member_id=member_id,
            purpose=purpose,
            channels=tuple(channels),
            reason=reason,
            operator=operator,
        )
        return self.execute(command)

    # -- the whole store ----------------------------------------------------------------

    def household(self, household_id: str) -> households.HouseholdState | None:
        """A household's record, if it is stored."""
        key = household_key(household_id)
        record = self.store.load([key]).get(key)
        if record is None:
            return None
        state: households.HouseholdState = decode(self.store, self._records, record)
        return state

    def members(self, where: Callable[[str], bool] | None = None) -> Iterator[Member]:
        """Every member's record, streamed in id order.

        Args:
            where: keep only the members whose id it accepts (checked before a record
                is read, so that the others cost nothing).
        """
        for record in self.store.scan(MEMBER):
            if where is None or where(member_of(record.key)):
                yield decode(self.store, self._records, record)

    def histories(
        self, where: Callable[[str], bool] | None = None
    ) -> Iterator[tuple[Member, list[StoredEvent]]]:
        """Every member's record with its whole journal, streamed in id order.

        Args:
            where: keep only the members whose id it accepts (as :meth:`members`).
        """
        for record in self.store.scan(MEMBER):
            if where is None or where(member_of(record.key)):
                journal = self.store.events(record.key)
                member: Member = decode(self.store, self._records, record, journal)
                yield member, journal

    def measure(
        self,
        *,
        now: datetime | None = None,
        model: analytics.ValueModel | None = None,
        where: Callable[[str], bool] | None = None,
    ) -> analytics.Measurement:
        """The programme measured at ``now`` (the clock's instant by default).

        Every figure docs/analytics.md defines, from every member's record and journal
        (streamed: memory does not grow with the number of members).
        """
        at = now or self.now()
        stories = (
            analytics.story_of(member, journal, self.config, at)
            for member, journal in self.histories(where)
        )
        return analytics.measure(stories, self.config, at, model)

    def export_member(self, member_id: str, *, now: datetime | None = None) -> dict[str, Any]:
        """Everything the programme holds about a member, as one JSON-ready document.

        The record, identifiers, journal, facts and commands taken and refused, messages
        sent and refused, consent history, tasks and look-ups
        (:func:`membercore.service.export.export_member`; docs/privacy.md).

        Raises:
            UnknownMemberError: the store holds no record of the member.
        """
        return export_member(self.store, self.member(member_id), now or self.now())

    def erase_member(
        self, member_id: str, reason: str, *, by: str, now: datetime | None = None
    ) -> ErasureNote:
        """Erase a person's data, keeping their records pseudonymous and balanced (PIPL Art. 47).

        Their records move to a pseudonymous key with their whole journal, so the
        ledger, the liability and the figures stay as they were; their name, contact
        details, identifiers, message bodies, free text and raw HIS payloads are erased
        from every table; messages not yet sent are cancelled, open tasks closed; later
        facts about them are refused (:mod:`membercore.service.erasure`; docs/privacy.md).
        A member merged into another is erased with the record they were merged into.

        Args:
            member_id: the member (any of their patient ids).
            reason: why (the person's request and its reference): kept.
            by: who carries it out (a member of staff's id): kept.
            now: when (the clock's instant by default).

        Returns:
            What is kept of the erasure: when, why, by whom, and how many rows of each
            kind were rewritten.

        Raises:
            UnknownMemberError: the store holds no record of the member.
            ValueError: ``reason`` or ``by`` is empty.
            TypeError: the store cannot erase.
        """
        if not reason.strip() or not by.strip():
            raise ValueError("an erasure needs a reason and who carries it out")
        merged_into = self.member(member_id).identity.merged_into
        if is_pseudonym(member_id):
            raise MemberErasedError(member_id)
        survivor = merged_into or member_id
        at = now or self.now()

        def erase() -> ErasureNote:
            erasure, keys = plan_erasure(self.store, survivor, reason, by, at)
            seq = cast(ErasureStore, self.store).erase(erasure)
            self._records.drop(keys)
            return attrs.evolve(cast(ErasureNote, erasure.note), seq=seq)

        note, _ = self.retrying(erase, f"erasing member {member_id}")
        return note

    def erasure_of(self, member_id: str) -> ErasureNote | None:
        """The erasure of the person ``member_id`` named, if their data was erased."""
        return erasure_of(self.store, member_id)

    def retain(self, *, now: datetime | None = None, dry_run: bool = False) -> RetentionReport:
        """Let go of the details the programme's retention periods keep no longer.

        Message bodies (in the outbox and the members' journals), the addresses messages
        went to and the providers' errors, and the raw payloads of inputs refused, each
        past its period (:class:`~membercore.config.Retention`); ids, statuses, outcomes
        and reasons stay (:mod:`membercore.service.retention`). The worker runs it; a
        store that cannot erase (:class:`~membercore.ports.ErasureStore`) keeps all.
        With ``dry_run``, only says what it would let go, and changes nothing.
        """
        at = now or self.now()
        store = self.store
        if not isinstance(store, ErasureStore):
            log.warning("retention: the store %s cannot erase; everything is kept", store.url)
            return RetentionReport()

        def retain() -> RetentionReport:
            erasure, report = plan_retention(self.store, self.config.retention, at)
            if dry_run:
                return report
            if erasure.records or erasure.outbox or erasure.dead_letters:
                store.erase(erasure)
                self._records.drop(r.key for r in erasure.records)
            return report

        report, _ = self.retrying(retain, "letting go of details past their retention")
        if report != RetentionReport() and not dry_run:
            log.info("retention: %s", report)
        return report

    def relist_tasks(self) -> int:
        """Write the row of every task a member's record holds that the task lists lack.

        A store written before a task was known by its record and its key kept one row
        per task key, so that a second member's task of a key hid the first's from the
        staff's lists (:mod:`membercore.service.relisting`). Reads every member's record
        once; run it once after migrating such a store, the workers stopped (a worker
        changing a task meanwhile could have its row written back as it was read).

        Returns:
            How many rows were written.
        """
        listed = {(row.key, row.task_key) for row in self.store.tasks(None)}
        written = 0
        held: dict[str, Member] = {}
        for record in self.store.scan(MEMBER):
            held[record.key] = decode(self.store, self._records, record)
            if len(held) == _RELISTED:
                written += self._relist(held, listed)
        written += self._relist(held, listed)
        if written:
            log.info("task lists: %d rows written again from the records", written)
        return written

    def _relist(self, held: dict[str, Member], listed: set[tuple[str, str]]) -> int:
        rows = missing_rows(self.store, held, listed)
        held.clear()
        if rows:
            self.store.commit(Commit(tasks=rows))
        return len(rows)

    def households(self) -> Iterator[households.HouseholdState]:
        """Every household's record, streamed in id order."""
        for record in self.store.scan(HOUSEHOLD):
            yield decode(self.store, self._records, record)
