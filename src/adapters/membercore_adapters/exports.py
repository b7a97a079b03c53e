"""A member's copy of their data, summarised for them to read (zh-CN first).

:func:`export_summary` writes, from the document :meth:`Engine.export_member` gives, what
the programme holds about the person in a few lines: their tier, points and plans now,
the personal details held (name, birth date, contact details), their identifiers, what
was received about them and refused, the messages sent and refused, their consents, the
staff tasks and who looked at their record. The JSON document beside it holds every
detail.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from membercore.messages import CHANNELS as EVERY_CHANNEL
from membercore_adapters.labels import CHANNELS, MESSAGE_STATUSES, PURPOSES, SEXES, named
from membercore_adapters.language import Language, Words

__all__ = ["export_summary"]

_LINES = (
    Words(
        "会员 {member} 的个人信息副本（导出于 {at}）", "Member {member}: their data (exported {at})"
    ),
    Words(
        "等级：{tier}；可用积分：{points}；在期付费计划：{plans}",
        "tier: {tier}; points available: {points}; plans in force: {plans}",
    ),
    Words("个人信息：{personal}", "personal details: {personal}"),
    Words("标识：{identifiers}", "identifiers: {identifiers}"),
    Words("记录事件：{journal} 条", "events in the record: {journal}"),
    Words(
        "收到的事实和指令：{received} 条（被拒 {refused} 条）",
        "facts and commands received: {received} ({refused} refused)",
    ),
    Words(
        "消息：{messages} 条（{statuses}）；被拒发送 {held} 条",
        "messages: {messages} ({statuses}); refused {held}",
    ),
    Words("同意记录：{consents}", "consent history: {consents}"),
    Words("员工任务：{tasks} 条", "staff tasks: {tasks}"),
    Words("查阅记录：{lookups} 次", "look-ups of the record: {lookups}"),
)
_NONE = Words("无", "none")
_GRANTED = Words("同意", "granted")
_WITHDRAWN = Words("撤回", "withdrawn")
_GUARDIAN = Words("监护人代为", "by a guardian")
_SEPARATOR = Words("，", ", ")


def export_summary(
    document: Mapping[str, Any],
    view: Mapping[str, Any],
    language: Language,
    zone: tzinfo = UTC,
) -> str:
    """The summary of an export, with the member's standing now (``member show``'s view).

    Instants are written in ``zone`` (the programme's), to the minute.
    """
    none = _NONE.say(language)
    statuses = Counter(message["status"] for message in document["messages"])
    exported = datetime.fromisoformat(document["exported_at"]).astimezone(zone)
    fields = {
        "member": document["member_id"],
        "at": exported.strftime("%Y-%m-%d %H:%M"),
        "personal": _personal(document["record"], language) or none,
        "tier": view.get("tier", none),
        "points": view.get("points", {}).get("available", 0),
        "plans": ", ".join(view.get("plans", [])) or none,
        "identifiers": ", ".join(f"{i['system']}|{i['value']}" for i in document["identifiers"])
        or none,
        "journal": len(document["journal"]),
        "received": len(document["received"]),
        "refused": len(document["refused_inputs"]),
        "messages": len(document["messages"]),
        "statuses": ", ".join(
            f"{named(MESSAGE_STATUSES, status, language)} {n}"
            for status, n in sorted(statuses.items())
        )
        or none,
        "held": len(document["messages_refused"]),
        "consents": "; ".join(_consent(entry, language) for entry in document["consent"]) or none,
        "tasks": len(document["tasks"]),
        "lookups": len(document["lookups"]),
    }
    return "\n".join(line.say(language, **fields) for line in _LINES) + "\n"


_DETAILS = {
    "name": Words("姓名", "name"),
    "sex": Words("性别", "sex"),
    "birth_date": Words("出生日期", "birth date"),
    "phone": Words("手机", "phone"),
    "email": Words("电子邮件", "e-mail"),
    "wecom": Words("企业微信", "WeCom"),
    "language": Words("语言", "language"),
}


def _personal(record: Mapping[str, Any], language: Language) -> str:
    """The personal details the registrations gave, the latest of each, as held now."""
    held: dict[str, str] = {}
    registrations = record.get("profile", {}).get("registrations", {}).values()
    for registration in sorted(registrations, key=lambda noted: str(noted.get("at", ""))):
        held.update(
            {name: str(value) for name, value in registration.items() if name in _DETAILS and value}
        )
    if "sex" in held:
        held["sex"] = named(SEXES, held["sex"], language)
    return _DETAILS_SEPARATOR.say(language).join(
        f"{_DETAILS[name].say(language)} {held[name]}" for name in _DETAILS if name in held
    )


_DETAILS_SEPARATOR = Words("；", "; ")


_EVERY = Words("所有渠道", "every channel")
_LIST = Words("、", ", ")  # between the items of a list
_TEXT = Words("同意书版本 {version}", "consent text {version}")
_TAKEN_BY = Words("经办员工 {staff}", "taken by {staff}")


def _consent(entry: Mapping[str, Any], language: Language) -> str:
    event = entry["event"]
    done = (_GRANTED if entry["type"] == "consent_granted" else _WITHDRAWN).say(language)
    purpose = named(PURPOSES, str(event.get("purpose", "")), language)
    listed = event.get("channels") or [event.get("channel", "")]
    channel = _LIST.say(language).join(named(CHANNELS, str(one), language) for one in listed)
    if set(listed) == set(EVERY_CHANNEL):
        channel = _EVERY.say(language)
    parts = [str(event[k]) for k in ("given_by", "source") if event.get(k)]
    if event.get("by_guardian"):
        parts.append(_GUARDIAN.say(language))
    if event.get("text_version"):
        parts.append(_TEXT.say(language, version=event["text_version"]))
    if event.get("operator"):
        parts.append(_TAKEN_BY.say(language, staff=event["operator"]))
    if event.get("reason"):
        parts.append(str(event["reason"]))
    how = _SEPARATOR.say(language).join(parts)
    return f"{entry['at'][:10]} {done} {purpose}/{channel}" + (f" ({how})" if how else "")
