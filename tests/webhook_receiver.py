"""A webhook receiver written from the Standard Webhooks spec: a real HTTP server on
loopback that records what it is sent. Verification uses the `standardwebhooks` package,
never the project's own code."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)

    def verified(self, secret: str) -> dict[str, Any]:
        """The payload, if the signature verifies under `secret` (raises otherwise)."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Receiver:
    """Answers `status` (or what `respond` says) to every POST and records it."""

    status: int = 200
    respond: Callable[[Received], int | tuple[int, dict[str, str]]] | None = None
    received: list[Received] = field(default_factory=list)
    answered: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hooks"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                item = Received(dict(self.headers.items()), self.rfile.read(length))
                with receiver._lock:
                    receiver.received.append(item)
                answer = receiver.respond(item) if receiver.respond else receiver.status
                status, headers = answer if isinstance(answer, tuple) else (answer, {})
                if 200 <= status < 300:
                    # Before answering: the sender's next request may arrive right after.
                    with receiver._lock:
                        receiver.answered.append(item)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def numbers(self, *, answered: bool = True) -> list[int]:
        with self._lock:
            items = list(self.answered if answered else self.received)
        return [item.payload["number"] for item in items]

    def wait_for(self, condition: Callable[[Receiver], bool], timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition(self):
                return True
            time.sleep(0.02)
        return condition(self)
