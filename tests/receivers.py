"""Real notification receivers on loopback: a webhook (HTTP) that keeps what is posted to it, and an
SMTP server (aiosmtpd) that keeps the e-mails it is given."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    """A TCP port free on 127.0.0.1 at the moment of asking."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Webhook:
    """An HTTP server on 127.0.0.1 that answers every POST with ``status`` and keeps its JSON body.

    ``posts``: the decoded bodies, in arrival order (Apprise's ``json://`` sends ``{"version", "title",
    "message", "type", ...}``). ``status``: the answer (500: a broken receiver). ``hang``: seconds to
    wait before answering (a receiver that never answers, for timeouts); a hanging request is kept
    in ``posts`` too, since it was delivered. Use as a context manager.
    """

    def __init__(self, status: int = 200, hang: float = 0.0):
        self.status = status
        self.hang = hang
        self.posts: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hook._lock:
                    hook.posts.append(json.loads(body or b"{}"))
                if hook.hang:
                    time.sleep(hook.hang)
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The Apprise URL of this receiver."""
        return f"json://127.0.0.1:{self.port}/hook"

    def messages(self) -> list[str]:
        """The ``message`` of every post, in arrival order."""
        with self._lock:
            return [p.get("message", "") for p in self.posts]

    def __enter__(self) -> Webhook:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """An SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it accepts, parsed.

    ``url(to)``: the Apprise ``mailto://`` URL that sends to it without TLS or login (``mailto://``
    is Apprise's plain-SMTP scheme; ``from=`` gives the sender, ``to=`` the recipient). Use as a
    context manager.
    """

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[Any] = []
        box = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                box.envelopes.append(envelope)
                box.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def url(self, to: str = "desk@example.org", **params: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in {"from": "newscrawler@example.org", "to": to, **params}.items())
        return f"mailto://127.0.0.1:{self.port}?{query}"

    def bodies(self) -> list[str]:
        """Each message's body (text, or HTML when it has no text part)."""
        return [m.get_body(preferencelist=("plain", "html")).get_content() for m in self.messages]

    def __enter__(self) -> Mailbox:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def wait_until(condition: Callable[[], bool], seconds: float = 30.0) -> bool:
    """Poll ``condition()`` every 50 ms until true or ``seconds`` pass; returns its last answer."""
    end = time.monotonic() + seconds
    while not condition() and time.monotonic() < end:
        time.sleep(0.05)
    return condition()
