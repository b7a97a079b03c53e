"""Whose records a caller may see and act on, and the look-up each visit leaves.

Health data is seen for a purpose. A member of staff sees, without saying why, the
members in their care: those whose health manager they are, and those they hold an open
task for. Any other member they look up by id, saying why in the ``X-Purpose`` header
(``来电咨询``, ``service desk enquiry``); without a purpose such a look-up is refused
(403 ``purpose-needed``). An administrator and a hospital system read any member.

Every read of a member's record through the API, and every command a member of staff
carries out on one, is recorded as a :class:`~membercore.ports.Lookup` in the store (who,
when, which member, the purpose, ``via``): the audit trail of who saw whom. A purpose
the caller gives is recorded as given; otherwise the record says what let them in.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import unquote

import attrs
from litestar import Request

from membercore.access import who
from membercore.ports import AccountStore, Lookup
from membercore.service.engine import Engine
from membercore.service.member import Member
from membercore_adapters.http.auth import Principal
from membercore_adapters.http.problems import FieldProblem, ProblemError
from membercore_adapters.http.settings import principal_of

__all__ = [
    "ACTOR_FIELDS",
    "PURPOSE_HEADER",
    "Visit",
    "acting",
    "admit",
    "admitted",
    "in_care",
    "record",
    "visit_of",
]

#: The header that says why a member's record is looked up.
PURPOSE_HEADER: Final = "X-Purpose"
#: The longest purpose, in characters: a reason, never the record's content.
MOST_PURPOSE: Final = 200

#: What a look-up records when the caller gave no purpose, by what let them in.
IN_CARE: Final = "负责的会员 / in their care"
SYSTEM: Final = "系统接口 / hospital system"
ADMINISTRATION: Final = "管理 / administration"


@attrs.frozen(kw_only=True)
class Visit:
    """Someone about to see or act on a member's record.

    Attributes:
        principal: who.
        purpose: why, as they said it; ``None`` when they did not say.
        via: through what (``api``, ``console``).
    """

    principal: Principal
    purpose: str | None = None
    via: str = "api"


def visit_of(request: Request[Any, Any, Any], via: str = "api") -> Visit:
    """The visit ``request`` makes: its caller and the purpose its header gives.

    The header is UTF-8 (sent as raw bytes or percent-encoded: ``%E6%9D%A5%E7%94%B5``).

    Raises:
        ProblemError: the purpose is longer than :data:`MOST_PURPOSE` characters (400).
    """
    raw = request.headers.get(PURPOSE_HEADER)
    return Visit(principal=principal_of(request), purpose=purpose_text(raw), via=via)


def purpose_text(raw: str | None) -> str | None:
    """A purpose as a header carries it, read as UTF-8; ``None`` when it says nothing.

    Raises:
        ProblemError: longer than :data:`MOST_PURPOSE` characters (400).
    """
    if raw is None:
        return None
    try:  # HTTP hands header bytes over as Latin-1: UTF-8 sent raw is read back
        text = raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        text = raw
    try:
        text = unquote(text, errors="strict").strip()
    except UnicodeDecodeError:
        raise _invalid("不是 UTF-8 / not UTF-8 (raw or percent-encoded)") from None
    if any(unicodedata.category(c).startswith("C") for c in text):
        raise _invalid("含控制字符 / holds control characters (a line break, a tab...)")
    if len(text) > MOST_PURPOSE:
        raise ProblemError(
            400,
            "invalid-purpose",
            f"用途最长 {MOST_PURPOSE} 字 / a purpose is at most {MOST_PURPOSE} characters",
            errors=[FieldProblem(pointer=f"/header/{PURPOSE_HEADER.lower()}", detail="too long")],
        )
    return text or None


def _invalid(why: str) -> ProblemError:
    return ProblemError(
        400,
        "invalid-purpose",
        f"用途无法读取 / the purpose cannot be read: {why}",
        errors=[FieldProblem(pointer=f"/header/{PURPOSE_HEADER.lower()}", detail=why)],
    )


def in_care(member: Member, staff_id: str) -> bool:
    """Whether ``staff_id`` is the member's health manager or holds an open task for them."""
    work = member.work
    if work.health_manager == staff_id:
        return True
    return any(t.assignee == staff_id and t.status == "open" for t in work.tasks.values())


def admit(engine: Engine, visit: Visit, member_id: str) -> None:
    """Let the visit see the member's record, and record the look-up; or refuse it.

    Called on the engine's thread, before the record is read.

    Raises:
        UnknownMemberError: the store holds no record of the member (404; nothing is
            recorded).
        ProblemError: a member of staff looks up a member not in their care without a
            purpose (403 ``purpose-needed``).
    """
    record(engine, admitted(engine, visit, member_id))


def record(engine: Engine, lookup: Lookup | None) -> None:
    """Record a look-up :func:`admitted` gave (``None``: the store keeps none)."""
    store = engine.store
    if lookup is not None and isinstance(store, AccountStore):
        store.record_lookup(lookup)


def admitted(engine: Engine, visit: Visit, member_id: str) -> Lookup | None:
    """The look-up the visit makes of the member's record, for recording once it is done.

    A command is recorded once it is carried out, not when it is refused: the caller
    checks first, acts, then :func:`record` s. Called on the engine's thread.

    Returns:
        The look-up; ``None`` when the store keeps no look-ups.

    Raises:
        UnknownMemberError: the store holds no record of the member (404).
        ProblemError: a member of staff looks up a member not in their care without a
            purpose (403 ``purpose-needed``).
    """
    member = engine.member(member_id)
    caller = visit.principal
    purpose = visit.purpose or _let_in(caller, member)
    if purpose is None:
        raise ProblemError(
            403,
            "purpose-needed",
            f"会员 {member_id} 不在 {caller.id} 负责的范围内：查阅需在 {PURPOSE_HEADER} 头中"
            f"说明用途 / member {member_id} is not in {caller.id}'s care: say why in the "
            f"{PURPOSE_HEADER} header to look them up",
            errors=[FieldProblem(pointer=f"/header/{PURPOSE_HEADER.lower()}", detail="needed")],
        )
    if not isinstance(engine.store, AccountStore):
        return None
    return Lookup(
        at=engine.now(),
        who=who(caller.kind, caller.id),
        member_id=member_id,
        purpose=purpose,
        via=visit.via,
    )


#: The fields of a command that name who carries it out.
ACTOR_FIELDS: Final = ("operator", "by")


def acting(caller: Principal, body: Mapping[str, Any], command: type[Any]) -> dict[str, Any]:
    """A command's body with the member of staff sending it named as who carries it out.

    A member of staff acts as themselves: the command's ``operator`` or ``by`` is their
    staff id, filled in when the body leaves it out. A system names whom it acts for.

    Raises:
        ProblemError: a member of staff names someone else (422, naming the field).
    """
    named = dict(body)
    if caller.kind != "staff" or not attrs.has(command):
        return named
    for field in ACTOR_FIELDS:
        if field not in attrs.fields_dict(command):
            continue
        given = named.get(field)
        if given is not None and given != caller.id:
            raise ProblemError(
                422,
                "acting-for-another",
                f"员工只能以本人名义操作：{field} 应为 {caller.id!r}，而非 {given!r} / staff act "
                f"as themselves: {field} is {caller.id!r}, not {given!r}",
                errors=[FieldProblem(pointer=f"/{field}", detail=f"must be {caller.id!r}")],
            )
        named[field] = caller.id
    return named


def _let_in(caller: Principal, member: Member) -> str | None:
    """What lets a caller who gave no purpose in, as the look-up records it; else ``None``."""
    if caller.kind == "system":
        return SYSTEM
    if caller.may("admin"):
        return ADMINISTRATION
    return IN_CARE if in_care(member, caller.id) else None
