"""``member show|export|journal``, ``household journal``: a record read; ``member erase``.

Reading a member's record (``show``, ``export``, ``journal``) records a look-up first
(who: ``cli:<login>``, via ``cli``, the ``--purpose`` given), as the HTTP API and the
console do; the read itself opens the store read-only. ``member erase ID --reason R --by
WHO`` erases a person's data (PIPL Art. 47:
:meth:`~membercore.service.engine.Engine.erase_member`), after asking to confirm unless
``--yes``; ``member erasures`` lists what was erased, when, why and by whom.
"""

from __future__ import annotations

import getpass
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from membercore.errors import MemberErasedError
from membercore.ledger import balances
from membercore.plans import active_plans
from membercore.ports import AccountStore, ErasureStore, Lookup
from membercore.privacy import is_pseudonym
from membercore.service.engine import Engine
from membercore.service.erased import unknown
from membercore.service.export import journal_entry
from membercore.service.member import tier_at
from membercore.service.recording import household_key, member_key
from membercore_adapters.cli.arguments import INSTANT, Exit, store_options
from membercore_adapters.cli.opening import engine_on
from membercore_adapters.cli.speech import Words, echo, language, say, warn
from membercore_adapters.exports import export_summary

__all__ = ["commands"]


def commands() -> list[click.Command]:
    """``member`` and ``household``."""
    member = click.Group("member", help=say(Words("会员的记录", "a member's record")))
    member.add_command(_show())
    member.add_command(_export())
    member.add_command(_journal("member", Words("会员的", "the member's")))
    member.add_command(_erase())
    member.add_command(_erasures())
    household = click.Group("household", help=say(Words("家庭的记录", "a household's record")))
    household.add_command(_journal("household", Words("家庭的", "the household's")))
    return [member, household]


def _show() -> click.Command:
    @click.command(
        "show",
        help=say(
            Words(
                "积分、等级、付费计划、旅程和标签（JSON）",
                "points, tier, plans, journeys and tags (JSON)",
            )
        ),
    )
    @click.argument("member_id")
    @click.option(
        "--now",
        type=INSTANT,
        help=say(
            Words(
                "按此时刻查看（带 UTC 偏移的 ISO 8601；默认：现在）：积分、在期的付费计划",
                "the instant to see the record at (ISO 8601 with its UTC offset; default: "
                "now): points, plans in force",
            )
        ),
    )
    @_purpose_option
    @store_options
    def show(
        member_id: str, now: datetime | None, purpose: str, store: str, config: Path | None
    ) -> int:
        with engine_on(store, config, use="read") as engine:
            if not engine.store.load([member_key(member_id)]):
                return _unknown_member(engine, member_id)
            view = _member_view(engine, member_id, engine.now() if now is None else now)
        _looked_up(store, config, member_id, purpose)
        echo(json.dumps(view, ensure_ascii=False, indent=2))
        return Exit.DONE

    return show


#: The purpose a read from the command line is recorded with when none is given.
CLI_PURPOSE = "命令行查阅"


def _not_blank(_context: click.Context, parameter: click.Parameter, value: str) -> str:
    """An option's text, refused as a usage error (exit 2) when it is empty or blank."""
    if not value.strip():
        raise click.BadParameter(say(_BLANK), param=parameter)
    return value


_BLANK = Words("不能为空", "must not be empty")

_purpose_option = click.option(
    "--purpose",
    default=CLI_PURPOSE,
    show_default=True,
    callback=_not_blank,
    help=say(
        Words(
            "查阅的目的，记入查阅记录（membercore audit）",
            "why the record is read: recorded with the look-up (membercore audit)",
        )
    ),
)
_NOT_RECORDED = Words(
    "membercore: 此存储不保存查阅记录，本次查阅未记录：{store}",
    "membercore: this store keeps no look-ups; this one was not recorded: {store}",
)


def reader() -> str:
    """Who reads from the command line, as a look-up names them: ``cli:<login>``."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no login name for the process's user
        login = "unknown"
    return f"cli:{login}"


def _looked_up(store: str, config: Path | None, member_id: str, purpose: str) -> None:
    """Record that the member's record was read from the command line, before it is shown.

    Raises:
        Stop: the store could not record it (nothing is shown).
    """
    with engine_on(store, config, use="tend") as engine:
        accounts = engine.store
        if not isinstance(accounts, AccountStore):
            warn(_NOT_RECORDED, store=accounts.url)
            return
        seen = Lookup(
            at=engine.now(), who=reader(), member_id=member_id, purpose=purpose, via="cli"
        )
        accounts.record_lookup(seen)


_EXPORTED = Words(
    "已导出会员 {member} 的全部数据：{json}（可读摘要：{summary}）",
    "exported everything about member {member}: {json} (readable summary: {summary})",
)


def _export() -> click.Command:
    @click.command(
        "export",
        help=say(
            Words(
                "导出方案保存的该会员全部数据（个人信息副本，JSON 及可读摘要）",
                "everything the programme holds about the member (their copy of their "
                "data: JSON and a readable summary)",
            )
        ),
    )
    @click.argument("member_id")
    @click.option(
        "--out",
        type=click.Path(path_type=Path, dir_okay=False),
        help=say(
            Words(
                "写入此 JSON 文件，摘要写在旁边的 .txt（默认：JSON 输出到标准输出）",
                "write to this JSON file, the summary beside it as .txt (default: the JSON "
                "to standard output)",
            )
        ),
    )
    @_purpose_option
    @store_options
    def export(
        member_id: str, out: Path | None, purpose: str, store: str, config: Path | None
    ) -> int:
        with engine_on(store, config, use="read") as engine:
            if not engine.store.load([member_key(member_id)]):
                return _unknown_member(engine, member_id)
            document = engine.export_member(member_id)
            view = _member_view(engine, member_id, engine.now())
            zone = engine.config.tz
        _looked_up(store, config, member_id, purpose)
        text = json.dumps(document, ensure_ascii=False, indent=1)
        if out is None:
            echo(text)
            return Exit.DONE
        out.write_text(text, encoding="utf-8")
        summary = out.with_suffix(".txt")
        text = export_summary(document, view, language(), zone)
        summary.write_text(text, encoding="utf-8")
        echo(_EXPORTED, member=member_id, json=out, summary=summary)
        return Exit.DONE

    return export


_ERASED = Words(
    "已删除会员 {member} 的个人信息（第 {seq} 次删除；改写：{counts}）；"
    "其积分与统计以去标识化记录保留，此后关于此人的事实将被拒绝",
    "erased member {member}'s personal data (erasure {seq}; rewritten: {counts}); their "
    "points and figures stay under a pseudonymous record, and later facts about them are "
    "refused",
)
_CONFIRM = Words(
    "删除会员 {member} 的姓名、联系方式、标识符、消息正文和原始 HIS 报文？此操作不可撤销",
    "erase member {member}'s name, contact details, identifiers, message bodies and raw "
    "HIS messages? This cannot be undone",
)
_PSEUDONYMOUS = Words(
    "membercore: {member} 是已删除个人信息者的去标识化记录，其中已无可删除的个人信息",
    "membercore: {member} is the pseudonymous record of a person whose data was erased: "
    "there is nothing of theirs left to erase",
)
_NOT_ERASED = Words("未删除任何数据", "nothing was erased")
_NO_ERASURE = Words(
    "membercore: 此存储不支持删除个人信息：{store}",
    "membercore: this store cannot erase a person's data: {store}",
)


def _erase() -> click.Command:
    @click.command(
        "erase",
        help=say(
            Words(
                "删除此人的个人信息（个人信息保护法第 47 条），积分与统计以去标识化记录保留",
                "erase the person's personal data (PIPL Art. 47), keeping their points and "
                "figures under a pseudonymous record",
            )
        ),
    )
    @click.argument("member_id")
    @click.option(
        "--reason",
        required=True,
        callback=_not_blank,
        help=say(
            Words(
                "删除的理由（本人申请及其编号），予以保留",
                "why (the request and its reference): kept",
            )
        ),
    )
    @click.option(
        "--by",
        "by",
        required=True,
        callback=_not_blank,
        help=say(
            Words("执行删除的人（员工编号），予以保留", "who carries it out (a staff id): kept")
        ),
    )
    @click.option("--yes", is_flag=True, help=say(Words("不再询问确认", "do not ask to confirm")))
    @store_options
    def erase(
        member_id: str, reason: str, by: str, yes: bool, store: str, config: Path | None
    ) -> int:
        with engine_on(store, config, use="tend") as engine:
            if not isinstance(engine.store, ErasureStore):
                warn(_NO_ERASURE, store=engine.store.url)
                return Exit.STORE
            if not engine.store.load([member_key(member_id)]):
                return _unknown_member(engine, member_id)
            if not yes and not click.confirm(say(_CONFIRM, member=member_id), err=True):
                warn(_NOT_ERASED)
                return Exit.REFUSED
            if is_pseudonym(member_id):
                warn(_PSEUDONYMOUS, member=member_id)
                return Exit.REFUSED
            note = engine.erase_member(member_id, reason, by=by)
        counts = ", ".join(f"{kind} {n}" for kind, n in note.counts.items() if n)
        echo(_ERASED, member=member_id, seq=note.seq, counts=counts)
        return Exit.DONE

    return erase


def _erasures() -> click.Command:
    @click.command(
        "erasures",
        help=say(
            Words(
                "已删除的个人信息：何时、为何、由谁（每行一个 JSON；不含被删除的数据）",
                "the erasures carried out: when, why, by whom (a JSON line each; none of "
                "the data erased)",
            )
        ),
    )
    @store_options
    def erasures(store: str, config: Path | None) -> int:
        with engine_on(store, config, use="read") as engine:
            if not isinstance(engine.store, ErasureStore):
                warn(_NO_ERASURE, store=engine.store.url)
                return Exit.STORE
            for note in engine.store.erasures():
                line = {
                    "seq": note.seq,
                    "at": note.at.isoformat(),
                    "reason": note.reason,
                    "by": note.by,
                    "counts": note.counts,
                }
                echo(json.dumps(line, ensure_ascii=False))
        return Exit.DONE

    return erasures


_UNKNOWN = Words(
    "membercore: 没有这个{whose_kind} {named!r}", "membercore: {whose_kind} {named!r} is not known"
)
_KINDS = {"member": Words("会员", "member"), "household": Words("家庭", "household")}


_WAS_ERASED = Words(
    "membercore: 会员 {member} 的个人信息已于 {day} 删除（{reason}），不再保存",
    "membercore: member {member}'s personal data was erased on {day} ({reason}); none "
    "of it is held",
)


_IDENTIFIER_OF = Words(
    "membercore: 没有会员编号为 {named!r} 的会员；它是会员 {owners} 的标识，请用该会员编号",
    "membercore: no member's id is {named!r}; it is an identifier of member {owners}: "
    "name the member by that id",
)


def _unknown_member(engine: Engine, member_id: str) -> int:
    """Say that the store holds no record of the member: erased, never known, or whose id it is."""
    error = unknown(engine.store, member_id)  # erased, another's identifier, or unknown
    if isinstance(error, MemberErasedError):
        warn(_WAS_ERASED, member=member_id, day=error.erased_on, reason=error.reason)
    elif error.identifier_of:
        warn(_IDENTIFIER_OF, named=member_id, owners=", ".join(error.identifier_of))
    else:
        warn(_UNKNOWN, whose_kind=say(_KINDS["member"]), named=member_id)
    return Exit.REFUSED


def _journal(kind: str, whose: Words) -> click.Command:
    @click.command(
        "journal",
        help=say(
            Words(
                f"{whose.zh}事件，按顺序，每行一个 JSON（version、type、at、event）",
                f"{whose.en} events in order, a JSON line each (version, type, at, event)",
            )
        ),
    )
    @click.argument("named", metavar=f"{kind.upper()}_ID")
    @click.option(
        "--after-version",
        type=int,
        default=0,
        show_default=True,
        help=say(
            Words("只列出此版本之后提交的事件", "only the events of the commits after this version")
        ),
    )
    @_purpose_option
    @store_options
    def journal(
        named: str, after_version: int, purpose: str, store: str, config: Path | None
    ) -> int:
        key = household_key(named) if kind == "household" else member_key(named)
        with engine_on(store, config, use="read") as engine:
            if not engine.store.load([key]):
                if kind == "member":
                    return _unknown_member(engine, named)
                warn(_UNKNOWN, whose_kind=say(_KINDS[kind]), named=named)
                return Exit.REFUSED
            events = engine.store.events(key, after_version=after_version)
        if kind == "member":
            _looked_up(store, config, named, purpose)
        for event in events:
            echo(json.dumps(journal_entry(event), ensure_ascii=False))
        return Exit.DONE

    return journal


def _member_view(engine: Engine, member_id: str, now: datetime) -> dict[str, Any]:
    member = engine.member(member_id)
    config = engine.config
    points = balances(member.ledger, config, now)
    return {
        "member": member_id,
        "at": now.isoformat(),
        # The engine's own reading of the tier at an instant (a review fallen due counts).
        "tier": tier_at(member, config, now),
        "tier_history": [
            f"{change.at.date()} {change.from_tier} → {change.to_tier} ({change.reason})"
            for change in engine.tier_history(member_id)
        ],
        "points": {"available": points.available, "pending": points.pending},
        "plans": list(active_plans(member.plans, now)),
        "household": member.household_id,
        "journeys": [
            f"{instance.journey}: {instance.state}"
            for instance in member.journeys.instances.values()
            if instance.ended is None
        ],
        "tags": sorted(engine.tags(member_id)),
        "segment": engine.segment(member_id),
        "health_manager": member.work.health_manager,
    }
