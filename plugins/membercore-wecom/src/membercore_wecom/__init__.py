"""WeCom (企业微信) for membercore: patients reached through their health managers, staff told.

A hospital reaches the patients who added a staff member (usually their health manager)
as a WeCom contact (客户联系), and its own staff in WeCom:

- :class:`~membercore_wecom.channel.WeComChannel`, registered as the channel factory
  ``wecom``: each message becomes a mass-message task (企业群发) for one customer, which
  the staff member confirms in their client; what became of it is read back
  (``reports``) as delivery reports.
- :class:`~membercore_wecom.staff.WeComStaffNotifier` (:func:`staff_notifier`, or a
  channel's :meth:`~membercore_wecom.channel.WeComChannel.staff_notifier`): app messages
  (应用消息) to staff, to tell a health manager of a call task or an escalation; and
  :class:`~membercore_wecom.staff.WeComStaffChannel`, registered as ``wecom-staff``,
  which carries the programme's ``staff`` channel (the engine's notices of tasks) by them.

WeCom's JSON API is called with httpx (:mod:`~membercore_wecom.api`): tokens cached and
refreshed, secrets and tokens kept out of logs and errors. WeCom's error codes are acted
on by one table (:mod:`~membercore_wecom.errcodes`). See ``docs/channels.md``.
"""

from __future__ import annotations

from collections.abc import Callable

from membercore.hookspecs import ChannelFactory, hookimpl
from membercore_wecom.api import Secret, WeComApi, WeComUnreachableError
from membercore_wecom.channel import SEND_STATUS, WeComChannel
from membercore_wecom.errcodes import ERRCODES, Action, WeComError
from membercore_wecom.options import WeComOptions
from membercore_wecom.staff import WeComStaffChannel, WeComStaffNotifier, staff_notifier

__all__ = [
    "ERRCODES",
    "SEND_STATUS",
    "Action",
    "Secret",
    "WeComApi",
    "WeComChannel",
    "WeComError",
    "WeComOptions",
    "WeComStaffChannel",
    "WeComStaffNotifier",
    "WeComUnreachableError",
    "membercore_register_channels",
    "staff_notifier",
]


@hookimpl
def membercore_register_channels(register: Callable[[str, ChannelFactory], None]) -> None:
    """Provide the WeCom channels: ``wecom`` (patients) and ``wecom-staff`` (staff notices)."""
    register("wecom", WeComChannel.from_options)
    register("wecom-staff", WeComStaffChannel.from_options)
