"""WeCom's error codes and what the channel does with each: the one table.

Every WeCom API answers HTTP 200 with ``{"errcode": N, "errmsg": "..."}``; ``errcode`` 0 is
success. WeCom asks that errors be told apart by ``errcode`` alone (its ``errmsg`` wording
changes, and carries a ``hint`` and the caller's address). Each code the channel meets is
one of:

- :attr:`Action.REFRESH`: the access token is stale or missing: fetch a new one and make
  the same call once more;
- :attr:`Action.RETRY`: WeCom is busy or the caller went over a frequency limit: the
  message is tried again no sooner than the wait given (a
  :class:`~membercore.ports.TransientDeliveryError`);
- :attr:`Action.GIVE_UP`: the message can never go this way (the customer is not the
  staff member's contact, the staff member is unknown, the text is refused): it is given
  up at once and the member's next channel tried (a
  :class:`~membercore.ports.PermanentDeliveryError`);
- :attr:`Action.SETUP`: the hospital's WeCom setup is wrong (the secret, the corp id, the
  app's permissions or its trusted IPs): nothing the message could change, and nothing
  to fall back from either — a plain error, retried with back-off while someone mends the
  setup.

A code not in the table is a plain :class:`WeComError` too, retried with back-off; its
message names the code and WeCom's words, never a secret or a token.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from membercore.ports import PermanentDeliveryError, TransientDeliveryError

__all__ = [
    "ERRCODES",
    "FREQUENCY_WAIT",
    "Action",
    "Errcode",
    "WeComError",
    "action_of",
    "failure",
]

#: Seconds to wait after a frequency limit: WeCom lifts a block after the length of the
#: window that was exceeded, a minute for the per-minute limits, and says no more.
FREQUENCY_WAIT = 60.0


class Action(enum.Enum):
    """What the channel does with an error code."""

    REFRESH = "refresh the token and call once more"
    RETRY = "retry later"
    GIVE_UP = "give up, fall back"
    SETUP = "the setup is wrong: retry with back-off"


@attrs.frozen
class Errcode:
    """One row of the table: WeCom's meaning of a code, and what the channel does.

    Attributes:
        meaning: WeCom's description (zh-CN, as its global error code list words it).
        action: what the channel does.
        wait: for :attr:`Action.RETRY`, the seconds to wait at least (None: the back-off's).
    """

    meaning: str
    action: Action
    wait: float | None = None


#: The codes the channel acts on, from WeCom's global error code list (全局错误码) and the
#: pages of the APIs it calls.
ERRCODES: Mapping[int, Errcode] = {
    # The token.
    40014: Errcode("不合法的access_token", Action.REFRESH),
    41001: Errcode("缺少access_token参数", Action.REFRESH),
    42001: Errcode("access_token已过期", Action.REFRESH),
    # Busy, or over a frequency limit.
    -1: Errcode("系统繁忙", Action.RETRY),
    45009: Errcode("接口调用超过限制", Action.RETRY, FREQUENCY_WAIT),
    45033: Errcode("接口并发调用超过限制", Action.RETRY, 10.0),
    41063: Errcode("群发消息正在被派发中，请稍后再试", Action.RETRY, FREQUENCY_WAIT),
    # The customer, the staff member or the text: never through this channel.
    40003: Errcode("无效的UserID", Action.GIVE_UP),
    40031: Errcode("不合法的UserID列表", Action.GIVE_UP),
    40096: Errcode("不合法的外部联系人userid", Action.GIVE_UP),
    41035: Errcode("缺少外部联系人userid参数", Action.GIVE_UP),
    41048: Errcode("无可发送的客户", Action.GIVE_UP),
    41056: Errcode("外部联系人id类型不正确", Action.GIVE_UP),
    44004: Errcode("文本消息content参数为空", Action.GIVE_UP),
    45002: Errcode("消息内容大小超过限制", Action.GIVE_UP),
    46004: Errcode("指定的用户不存在", Action.GIVE_UP),
    50002: Errcode("成员不在权限范围", Action.GIVE_UP),
    60011: Errcode("指定的成员/部门/标签参数无权限", Action.GIVE_UP),
    60111: Errcode("UserID不存在", Action.GIVE_UP),
    81013: Errcode("UserID、部门ID、标签ID全部非法或无权限", Action.GIVE_UP),
    84061: Errcode("不存在外部联系人的关系", Action.GIVE_UP),
    84074: Errcode("没有外部联系人权限", Action.GIVE_UP),
    85002: Errcode("包含不合法的词语", Action.GIVE_UP),
    # The hospital's setup.
    40001: Errcode("不合法的secret参数", Action.SETUP),
    40013: Errcode("不合法的CorpID", Action.SETUP),
    40056: Errcode("不合法的agentid", Action.SETUP),
    40091: Errcode("secret不合法", Action.SETUP),
    41002: Errcode("缺少corpid参数", Action.SETUP),
    41004: Errcode("缺少secret参数", Action.SETUP),
    41011: Errcode("缺少agentid参数", Action.SETUP),
    48002: Errcode("API接口无权限调用", Action.SETUP),
    48006: Errcode("接口权限被收回", Action.SETUP),
    50003: Errcode("应用已禁用", Action.SETUP),
    60020: Errcode("访问ip不在白名单之中", Action.SETUP),
}


class WeComError(Exception):
    """WeCom answered a call with an error code (or not as its API says).

    Attributes:
        api: the API called (``externalcontact/add_msg_template``).
        errcode: WeCom's code (None: the answer was not WeCom's JSON).
        errmsg: WeCom's words, with every secret and token it could echo taken out.
    """

    def __init__(self, api: str, errcode: int | None, errmsg: str) -> None:
        self.api = api
        self.errcode = errcode
        self.errmsg = errmsg
        known = ERRCODES.get(errcode) if errcode is not None else None
        meaning = f" ({known.meaning})" if known else ""
        code = "no errcode" if errcode is None else f"errcode {errcode}{meaning}"
        super().__init__(f"WeCom {api}: {code}: {errmsg}")

    @property
    def action(self) -> Action | None:
        """What the table says to do (None: a code it does not know)."""
        return action_of(self.errcode)


def action_of(errcode: int | None) -> Action | None:
    """What the channel does with ``errcode`` (None: not in the table)."""
    if errcode is None:
        return None
    known = ERRCODES.get(errcode)
    return None if known is None else known.action


def failure(error: WeComError) -> Exception:
    """The delivery failure ``error`` means for a message.

    Returns:
        A :class:`~membercore.ports.PermanentDeliveryError` for a code to give up on, a
        :class:`~membercore.ports.TransientDeliveryError` (with the wait) for one to retry
        later, else ``error`` itself: retried with back-off.
    """
    known = ERRCODES.get(error.errcode) if error.errcode is not None else None
    if known is None:
        return error
    if known.action is Action.GIVE_UP:
        return PermanentDeliveryError(str(error))
    if known.action is Action.RETRY:
        return TransientDeliveryError(str(error), retry_after=known.wait)
    return error
