"""``GET /members/{member_id}`` and its named views: what the engine says of a member now.

Each view is one of the engine's calls (:class:`~membercore.service.calls.MemberCalls`)
at the clock's instant, answered with the engine's own types; nothing here decides. A
member the store holds no record of is answered 404. Each is a look-up: a member of staff
sees the members in their care, and others when they say why (``X-Purpose``); every one
is recorded (:mod:`~membercore_adapters.http.admission`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from litestar import Request, Router, get, post
from litestar.params import FromPath, HeaderParameter, JSONBody

from membercore import benefits, ledger, plans
from membercore.journeys import JourneyInstance
from membercore.ledger.events import LotState
from membercore.service.engine import Engine
from membercore_adapters.http.admission import PURPOSE_HEADER, admit, visit_of
from membercore_adapters.http.problems import problem_responses
from membercore_adapters.http.settings import runner
from membercore_adapters.http.shapes import (
    ConsentView,
    MemberView,
    MessageView,
    QuoteRequest,
    TagsView,
    TierView,
)

__all__ = ["VIEWS"]

_READ = {"scope": "read"}
_ANSWERS = problem_responses(
    kinds={
        400: [("invalid-purpose", "用途无法读取 / the purpose cannot be read: too long")],
        403: [
            ("forbidden", "需要 read 权限 / the scope 'read' is needed"),
            ("purpose-needed", "member P-000123 is not in hm-01's care: say why in X-Purpose"),
        ],
        404: [("unknown-member", "unknown member P-000123")],
    }
)

T = TypeVar("T")


async def _read(request: Request[Any, Any, Any], member_id: str, view: Callable[[Engine], T]) -> T:
    """The view of a member the caller may see, the look-up recorded (see ``admission``)."""
    visit = visit_of(request)

    def seen(engine: Engine) -> T:
        admit(engine, visit, member_id)
        return view(engine)

    return await runner(request).call(seen)


def _glance(engine: Engine, member_id: FromPath[str]) -> MemberView:
    member = engine.member(member_id)
    return MemberView(
        member_id=member.member_id,
        tier=engine.tier(member_id),
        segment=engine.segment(member_id),
        tags=tuple(sorted(engine.tags(member_id))),
        points=engine.points(member_id),
        household_id=member.household_id,
        health_manager=member.work.health_manager,
        merged_into=member.identity.merged_into,
        alive=member.identity.alive(engine.now()),
    )


@get(
    "/members/{member_id:str}",
    opt=_READ,
    summary="会员概况 / A member at a glance",
    responses=_ANSWERS,
)
async def member(request: Request[Any, Any, Any], member_id: FromPath[str]) -> MemberView:
    """Tier, segment, tags, points, household and health manager, now."""
    return await _read(request, member_id, lambda engine: _glance(engine, member_id))


@get(
    "/members/{member_id:str}/points",
    opt=_READ,
    summary="积分余额 / Points balances",
    responses=_ANSWERS,
)
async def points(request: Request[Any, Any, Any], member_id: FromPath[str]) -> ledger.Balances:
    """Available, pending, qualifying, lifetime... points now."""
    return await _read(request, member_id, lambda engine: engine.points(member_id))


@get(
    "/members/{member_id:str}/lots", opt=_READ, summary="积分批次 / Points lots", responses=_ANSWERS
)
async def lots(request: Request[Any, Any, Any], member_id: FromPath[str]) -> list[LotState]:
    """The lots with points left, in the order they would be spent."""
    return list(await _read(request, member_id, lambda engine: engine.lots(member_id)))


def _tier(engine: Engine, member_id: FromPath[str]) -> TierView:
    return TierView(tier=engine.tier(member_id), history=engine.tier_history(member_id))


@get(
    "/members/{member_id:str}/tier",
    opt=_READ,
    summary="等级及历史 / Tier and its history",
    responses=_ANSWERS,
)
async def tier(request: Request[Any, Any, Any], member_id: FromPath[str]) -> TierView:
    """The tier now, and every change of it with its reason."""
    return await _read(request, member_id, lambda engine: _tier(engine, member_id))


@get(
    "/members/{member_id:str}/entitlements",
    opt=_READ,
    summary="可用权益 / Entitlements",
    responses=_ANSWERS,
)
async def entitlements(
    request: Request[Any, Any, Any], member_id: FromPath[str]
) -> list[benefits.Entitlement]:
    """Every benefit the member may use now, and what grants it."""
    return list(await _read(request, member_id, lambda engine: engine.entitlements(member_id)))


@post(
    "/members/{member_id:str}/quote",
    opt=_READ,
    status_code=200,
    summary="账单报价 / Price a bill",
    description="A bill priced for the member now, discounts and free-use quotas applied. "
    "Nothing is reserved or used: quota commands do that.",
    responses=_ANSWERS,
)
async def quote(
    request: Request[Any, Any, Any], member_id: FromPath[str], data: JSONBody[QuoteRequest]
) -> benefits.Quote:
    """The bill's lines priced for the member now."""
    return await _read(
        request,
        member_id,
        lambda engine: engine.quote(member_id, data.items, appointment_id=data.appointment_id),
    )


@get(
    "/members/{member_id:str}/plans", opt=_READ, summary="付费计划 / Paid plans", responses=_ANSWERS
)
async def subscriptions(
    request: Request[Any, Any, Any], member_id: FromPath[str]
) -> list[plans.SubscriptionState]:
    """The member's subscriptions, in the order they were asked for."""
    return list(await _read(request, member_id, lambda engine: engine.subscriptions(member_id)))


@get(
    "/members/{member_id:str}/journeys",
    opt=_READ,
    summary="患者旅程 / Journeys",
    responses=_ANSWERS,
)
async def journeys(
    request: Request[Any, Any, Any], member_id: FromPath[str]
) -> list[JourneyInstance]:
    """The journeys the member is in now."""
    return list(await _read(request, member_id, lambda engine: engine.journeys(member_id)))


def _tags(engine: Engine, member_id: FromPath[str]) -> TagsView:
    return TagsView(tags=tuple(sorted(engine.tags(member_id))), segment=engine.segment(member_id))


@get(
    "/members/{member_id:str}/tags",
    opt=_READ,
    summary="标签与价值分层 / Tags and segment",
    responses=_ANSWERS,
)
async def tags(request: Request[Any, Any, Any], member_id: FromPath[str]) -> TagsView:
    """The member's tags and value segment now."""
    return await _read(request, member_id, lambda engine: _tags(engine, member_id))


def _consent(engine: Engine, member_id: FromPath[str]) -> ConsentView:
    held = engine.member(member_id).consent
    granted = {purpose: tuple(sorted(channels)) for purpose, channels in held.granted.items()}
    return ConsentView(member_id=held.member_id, granted=dict(sorted(granted.items())))


@get("/members/{member_id:str}/consent", opt=_READ, summary="同意 / Consents", responses=_ANSWERS)
async def consent(request: Request[Any, Any, Any], member_id: FromPath[str]) -> ConsentView:
    """The channels the member agreed to, by purpose."""
    return await _read(request, member_id, lambda engine: _consent(engine, member_id))


def _messages(engine: Engine, member_id: FromPath[str]) -> list[MessageView]:
    held = engine.member(member_id).outreach
    return [MessageView.of(message, held.handed_over) for message in held.sent]


@get("/members/{member_id:str}/messages", opt=_READ, summary="消息 / Messages", responses=_ANSWERS)
async def messages(request: Request[Any, Any, Any], member_id: FromPath[str]) -> list[MessageView]:
    """The messages and calls decided for the member: the last two weeks' and those to come."""
    return await _read(request, member_id, lambda engine: _messages(engine, member_id))


#: The ``X-Purpose`` header every member endpoint takes, as the OpenAPI document shows it.
PURPOSE = HeaderParameter(
    name=PURPOSE_HEADER,
    required=False,
    description="why the record is looked up (UTF-8, or percent-encoded): needed by staff "
    "for a member not in their care; recorded with the look-up",
)

#: The member endpoints, with the purpose header they share.
VIEWS = (
    Router(
        path="/",
        parameters={"purpose": PURPOSE},
        route_handlers=[
            member,
            points,
            lots,
            tier,
            entitlements,
            quote,
            subscriptions,
            journeys,
            tags,
            consent,
            messages,
        ],
    ),
)
