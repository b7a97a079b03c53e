"""Withdrawing a consent from the member's page: a button beside each purpose agreed to.

Withdrawing is as easy as granting (PIPL Art. 15): the member asks at the desk or on the
phone, and the member of staff presses 撤回同意 beside the purpose. It goes the API's way:
the engine's ``WithdrawConsent`` for every channel of the purpose, carried out at once
(messages queued for it are cancelled), naming the member of staff who pressed it as
its ``operator``, recorded as a look-up of the record with the
purpose ``撤回同意`` (which any member of staff may give: nobody needs a member in their
care to stop their messages). The page shows the record as the withdrawal left it.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from litestar import Request, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from membercore.errors import MembercoreError
from membercore.messages import PURPOSES, Purpose
from membercore.service.engine import Engine
from membercore_adapters.console.members import VIA, member_path
from membercore_adapters.console.pages import flash, form_field, page, redirect
from membercore_adapters.console.record import MemberRecord, member_record
from membercore_adapters.console.staff import staff_of
from membercore_adapters.http.admission import Visit, admitted, record
from membercore_adapters.http.auth import Principal
from membercore_adapters.http.problems import ProblemError
from membercore_adapters.http.settings import runner
from membercore_adapters.labels import PURPOSES as PURPOSE_NAMES
from membercore_adapters.labels import named

__all__ = ["CONSENT_FORMS", "WITHDRAWING"]

#: The purpose a withdrawal's look-up is recorded with.
WITHDRAWING: Final = "撤回同意"
#: Why a withdrawal the console takes was made, as its event says.
WITHDRAWN_AT_CONSOLE: Final = "会员要求撤回（员工工作台）"


def _withdraw(engine: Engine, member_id: str, purpose: Purpose, caller: Principal) -> MemberRecord:
    seen = admitted(engine, Visit(principal=caller, purpose=WITHDRAWING, via=VIA), member_id)
    key = f"console-withdraw/{uuid.uuid4().hex}"
    engine.withdraw_consent(
        member_id, purpose, key=key, reason=WITHDRAWN_AT_CONSOLE, operator=caller.id
    )
    record(engine, seen)
    return member_record(engine, member_id, caller)


@post("/members/{member_id:str}/consent/withdraw", name="console-withdraw-consent", status_code=200)
async def withdraw(
    request: Request[Any, Any, Any], member_id: FromPath[str]
) -> Template | Redirect:
    """Withdraw the member's consent to the purpose the button names, on every channel."""
    form = await request.form()
    given = form_field(form, "purpose")
    if given not in PURPOSES:
        return redirect(member_path(member_id), flash("未知的同意用途", ok=False))
    purpose: Purpose = given
    caller = staff_of(request).principal
    try:
        shown = await runner(request).call(
            lambda engine: _withdraw(engine, member_id, purpose, caller)
        )
    except (ProblemError, MembercoreError) as refused:
        why = str(refused.detail) if isinstance(refused, ProblemError) else str(refused)
        return redirect(member_path(member_id), flash(why, ok=False))
    label = named(PURPOSE_NAMES, purpose, "zh-CN")
    said = {
        "ok": True,
        "text": f"已撤回 {member_id} 对{label}的同意（所有渠道），相关待发消息已取消",
    }
    return page(request, "member.html", member=shown, flash=said)


#: The consent forms' handlers.
CONSENT_FORMS = (withdraw,)
