"""A short walk through the points ledger of the reference programme.

One family of the demo hospital: 王女士 (a gold member, L3) and her husband 李先生.
She checks in, pays for a dental implant, attends a health lecture, answers the survey,
redeems points for a check-up package, is partly refunded, and her husband pools his
points to her. The statement explains her balance line by line.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
from rich.table import Table

from membercore import (
    ChargeLine,
    ChargePaid,
    CheckedIn,
    EventAttended,
    Redeem,
    RefundIssued,
    SurveyAnswered,
    TransferPoints,
    reference_config,
)
from membercore.config import ProgrammeConfig
from membercore.ledger import LedgerState, balances, decide, decide_transfer, evolve, statement
from membercore.ledger.events import Posting
from membercore_adapters.language import Language, Words
from membercore_adapters.plain import plain

__all__ = ["ledger_walkthrough"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
WANG, LI = "p-wang", "p-li"


@attrs.define
class _Walk:
    """The walk so far: both ledgers, every posting, and where each step is told."""

    config: ProgrammeConfig
    echo: Callable[[str], None]
    states: dict[str, LedgerState]
    language: Language = "zh-CN"
    journal: list[Posting] = attrs.field(factory=list)

    def apply(self, postings: list[Posting], what: Words) -> None:
        """Apply the postings of a step to the ledgers, and tell the step."""
        for posting in postings:
            self.states[posting.member_id] = evolve(self.states[posting.member_id], posting)
            self.journal.append(posting)
        told = ", ".join(f"{p.member_id} {p.points:+d}" for p in postings)
        self.echo(f"  {what.say(self.language)}: {told}")

    def show(self, now: datetime, when: Words) -> None:
        """Tell 王女士's balances."""
        show(self.states[WANG], self.config, now, self.echo, when.say(self.language), self.language)


def ledger_walkthrough(
    echo: Callable[[str], None] = print, *, language: Language = "zh-CN"
) -> dict[str, LedgerState]:
    """Run the walk-through, printing each step with ``echo``; return the two ledgers."""
    config = reference_config()
    walk = _Walk(
        config=config,
        echo=echo,
        states={WANG: LedgerState(member_id=WANG), LI: LedgerState(member_id=LI)},
        language=language,
    )
    day = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
    echo(
        Words("{name}：积分账本逐步讲解", "{name} — points ledger walk-through").say(
            language, name=config.name
        )
    )
    _earn(walk, day)
    later = day + timedelta(days=10)
    walk.show(later, Words("7 天退费期过后", "after the 7-day refund window"))
    end = _spend(walk, later)
    walk.show(end, Words("最后", "at the end"))
    _statement(walk)
    return walk.states


def _earn(walk: _Walk, day: datetime) -> None:
    """Her first days: a check-in, the implant, a lecture and a survey; his check-ins."""
    states, config = walk.states, walk.config
    fact = CheckedIn(fact_id="his-1", patient_id=WANG, occurred_at=day)
    walk.apply(decide(fact, states[WANG], config, day), Words("签到", "check-in"))
    implant = ChargePaid(
        fact_id="his-2",
        patient_id=WANG,
        occurred_at=day + timedelta(hours=1),
        charge_id="C-0302-17",
        lines=(
            ChargeLine(department="dental", category="treatment", amount_fen=1_280_000),
            ChargeLine(
                department="dental", category="drug", amount_fen=36_000, insurance_fen=20_000
            ),
        ),
    )
    now = implant.occurred_at
    walk.apply(
        decide(implant, states[WANG], config, now, tier="L3"),
        Words(
            "种植牙 12,800 元 + 药（金卡 L3 ×1.5）", "dental implant 12,800 元 + drugs (L3 ×1.5)"
        ),
    )
    lecture = EventAttended(
        fact_id="his-3", patient_id=WANG, occurred_at=day + timedelta(days=2), event_id="lecture-7"
    )
    walk.apply(
        decide(lecture, states[WANG], config, lecture.occurred_at),
        Words("健康讲座", "health lecture"),
    )
    survey = SurveyAnswered(
        fact_id="his-4",
        patient_id=WANG,
        occurred_at=day + timedelta(days=2),
        visit_id="V-1",
        score=10,
    )
    walk.apply(
        decide(survey, states[WANG], config, survey.occurred_at),
        Words("满意度调查", "satisfaction survey"),
    )
    for member, days in ((LI, 0), (LI, 1)):
        fact = CheckedIn(
            fact_id=f"his-li-{days}", patient_id=member, occurred_at=day + timedelta(days=days)
        )
        walk.apply(
            decide(fact, states[member], config, fact.occurred_at),
            Words("李先生 签到", "李先生 checks in"),
        )


def _spend(walk: _Walk, later: datetime) -> datetime:
    """Her redemption, the partial refund and his points pooled to her; when it ends."""
    states, config = walk.states, walk.config
    redeem = Redeem(key="order-88", member_id=WANG, points=5_000, reference="体检套餐 check-up")
    walk.apply(
        decide(redeem, states[WANG], config, later),
        Words("兑换体检套餐", "redeems a check-up package"),
    )
    refund = RefundIssued(
        fact_id="his-5",
        patient_id=WANG,
        occurred_at=later + timedelta(hours=2),
        charge_id="C-0302-17",
        amount_fen=329_000,
    )
    walk.apply(
        decide(refund, states[WANG], config, refund.occurred_at),
        Words("部分退费", "partial refund"),
    )
    pool = TransferPoints(key="pool-1", member_id=LI, target_id=WANG, points=2, reason="积分归集")
    walk.apply(
        decide_transfer(
            pool, states[LI], states[WANG], config, refund.occurred_at, household={WANG, LI}
        ),
        Words("家庭积分归集到户主", "pooled to the head of the family"),
    )
    return refund.occurred_at


def _statement(walk: _Walk) -> None:
    """Her statement, line by line, as a table aligned by display width."""
    language = walk.language
    walk.echo(Words("  王女士的积分对账单：", "  statement of 王女士:").say(language))
    table = Table(box=None, show_edge=False, pad_edge=False, padding=(0, 2, 0, 0))
    for heading, right in _STATEMENT:
        table.add_column(heading.say(language), justify="right" if right else "left")
    for line in statement(p for p in walk.journal if p.member_id == WANG):
        table.add_row(
            f"{line.at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}",
            line.kind,
            f"{line.points:+d}",
            f"{line.balance:d}",
            line.rule,
            line.trigger,
            line.note,
        )
    for text in plain([table], 100_000).splitlines():
        walk.echo(f"    {text}")


_STATEMENT = (
    (Words("时间", "at"), False),
    (Words("类型", "kind"), False),
    (Words("积分", "points"), True),
    (Words("余额", "balance"), True),
    (Words("规则", "rule"), False),
    (Words("起因", "trigger"), False),
    (Words("说明", "note"), False),
)


def show(
    state: LedgerState,
    config: ProgrammeConfig,
    now: datetime,
    echo: Callable[[str], None],
    when: str,
    language: Language = "zh-CN",
) -> None:
    """Print a member's balances."""
    b = balances(state, config, now)
    echo(
        _BALANCES.say(
            language,
            when=when,
            available=b.available,
            pending=b.pending,
            qualifying=b.qualifying,
            redeemed=b.redeemed,
            reversed=b.reversed,
        )
    )


_BALANCES = Words(
    "  {when}余额：可用 {available}，待生效 {pending}，定级 {qualifying}，已兑换 {redeemed}，"
    "已冲回 {reversed}",
    "  balances {when}: available {available}, pending {pending}, qualifying {qualifying}, "
    "redeemed {redeemed}, reversed {reversed}",
)
