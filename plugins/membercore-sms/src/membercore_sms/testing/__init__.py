"""Stand-ins for Aliyun Dysms and Tencent Cloud SMS on loopback, for a hospital's own tests.

Each checks every request as its provider's documents describe it — the request's
signature recomputed from the request as received, independently of the channel's own
signing — answers as the provider does, keeps what it accepted, and can be told to fail
the next send, report a message's fate or give a member's reply. The plugin's tests and
the channel conformance suite run against them.
"""

from __future__ import annotations

from membercore_sms.testing.aliyun import AliyunServer
from membercore_sms.testing.tencent import TencentServer

__all__ = ["AliyunServer", "TencentServer"]
