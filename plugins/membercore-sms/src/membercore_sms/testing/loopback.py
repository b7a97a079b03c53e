"""What both stand-in providers share: a threaded HTTP server on 127.0.0.1, port 0."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: The stand-in's business clock: when it dates what it takes and what it reports.
Clock = Callable[[], datetime]


def real_now() -> datetime:
    """The instant now (the stand-in's clock unless a test sets its own)."""
    return datetime.now(UTC)


# An RFC 3986 encoder written out byte by byte, as the providers' documents describe it:
# the unreserved characters stay, every other byte of the UTF-8 text is %XX (upper case).
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def rfc3986(text: str) -> str:
    """``text`` percent-encoded as RFC 3986 says (UTF-8, upper-case %XX)."""
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in text.encode("utf-8"))


def unpercent(text: str) -> str:
    """Decode %XX escapes (a ``+`` stays a plus: the query is not a form)."""
    raw = text.encode("utf-8")
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == ord("%") and i + 3 <= len(raw):
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode("utf-8")


class LoopbackServer:
    """Serves ``handle(method, path, query, headers, body) -> (status, json_text)``."""

    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                headers = {name.lower(): value for name, value in self.headers.items()}
                status, text = owner.handle(self.command, path, query, headers, body)
                data = text.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.lock = threading.Lock()
        self.clock: Clock = real_now

    @property
    def url(self) -> str:
        """Where it listens (``http://127.0.0.1:PORT``)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Start serving, on a thread of its own."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def handle(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str]:
        """Answer one request: its HTTP status and body."""
        raise NotImplementedError
