"""``POST /facts`` and ``POST /commands``: what the hospital's systems send.

Facts go to :meth:`Engine.ingest <membercore.service.engine.Engine.ingest>` as the
tagged dicts :func:`~membercore.serialization.message_to_dict` writes, one or a batch
in one commit per engine batch; the answer says of each whether it was applied, a
duplicate (its fact id taken before: nothing changed) or refused, and why. Commands go
to :meth:`Engine.execute <membercore.service.engine.Engine.execute>`; a command's key
(or the ``Idempotency-Key`` header) makes sending it again safe.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import attrs
from litestar import Request, Response, post
from litestar.datastructures import ResponseHeader
from litestar.params import HeaderParameter, JSONBody

from membercore.errors import InvalidFactError, MembercoreError
from membercore.facts import Fact
from membercore.identity import CommandTaken
from membercore.ports import Unreadable
from membercore.serialization import message_from_dict, message_from_stored, message_to_dict
from membercore.service.engine import Engine
from membercore.service.recording import member_key
from membercore.service.use_cases import HANDLERS
from membercore_adapters.http.admission import Visit, acting, admitted, record, visit_of
from membercore_adapters.http.problems import FieldProblem, ProblemError, pointer, problem_responses
from membercore_adapters.http.settings import limits_of, runner
from membercore_adapters.http.shapes import CommandResult, FactOutcome, FactsReport

__all__ = ["post_command", "post_facts"]

#: The command classes by their ``type`` tag.
_COMMANDS: Mapping[str, type[Any]] = {str(kind.TYPE): kind for kind in HANDLERS}

#: The body of ``POST /facts``: one fact, or a batch of them.
FactsBody = dict[str, Any] | list[Any]
#: Why an item of a batch that is no JSON object is refused (kept as a dead letter).
_NOT_AN_OBJECT = "不是 JSON 对象 / not a JSON object: a fact is an object with its type"


@post(
    "/facts",
    status_code=200,
    opt={"scope": "ingest"},
    summary="发送事实 / Send facts",
    description=(
        "One fact (a JSON object with its `type`, `fact_id`, `patient_id`, `occurred_at`...) "
        "or a batch (a JSON list of them), as `message_to_dict` writes them. Each is "
        "applied, a duplicate (its `fact_id` was taken before: nothing changes) or refused "
        "with the reason (kept as a dead letter) and the field at fault as a JSON pointer "
        "into the body. A single fact refused is answered 422."
    ),
    responses=problem_responses(
        403,
        kinds={
            413: [("batch-too-large", "a batch holds at most 1000 facts, got 1200")],
            422: [("fact-refused", "charge_paid.lines: required field missing")],
        },
    ),
)
async def post_facts(request: Request[Any, Any, Any], data: JSONBody[FactsBody]) -> FactsReport:
    """Ingest one fact or a batch; what became of each."""
    single = isinstance(data, dict)
    items: list[Any] = [data] if isinstance(data, dict) else data
    most = limits_of(request).max_batch
    if len(items) > most:
        raise ProblemError(
            413,
            "batch-too-large",
            f"一批最多 {most} 条事实，收到 {len(items)} 条 / a batch holds at most {most} facts, "
            f"got {len(items)}: send it in smaller batches",
        )
    screened = [_screen(item, "" if single else f"/{place}") for place, item in enumerate(items)]
    sent = [(place, items[place]) for place, why in enumerate(screened) if why is None]
    inputs = [_input(item) for _, item in sent]
    report = await runner(request).call(lambda engine: engine.ingest(inputs))
    refusals = dict(report.refusals)
    duplicated = set(report.duplicated)
    outcomes: list[FactOutcome] = []
    for place, item in enumerate(items):
        outcomes.append(_outcome(place, item, screened[place]))
    for at, (place, item) in enumerate(sent):
        if at in refusals:
            why = refusals[at]
            where = _pointer_for(item, why, "" if single else f"/{place}")
            outcomes[place] = _outcome(place, item, (why, where))
        elif at in duplicated:
            outcomes[place] = _outcome(place, item, None, status="duplicate")
    answer = FactsReport(
        applied=sum(o.status == "applied" for o in outcomes),
        duplicates=sum(o.status == "duplicate" for o in outcomes),
        refused=sum(o.status == "refused" for o in outcomes),
        items=tuple(outcomes),
    )
    if single and answer.refused:
        (refused,) = answer.items
        named = refused.pointer
        why = refused.reason or ""
        errors = [FieldProblem(pointer=named, detail=why)] if named is not None else []
        raise ProblemError(422, "fact-refused", why or "refused", errors=errors)
    return answer


def _input(item: object) -> Mapping[str, Any] | Unreadable:
    """What the engine is given of an item: a JSON object as it is; else a dead letter."""
    if isinstance(item, Mapping):
        return item
    return Unreadable(raw=json.dumps(item, ensure_ascii=False), reason=_NOT_AN_OBJECT)


def _screen(item: object, prefix: str) -> tuple[str, str | None] | None:
    """Why an item is not sent to the engine (a command: not a fact), or ``None``.

    A malformed fact is sent all the same: the engine keeps it as a dead letter.
    """
    if not isinstance(item, Mapping):
        return None  # the engine keeps it as a dead letter, with why
    try:
        message = message_from_dict(item)
    except (MembercoreError, ValueError, TypeError, AttributeError, LookupError, RecursionError):
        return None  # the engine refuses it, keeping it with its reason
    if isinstance(message, Fact):
        return None
    why = (
        f"{item.get('type')!r} 不是事实，命令请发往 POST /commands / is not a fact: send "
        "commands to POST /commands"
    )
    return why, f"{prefix}/type"


def _pointer_for(item: object, why: str, prefix: str) -> str | None:
    """The field a refusal names, when reading the item names it and the reason says so."""
    if not isinstance(item, Mapping):
        return prefix  # the item itself is at fault
    try:
        message_from_dict(item)
    except InvalidFactError as error:
        if why.startswith(f"{error.message_type}.{error.field} ") and error.field != "message":
            return pointer(error.field, prefix)
        return None
    except (MembercoreError, ValueError, TypeError, AttributeError, LookupError, RecursionError):
        return None
    if why.startswith("occurred_at "):  # dated past the clock skew
        return f"{prefix}/occurred_at"
    return None


def _outcome(
    place: int,
    item: object,
    refused: tuple[str, str | None] | None,
    *,
    status: str = "applied",
) -> FactOutcome:
    held: Mapping[str, Any] = item if isinstance(item, Mapping) else {}
    fact_id, tag = held.get("fact_id"), held.get("type")
    named = FactOutcome(
        index=place,
        fact_id=fact_id if isinstance(fact_id, str) else None,
        type=tag if isinstance(tag, str) else None,
        status="duplicate" if status == "duplicate" else "applied",
    )
    if refused is not None:
        why, where = refused
        return attrs.evolve(named, status="refused", reason=why, pointer=where)
    return named


@post(
    "/commands",
    status_code=200,
    opt={"scope": "commands"},
    summary="执行命令 / Carry out a command",
    description=(
        "Any command of the engine (`redeem`, `adjust_points`, `grant_consent`, "
        "`subscribe`, `assign_task`...) as `message_to_dict` writes it. Its `key` — or the "
        "`Idempotency-Key` header, which stands for it — makes it safe to send again: the "
        "same key and body answer the same, with `Idempotent-Replayed: true`; the key on "
        "another body is refused (409). A command the programme refuses is answered 422 "
        "with the reason; an unknown member 404."
    ),
    responses=problem_responses(
        413,
        kinds={
            403: [("purpose-needed", "member P-000123 is not in hm-01's care: say why")],
            404: [("unknown-member", "unknown member P-000123")],
            409: [("idempotency-conflict", "the key adj-1 was spent on another command")],
            422: [
                ("invalid-command", "redeem.points: not an integer"),
                ("insufficient-points", "P-000123 holds 120 points, 500 asked"),
                ("acting-for-another", "staff act as themselves: operator is 'hm-01'"),
            ],
        },
    ),
    response_headers=[
        ResponseHeader(
            name="Idempotent-Replayed",
            value="true",
            documentation_only=True,
            description="`true` when the command had been carried out before with this key "
            "and body: the answer is the events it made then, and nothing was done now. "
            "Absent otherwise.",
        )
    ],
)
async def post_command(
    request: Request[Any, Any, Any],
    data: JSONBody[dict[str, Any]],
    idempotency_key: Annotated[
        str | None,
        HeaderParameter(
            name="Idempotency-Key",
            required=False,
            min_length=1,
            max_length=200,
            description="the command's key, when the body has none (or the same)",
        ),
    ] = None,
) -> Response[CommandResult]:
    """Carry out one command; the events it made."""
    body = dict(data)
    if idempotency_key is not None:
        held = body.get("key")
        if held is not None and held != idempotency_key:
            raise ProblemError(
                422,
                "idempotency-key-mismatch",
                f"Idempotency-Key {idempotency_key!r} 与命令的 key {held!r} 不同 / differs from "
                f"the command's key {held!r}",
                errors=[FieldProblem(pointer="/key", detail="differs from Idempotency-Key")],
            )
        body["key"] = idempotency_key
    visit = visit_of(request)
    body = acting(visit.principal, body, _COMMANDS.get(str(body.get("type")), object))
    try:
        command = message_from_dict(body)
    except InvalidFactError as error:  # a command that cannot be read: named as one
        problem = FieldProblem(pointer=pointer(error.field), detail=error.problem)
        raise ProblemError(422, "invalid-command", str(error), errors=[problem]) from error
    if type(command) not in HANDLERS:
        why = "不是命令，事实请发往 POST /facts / is not a command: send facts to POST /facts"
        raise ProblemError(
            422,
            "not-a-command",
            f"{body.get('type')!r} {why}",
            errors=[FieldProblem(pointer="/type", detail=why)],
        )
    events, replayed = await runner(request).call(lambda engine: _carry_out(engine, command, visit))
    key = getattr(command, "key", None)
    result = CommandResult(
        type=str(command.TYPE),
        key=key if isinstance(key, str) and key else None,
        events=tuple(message_to_dict(event) for event in events),
    )
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return Response(result, headers=headers)


def _carry_out(engine: Engine, command: Any, visit: Visit) -> tuple[Sequence[object], bool]:
    """The events a command made, and whether it had been carried out before.

    A member of staff acts on a member's record as they would read it: in their care,
    or with a purpose, and recorded (:func:`~membercore_adapters.http.admission.admit`).
    Carried out before (the same key and body), the engine makes nothing new; the
    events the first time made on the member's record are read from its journal.
    """
    member_id = getattr(command, "member_id", None)
    staff = visit.principal.kind == "staff" and isinstance(member_id, str)
    lookup = admitted(engine, visit, member_id) if staff else None  # type: ignore[arg-type]
    events = engine.execute(command)
    record(engine, lookup)  # carried out (a refusal raised): the look-up is recorded
    key = getattr(command, "key", None)
    if events or not key or not isinstance(member_id, str):
        return events, False
    return _first_time(engine, member_id, key), True


def _first_time(engine: Engine, member_id: str, key: str) -> tuple[object, ...]:
    """The events the commit that spent ``key`` recorded on the member's record."""
    journal = engine.store.events(member_key(member_id))
    for place, stored in enumerate(journal):
        if stored.type != CommandTaken.TYPE:
            continue
        taken = message_from_stored(stored.payload)
        if taken.key != key:
            continue
        start = place
        while start > 0 and journal[start - 1].version == stored.version:
            if journal[start - 1].type == CommandTaken.TYPE:
                break  # another command of the same commit (a batch): not this one's
            start -= 1
        return tuple(message_from_stored(e.payload) for e in journal[start : place + 1])
    return ()
