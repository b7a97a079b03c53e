"""A WeCom server on loopback that checks requests as WeCom's API pages describe them.

What it checks, written from WeCom's documentation (not from the plugin's code):

- ``GET /cgi-bin/gettoken?corpid=ID&corpsecret=SECRET``: the corp id and a secret it
  knows; it answers ``access_token`` and ``expires_in``, the same token while it is valid
  and a new one once it expired or was revoked.
- every other call carries ``?access_token=`` the current token of a secret allowed to
  call that API (the customer contact secret for ``externalcontact/*``, the app's for
  ``message/send``): a missing one is 41001, an unknown one 40014, an expired one 42001,
  one of the wrong secret 48002.
- ``POST /cgi-bin/externalcontact/add_msg_template``: a JSON body with ``chat_type``
  ``single``, ``external_userid`` a list of ids, ``sender`` a staff userid it knows
  (40003 otherwise), ``text.content`` non-empty and at most 4,000 bytes; customers who
  are not the sender's contacts are in ``fail_list``, and if none is left the answer is
  41048. It answers ``msgid`` and ``fail_list``.
- ``POST /cgi-bin/externalcontact/get_groupmsg_send_result``: ``msgid`` of a task (41047
  otherwise), ``userid`` its sender, ``limit`` at most 1,000, ``cursor`` from the last
  page; it answers ``send_list`` (``external_userid``, ``userid``, ``status``, and
  ``send_time`` once sent) and ``next_cursor``.
- ``POST /cgi-bin/message/send``: ``touser``, ``msgtype`` ``text`` (``text.content``) or
  ``textcard`` (``title``, ``description``, ``url``), ``agentid`` the app's (40056
  otherwise); staff it does not know are in ``invaliduser`` (all of them: 81013); with
  ``enable_duplicate_check`` the same JSON within ``duplicate_check_interval`` is
  delivered once.

Each check is one early answer, as the pages list them (hence the many returns of the
methods below). A request that breaks a rule is answered 40058 (不合法的参数) and its
problem kept in :attr:`WeComServer.problems`: the tests' fixture fails a test that leaves
any.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs

CORP_ID = "ww5f3c1d2e8a9b0c47"
CONTACT_SECRET = "contact-Zq8LkVb2XnW4rT7yPm1sD9fG3hJ6aK0c"
APP_SECRET = "app-Hn3Rt6Yu9Io2Pa5Sd8Fg1Jk4Lz7Xc0Vb"
AGENT_ID = 1000002


@attrs.define
class Issued:
    """A token the server gave out."""

    value: str
    secret: str
    expired: bool = False


@attrs.define
class Task:
    """A mass-message task the server accepted."""

    msgid: str
    sender: str
    customers: list[str]
    content: str
    status: dict[str, int] = attrs.field(factory=dict)
    sent_at: dict[str, int] = attrs.field(factory=dict)


@attrs.define
class Seen:
    """A request, as it came."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


class WeComServer:
    """The server: its corp, secrets, staff and their customers, and what it was sent.

    Args:
        staff: staff userids and the external_userids of their customers.
        expires_in: the tokens' lifetime it announces.
    """

    def __init__(
        self,
        staff: dict[str, Iterable[str]] | None = None,
        *,
        corp_id: str = CORP_ID,
        contact_secret: str = CONTACT_SECRET,
        app_secret: str = APP_SECRET,
        agent_id: int = AGENT_ID,
        expires_in: int = 7200,
    ) -> None:
        self.corp_id = corp_id
        self.contact_secret = contact_secret
        self.app_secret = app_secret
        self.agent_id = agent_id
        self.expires_in = expires_in
        self.contacts: dict[str, set[str]] = {
            userid: set(customers) for userid, customers in (staff or {}).items()
        }
        self.tokens: dict[str, Issued] = {}
        #: The tokens it will give out, in order (known ahead, for the tests to look for).
        self.planned_tokens = [secrets.token_urlsafe(48) for _ in range(16)]
        self.gettoken_calls = 0
        self.tasks: list[Task] = []
        self.staff_messages: list[dict[str, Any]] = []
        self.delivered_staff_messages: list[dict[str, Any]] = []
        self.requests: list[Seen] = []
        self.problems: list[str] = []
        #: Page size of send results (at most the request's ``limit``).
        self.page_size = 1000
        #: Other customers listed before a task's own, to make its results run to pages.
        self.crowd = 0
        #: Every token is answered as expired (42001), however fresh.
        self.stale_tokens = False
        self._failures: list[tuple[int, str, list[str] | None]] = []
        self._duplicates: dict[str, float] = {}
        self._lock = threading.Lock()
        self.connections: set[socket.socket] = set()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """Where it listens (``http://127.0.0.1:PORT``): the channel's ``base_url``."""
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def __enter__(self) -> WeComServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()
        # Kept-alive connections end too: a client finds the server gone.
        for connection in list(self.connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    # What a test sets.

    def fail_next(self, errcode: int, errmsg: str = "") -> None:
        """The next mass-message request is answered with ``errcode``."""
        self._failures.append((errcode, errmsg or f"error {errcode}", None))

    def not_a_contact_next(self) -> None:
        """The next mass-message request lists its customers in ``fail_list`` (no task)."""
        self._failures.append((0, "ok", []))

    def expire_tokens(self) -> None:
        """Every token given out expires now (calls with one answer 42001)."""
        for issued in self.tokens.values():
            issued.expired = True

    def revoke_tokens(self) -> None:
        """Every token given out becomes unknown (calls with one answer 40014)."""
        self.tokens.clear()

    def set_status(self, msgid: str, customer: str, status: int, sent_at: int = 0) -> None:
        """What the task's results say of ``customer``."""
        task = self.task(msgid)
        task.status[customer] = status
        if sent_at:
            task.sent_at[customer] = sent_at

    def task(self, msgid: str) -> Task:
        """The mass-sending task of that ``msgid``."""
        return next(task for task in self.tasks if task.msgid == msgid)

    def calls(self, path: str) -> list[Seen]:
        """The requests it received on ``path``, in order."""
        return [seen for seen in self.requests if seen.path == path]

    # Answering.

    def answer(  # noqa: PLR0911 (one answer per check WeCom's pages describe)
        self, method: str, target: str, raw: bytes, content_type: str
    ) -> dict[str, Any]:
        """Answer one request as WeCom does: its JSON body."""
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        body: Any = None
        if method == "POST":
            if not content_type.startswith("application/json"):
                return self._problem(f"{parts.path}: Content-Type {content_type!r}, not JSON")
            try:
                body = json.loads(raw.decode("utf-8"))
            except ValueError:
                return self._problem(f"{parts.path}: the body is not UTF-8 JSON")
        with self._lock:
            self.requests.append(Seen(method, parts.path, query, body))
            if parts.path == "/cgi-bin/gettoken":
                if method != "GET":
                    return self._problem("gettoken is a GET", 43001)
                return self._gettoken(query)
            routes = {
                "/cgi-bin/externalcontact/add_msg_template": (self._add_msg_template, "contact"),
                "/cgi-bin/externalcontact/get_groupmsg_send_result": (
                    self._send_result,
                    "contact",
                ),
                "/cgi-bin/message/send": (self._message_send, "app"),
            }
            if parts.path not in routes:
                return self._problem(f"no API at {parts.path}", 404)
            if method != "POST":
                return self._problem(f"{parts.path} is a POST", 43002)
            if not isinstance(body, dict):
                return self._problem(f"{parts.path}: the body is not a JSON object")
            route, role = routes[parts.path]
            refused = self._authorized(query, role)
            if refused is not None:
                return refused
            return route(body)

    def _gettoken(self, query: dict[str, list[str]]) -> dict[str, Any]:
        self.gettoken_calls += 1
        unknown = set(query) - {"corpid", "corpsecret"}
        if unknown:
            return self._problem(f"gettoken: unknown parameters {sorted(unknown)}")
        corpid = query.get("corpid", [""])[0]
        secret = query.get("corpsecret", [""])[0]
        if not corpid:
            return _error(41002, "corpid missing")
        if corpid != self.corp_id:
            return _error(40013, "invalid corpid")
        if not secret:
            return _error(41004, "corpsecret missing")
        if secret not in {self.contact_secret, self.app_secret}:
            return _error(40001, "invalid secret")
        current = next(
            (t for t in self.tokens.values() if t.secret == secret and not t.expired), None
        )
        if current is None:
            value = self.planned_tokens.pop(0) if self.planned_tokens else secrets.token_urlsafe(48)
            current = Issued(value, secret)
            self.tokens[current.value] = current
        return {
            "errcode": 0,
            "errmsg": "ok",
            "access_token": current.value,
            "expires_in": self.expires_in,
        }

    def _authorized(self, query: dict[str, list[str]], role: str) -> dict[str, Any] | None:
        tokens = query.get("access_token", [])
        if len(tokens) != 1 or not tokens[0]:
            return _error(41001, "access_token missing")
        issued = self.tokens.get(tokens[0])
        if issued is None:
            return _error(40014, "invalid access_token")
        if issued.expired or self.stale_tokens:
            return _error(42001, "access_token expired")
        allowed = self.contact_secret if role == "contact" else self.app_secret
        if issued.secret != allowed:
            return _error(48002, "api forbidden")
        return None

    def _add_msg_template(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: PLR0911
        api = "add_msg_template"
        known = {
            "chat_type",
            "external_userid",
            "chat_id_list",
            "tag_filter",
            "sender",
            "allow_select",
            "text",
            "attachments",
        }
        if set(body) - known:
            return self._problem(f"{api}: unknown keys {sorted(set(body) - known)}")
        if body.get("chat_type", "single") != "single":
            return self._problem(f"{api}: chat_type {body.get('chat_type')!r}, not single")
        customers = body.get("external_userid")
        if (
            not isinstance(customers, list)
            or not customers
            or not all(isinstance(c, str) and c for c in customers)
        ):
            return self._problem(f"{api}: external_userid is not a list of ids")
        sender = body.get("sender")
        if not isinstance(sender, str) or not sender:
            return self._problem(f"{api}: no sender")
        text = body.get("text")
        content = text.get("content") if isinstance(text, dict) else None
        if not isinstance(content, str) or not content:
            return self._problem(f"{api}: no text.content")
        if len(content.encode("utf-8")) > 4000:
            return _error(45002, "content size out of limit")
        if self._failures:
            errcode, errmsg, fail_list = self._failures.pop(0)
            if fail_list is None:
                return _error(errcode, errmsg)
            # WeCom's other answer for customers it cannot send to: each in fail_list,
            # with a task for nobody.
            return {
                "errcode": 0,
                "errmsg": "ok",
                "fail_list": list(customers),
                "msgid": f"msg{secrets.token_hex(12)}",
            }
        if sender not in self.contacts:
            return _error(40003, "invalid userid")
        return self._task(sender, customers, content)

    def _task(self, sender: str, customers: list[str], content: str) -> dict[str, Any]:
        fail_list = sorted(c for c in customers if c not in self.contacts.get(sender, set()))
        kept = [c for c in customers if c not in fail_list]
        if not kept:
            return _error(41048, "no customer to send")
        task = Task(f"msg{secrets.token_hex(12)}", sender, kept, content)
        self.tasks.append(task)
        return {"errcode": 0, "errmsg": "ok", "fail_list": fail_list, "msgid": task.msgid}

    def _send_result(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: PLR0911
        api = "get_groupmsg_send_result"
        if set(body) - {"msgid", "userid", "limit", "cursor"}:
            return self._problem(f"{api}: unknown keys {sorted(body)}")
        msgid = body.get("msgid")
        userid = body.get("userid")
        if not isinstance(msgid, str) or not msgid:
            return _error(41046, "msgid missing")
        if not isinstance(userid, str) or not userid:
            return self._problem(f"{api}: no userid")
        limit = body.get("limit", 500)
        if not isinstance(limit, int) or limit <= 0:
            return self._problem(f"{api}: limit {limit!r}")
        if limit > 1000:
            limit = 500
        cursor = body.get("cursor", "")
        if not isinstance(cursor, str):
            return self._problem(f"{api}: cursor {cursor!r}")
        task = next((t for t in self.tasks if t.msgid == msgid), None)
        if task is None:
            return _error(41047, "invalid msgid")
        rows: list[dict[str, Any]] = []
        if userid == task.sender:
            rows = [
                {"external_userid": f"wmcrowd{n:04d}", "userid": userid, "status": 0}
                for n in range(self.crowd)
            ]
            for customer in task.customers:
                status = task.status.get(customer, 0)
                row: dict[str, Any] = {
                    "external_userid": customer,
                    "userid": userid,
                    "status": status,
                }
                if status == 1:
                    row["send_time"] = task.sent_at.get(customer, int(time.time()))
                rows.append(row)
        if cursor and not cursor.isdigit():
            return _error(50100, "invalid cursor")
        start = int(cursor) if cursor else 0
        size = min(limit, self.page_size)
        page = rows[start : start + size]
        following = start + size if start + size < len(rows) else None
        return {
            "errcode": 0,
            "errmsg": "ok",
            "next_cursor": "" if following is None else str(following),
            "send_list": page,
        }

    def _message_send(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: PLR0911, PLR0912
        api = "message/send"
        touser = body.get("touser")
        if not isinstance(touser, str) or not touser:
            return self._problem(f"{api}: no touser")
        agentid = body.get("agentid")
        if not isinstance(agentid, int) or isinstance(agentid, bool):
            return self._problem(f"{api}: agentid {agentid!r} is not a number")
        if agentid != self.agent_id:
            return _error(40056, "invalid agentid")
        msgtype = body.get("msgtype")
        if msgtype == "text":
            content = (body.get("text") or {}).get("content")
            if not isinstance(content, str) or not content:
                return _error(44004, "empty content")
            if len(content.encode("utf-8")) > 2048:
                return _error(45002, "content size out of limit")
        elif msgtype == "textcard":
            card = body.get("textcard") or {}
            if not all(isinstance(card.get(k), str) and card[k] for k in ("title", "url")):
                return self._problem(f"{api}: a textcard needs title and url")
            if not isinstance(card.get("description"), str) or not card["description"]:
                return _error(41033, "description missing")
        else:
            return _error(40008, "invalid message type")
        check = body.get("enable_duplicate_check", 0)
        interval = body.get("duplicate_check_interval", 1800)
        if check not in {0, 1} or not isinstance(interval, int) or not 0 < interval <= 14400:
            return self._problem(f"{api}: duplicate check {check!r} / {interval!r}")
        users = touser.split("|")
        invalid = [u.lower() for u in users if u not in self.contacts]
        if len(invalid) == len(users):
            return _error(81013, "user & party & tag all invalid")
        self.staff_messages.append(body)
        key = json.dumps(body, sort_keys=True)
        now = time.monotonic()
        if not (check and now - self._duplicates.get(key, -1e9) < interval):
            self.delivered_staff_messages.append(body)
            self._duplicates[key] = now
        return {
            "errcode": 0,
            "errmsg": "ok",
            "invaliduser": "|".join(invalid),
            "invalidparty": "",
            "invalidtag": "",
            "msgid": f"staff{secrets.token_hex(10)}",
        }

    def _problem(self, problem: str, errcode: int = 40058) -> dict[str, Any]:
        self.problems.append(problem)
        return _error(errcode, f"invalid parameter: {problem}")


def _error(errcode: int, errmsg: str) -> dict[str, Any]:
    hint = secrets.token_hex(8)
    return {
        "errcode": errcode,
        "errmsg": f"{errmsg}, hint: [{hint}], from ip: 127.0.0.1, more info at "
        f"https://open.work.weixin.qq.com/devtool/query?e={errcode}",
    }


def _handler(server: WeComServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def setup(self) -> None:
            super().setup()
            server.connections.add(self.connection)

        def finish(self) -> None:
            server.connections.discard(self.connection)
            super().finish()

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            answer = server.answer(method, self.path, raw, self.headers.get("Content-Type", ""))
            data = json.dumps(answer, ensure_ascii=False).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
