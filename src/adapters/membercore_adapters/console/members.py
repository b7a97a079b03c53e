"""A member's page, found by id, seen by whom the API lets see it, every look recorded.

A member in the care of the member of staff signed in (their health manager, or the
holder of an open task for them) opens at once; any other asks first, in a small form,
why the record is looked at (``来电咨询``), as the API asks for ``X-Purpose``. Every
opening is a look-up the store records (:func:`~membercore_adapters.http.admission.admit`,
``via="console"``): who, when, which member, and the purpose given or what let them in.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from litestar import Request, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from membercore.service.engine import Engine
from membercore_adapters.console.pages import HOME, PATH, form_field, page, redirect
from membercore_adapters.console.record import MemberRecord, member_record
from membercore_adapters.console.staff import staff_of
from membercore_adapters.http.admission import MOST_PURPOSE, Visit, admit, purpose_text
from membercore_adapters.http.problems import ProblemError
from membercore_adapters.http.settings import runner

__all__ = ["MEMBERS", "member_page", "member_path"]

#: How the console's look-ups are recorded: through what.
VIA = "console"


def member_path(member_id: str) -> str:
    """The path of a member's page."""
    return f"{PATH}/members/{quote(member_id, safe='')}"


def _seen(engine: Engine, visit: Visit, member_id: str) -> MemberRecord:
    admit(engine, visit, member_id)
    return member_record(engine, member_id, visit.principal)


async def member_page(
    request: Request[Any, Any, Any],
    member_id: str,
    *,
    purpose: str | None = None,
    status: int = 200,
) -> Template:
    """The member's page, or the form asking why they are looked up.

    Raises:
        UnknownMemberError: the store holds no record of them (a 404 page).
    """
    staff = staff_of(request)
    visit = Visit(principal=staff.principal, purpose=purpose, via=VIA)
    try:
        shown = await runner(request).call(lambda engine: _seen(engine, visit, member_id))
    except ProblemError as refused:
        if refused.kind != "purpose-needed":
            raise
        return _ask_why(request, member_id)
    return page(request, "member.html", member=shown, status=status)


def _ask_why(request: Request[Any, Any, Any], member_id: str, error: str = "") -> Template:
    return page(
        request,
        "purpose.html",
        status=403,
        member_id=member_id,
        action=member_path(member_id),
        most=MOST_PURPOSE,
        error=error,
    )


@get("/members", name="console-find-member")
async def find_member(
    member: Annotated[str, QueryParameter(name="id")] = "",
) -> Redirect:
    """The member-id search box: on to the member's page (or back to the queue)."""
    member_id = member.strip()
    return redirect(member_path(member_id) if member_id else HOME)


@get("/members/{member_id:str}", name="console-member")
async def member(request: Request[Any, Any, Any], member_id: FromPath[str]) -> Template:
    """A member's page, for someone in the caller's care; else the form asking why."""
    return await member_page(request, member_id)


@post("/members/{member_id:str}", name="console-member-look-up", status_code=200)
async def look_up(request: Request[Any, Any, Any], member_id: FromPath[str]) -> Template:
    """A member's page looked up with the purpose the form gives (recorded with it)."""
    form = await request.form()
    try:
        purpose = purpose_text(form_field(form, "purpose"))
    except ProblemError as refused:
        return _ask_why(request, member_id, str(refused.detail))
    if purpose is None:
        return _ask_why(request, member_id, "请说明查阅用途")
    return await member_page(request, member_id, purpose=purpose)


#: The member handlers.
MEMBERS = (find_member, member, look_up)
