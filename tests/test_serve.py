"""`referral-api serve`: a real server in a subprocess, and its request adapter in-process.

No test here asserts a duration: waits are bounded generously and the assertions are on
what a client gets.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from referral_api import migrate
from referral_api.server import WSGIOnCompleteRequests, _environ

LIMIT = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(url: str, port: int, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own CLI
        [
            *[sys.executable, "-m", "referral_api.cli", "serve"],
            *["--port", str(port), "--workers", "1", "--threads", "2"],
        ],
        env={**os.environ, "DATABASE_URL": url, "REFERRAL_API_SECRET_KEY": "s" * 40, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _get(port: int, path: str, timeout: float = 30) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def server(fresh_databases) -> Iterator[tuple[int, str]]:
    """A migrated database and `referral-api serve` on it: 1 worker, 2 request threads,
    a 2 s header timeout."""
    url = fresh_databases.new()
    migrate.upgrade(url)
    port = _free_port()
    process = _serve(url, port, REFERRAL_API_HEADER_TIMEOUT_S="2")
    try:
        for _ in range(300):
            try:
                if _get(port, "/readyz", timeout=2)[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("referral-api serve did not become ready")
        yield port, url
    finally:
        process.terminate()
        process.communicate(timeout=60)


class Dribbler(threading.Thread):
    """Sends `head` at once, then one byte of `rest` every `interval` until stopped."""

    def __init__(self, port: int, head: bytes, rest: bytes, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(head)
        self.rest, self.interval = rest, interval
        self.stopped = threading.Event()

    def run(self) -> None:
        for byte in self.rest:
            if self.stopped.wait(self.interval):
                break
            try:
                self.sock.sendall(bytes([byte]))
            except OSError:
                break

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)
        self.sock.close()


def test_slow_clients_do_not_block_normal_requests(server) -> None:
    """More connections dribbling headers and bodies than the server has threads, and a
    normal request still gets its answer."""
    port, _ = server
    header = (b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ", b"a" * 1000)
    body = (
        b"POST /api/v1/referrals HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n{",
        b"a" * 999,
    )
    dribblers = [Dribbler(port, *header) for _ in range(8)]
    dribblers += [Dribbler(port, *body) for _ in range(8)]
    for dribbler in dribblers:
        dribbler.start()
    try:
        time.sleep(0.5)  # let them be read from
        assert _get(port, "/healthz")[0] == 200
        status, payload = _get(port, "/api/v1/services?per_page=1")
        assert status == 200
        assert "items" in json.loads(payload)
    finally:
        for dribbler in dribblers:
            dribbler.stop()


def test_a_client_that_never_finishes_its_headers_is_disconnected(server) -> None:
    """REFERRAL_API_HEADER_TIMEOUT_S (2 s here) cuts a connection whose headers never end."""
    port, _ = server
    dribbler = Dribbler(port, b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ", b"a" * 1000)
    dribbler.start()
    try:
        dribbler.sock.settimeout(30)
        received = b""
        try:
            while chunk := dribbler.sock.recv(4096):
                received += chunk
        except ConnectionResetError:
            pass
        # Closed by the server, with at most an error status, never a 200.
        assert not received.startswith(b"HTTP/1.1 200")
    finally:
        dribbler.stop()


def _raw_request(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return received


def test_a_chunked_body_over_the_limit_is_413(server) -> None:
    port, _ = server
    chunk = b"a" * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(LIMIT // len(chunk)))
    received = _raw_request(
        port,
        b"POST /api/v1/referrals HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        + chunks
        + b"1\r\na\r\n0\r\n\r\n",
    )
    head, _, payload = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert b"application/problem+json" in head.lower()
    assert json.loads(payload)["status"] == 413


def test_a_chunked_body_under_the_limit_reaches_the_application(server) -> None:
    """A small chunked body is read in full and handed on (here: refused for want of a
    token, which the application decides after reading the request)."""
    port, _ = server
    received = _raw_request(
        port,
        b"POST /api/v1/referrals HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    )
    assert received.startswith(b"HTTP/1.1 401")


def test_serve_refuses_a_port_another_serve_holds(server) -> None:
    """Before, a second server joined the first through SO_REUSEPORT and the kernel split
    the traffic between them, even between two databases."""
    port, url = server
    second = _serve(url, port)
    _, stderr = second.communicate(timeout=60)
    assert second.returncode != 0
    assert f"port {port}".encode() in stderr
    assert _get(port, "/healthz")[0] == 200  # the first one is untouched


def test_serve_refuses_a_port_in_use(fresh_databases) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        url = fresh_databases.new()
        migrate.upgrade(url)  # serve refuses a database that is not ready (tests/test_cli.py)
        process = _serve(url, port)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0
    assert f"127.0.0.1:{port} is already in use".encode() in stderr


# -- the adapter, in-process ---------------------------------------------------------------
def _call(adapter: WSGIOnCompleteRequests, scope: dict[str, Any], messages: list[dict]) -> dict:
    """Run the adapter on one request; return the response status, headers and body."""
    sent: list[dict] = []

    async def receive() -> dict:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)  # a client that stopped sending
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(adapter(scope, receive, send))
    return {
        "status": sent[0]["status"],
        "headers": {k.decode(): v.decode() for k, v in sent[0]["headers"]},
        "body": b"".join(m.get("body", b"") for m in sent[1:]),
    }


def _scope(method: str = "POST", headers: list[tuple[bytes, bytes]] | None = None) -> dict:
    return {
        "type": "http",
        "method": method,
        "path": "/x",
        "query_string": b"",
        "headers": headers or [],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 5000),
    }


def _echo(environ: dict, start_response: Any) -> list[bytes]:
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/json")])
    seen = {k: v for k, v in environ.items() if k.isupper()}
    return [json.dumps({"body": body.decode(), "environ": seen}).encode()]


def _adapter(app: Any = _echo, **overrides: float) -> WSGIOnCompleteRequests:
    settings = {"body_timeout_s": 5.0, "request_timeout_s": 5.0, **overrides}
    return WSGIOnCompleteRequests(app, threads=2, max_body_bytes=100, **settings)


def test_adapter_hands_on_a_whole_chunked_body_with_its_length() -> None:
    response = _call(
        _adapter(),
        _scope(headers=[(b"transfer-encoding", b"chunked"), (b"x_forwarded_for", b"evil")]),
        [
            {"type": "http.request", "body": b"ab", "more_body": True},
            {"type": "http.request", "body": b"cd", "more_body": False},
        ],
    )
    assert response["status"] == 200
    seen = json.loads(response["body"])
    assert seen["body"] == "abcd"
    assert seen["environ"]["CONTENT_LENGTH"] == "4"
    assert "HTTP_TRANSFER_ENCODING" not in seen["environ"]
    assert "HTTP_X_FORWARDED_FOR" not in seen["environ"]


def test_adapter_refuses_a_body_over_the_limit_with_413() -> None:
    chunked = _call(
        _adapter(),
        _scope(),
        [{"type": "http.request", "body": b"a" * 60, "more_body": True}] * 2,
    )
    declared = _call(_adapter(), _scope(headers=[(b"content-length", b"101")]), [])
    for response in (chunked, declared):
        assert response["status"] == 413
        assert response["headers"]["content-type"] == "application/problem+json"
        assert json.loads(response["body"])["status"] == 413


def test_adapter_answers_408_when_the_body_stops_arriving() -> None:
    response = _call(
        _adapter(body_timeout_s=0.05),
        _scope(),
        [{"type": "http.request", "body": b"{", "more_body": True}],
    )
    assert response["status"] == 408
    assert response["headers"]["connection"] == "close"


def test_adapter_answers_503_with_retry_after_when_the_application_overruns() -> None:
    def slow(environ: dict, start_response: Any) -> list[bytes]:
        time.sleep(0.5)
        start_response("200 OK", [])
        return [b""]

    response = _call(
        _adapter(slow, request_timeout_s=0.05),
        _scope("GET"),
        [{"type": "http.request", "body": b"", "more_body": False}],
    )
    assert response["status"] == 503
    assert response["headers"]["retry-after"] == "5"


def test_adapter_answers_503_without_running_a_request_no_thread_took_in_time() -> None:
    ran: list[str] = []
    release = threading.Event()

    def app(environ: dict, start_response: Any) -> list[bytes]:
        ran.append(environ["PATH_INFO"])
        release.wait(5)
        start_response("200 OK", [])
        return [b""]

    adapter = WSGIOnCompleteRequests(
        app, threads=1, max_body_bytes=100, body_timeout_s=5, request_timeout_s=0.2
    )
    done = {"type": "http.request", "body": b"", "more_body": False}

    async def two_at_once() -> list[dict]:
        answers: list[list[dict]] = [[], []]

        async def one(path: str, sent: list[dict]) -> None:
            messages = [done]

            async def receive() -> dict:
                return messages.pop(0)

            async def send(message: dict) -> None:
                sent.append(message)

            await adapter({**_scope("GET"), "path": path}, receive, send)

        await asyncio.gather(one("/first", answers[0]), one("/second", answers[1]))
        release.set()
        return [sent[0] for sent in answers]

    first, second = asyncio.run(two_at_once())
    adapter.executor.shutdown(wait=True)
    assert first["status"] == 503 and second["status"] == 503
    assert ran == ["/first"]  # the queued one was dropped, not run after its 503


def test_environ_keeps_the_path_as_wsgi_wants_it() -> None:
    scope = {**_scope("GET"), "path": "/api/v1/organizations/é", "query_string": b"q=a%00b"}
    environ = _environ(scope, b"")
    assert environ["PATH_INFO"] == "/api/v1/organizations/é".encode().decode("latin-1")
    assert environ["QUERY_STRING"] == "q=a%00b"
