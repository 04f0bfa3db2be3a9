"""The production server: granian's HTTP/1.1 in front of the Flask app.

Granian reads request lines and headers in Rust, on its event loop, with a deadline. The
adapter here (an ASGI application) then reads the whole body on that loop, with a deadline
and a size limit, and only hands a complete request to one of the worker's threads running
the WSGI app. A slow client therefore holds a socket, never a thread nor a database
connection; see the README's "Serving" for what each timeout bounds and how it was chosen.
"""

from __future__ import annotations

import asyncio
import errno
import io
import json
import logging
import os
import socket
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .config import Config

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# The worker processes read their thread count from here (set by `serve`).
THREADS_ENV = "REFERRAL_API_SERVE_THREADS"
PROBLEM_BASE = "urn:referral-api:problem:"
# Granian's own records (start, stop, workers) as JSON lines on stderr, like the app's.
GRANIAN_LOGGING: dict[str, Any] = {
    "formatters": {"json": {"()": "referral_api.logs.JsonFormatter"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "loggers": {
        "_granian": {"handlers": ["stderr"], "propagate": False},
        "granian.access": {"handlers": ["stderr"], "propagate": False},
    },
}


class PortInUse(Exception):
    """Something already listens on the address `serve` was asked to bind."""


class _BodyTooLarge(Exception):
    pass


class _ClientGone(Exception):
    pass


class WSGIOnCompleteRequests:
    """An ASGI application that runs a WSGI application on complete requests only."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        threads: int,
        max_body_bytes: int,
        body_timeout_s: float,
        request_timeout_s: float,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.request_timeout_s = request_timeout_s
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="request")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await _refuse(send, 413, "Payload too large", self._too_large())
            return
        try:
            body = await asyncio.wait_for(self._read_body(receive), self.body_timeout_s)
        except _BodyTooLarge:
            await _refuse(send, 413, "Payload too large", self._too_large())
            return
        except TimeoutError:
            await _refuse(
                send,
                408,
                "Request timeout",
                f"The request body did not arrive within {self.body_timeout_s:g} s.",
            )
            return
        except _ClientGone:
            return

        environ = _environ(scope, body)
        started = threading.Event()
        future = asyncio.get_running_loop().run_in_executor(
            self.executor, self._run, environ, started
        )
        try:
            status, headers, chunks = await asyncio.wait_for(
                asyncio.shield(future), self.request_timeout_s
            )
        except TimeoutError:
            future.cancel()  # a request still queued for a thread is then never run
            if not started.is_set():
                await _refuse(
                    send,
                    503,
                    "Server busy",
                    f"No request thread was free within {self.request_timeout_s:g} s; the "
                    "request was not started.",
                    retry_after=5,
                )
                return
            # A running thread cannot be stopped: it commits or rolls back on its own.
            log.error(
                "%s %s still running after %g s; answered 503",
                environ["REQUEST_METHOD"],
                environ["PATH_INFO"],
                self.request_timeout_s,
            )
            await _refuse(
                send,
                503,
                "Request took too long",
                f"The request did not finish within {self.request_timeout_s:g} s. It may "
                "still take effect: read the resource again, or repeat it with the same "
                "Idempotency-Key, before retrying.",
                retry_after=5,
            )
            return
        except Exception:
            log.exception("the WSGI application failed outside Flask's error handling")
            await _refuse(send, 500, "Internal server error", "The server failed.")
            return
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"".join(chunks)})

    def _too_large(self) -> str:
        return f"The request body is larger than {self.max_body_bytes} bytes."

    async def _read_body(self, receive: Receive) -> bytes:
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                raise _BodyTooLarge
            if not message.get("more_body", False):
                return bytes(body)

    def _run(
        self, environ: dict[str, Any], started: threading.Event
    ) -> tuple[int, list[tuple[bytes, bytes]], list[bytes]]:
        """Call the WSGI application in a worker thread and collect its whole response."""
        started.set()
        response_start: list[Any] = []
        chunks: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            if exc_info is not None and response_start:
                raise exc_info[1].with_traceback(exc_info[2])
            response_start[:] = [status, headers]
            return chunks.append

        result = self.app(environ, start_response)
        try:
            chunks.extend(chunk for chunk in result if chunk)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = response_start
        encoded = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        return int(status.split(" ", 1)[0]), encoded, chunks


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value).decode("latin-1").strip()
    return None


def _environ(scope: Scope, body: bytes) -> dict[str, Any]:
    """PEP 3333 environ for a request whose body has been read in full."""
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode("utf-8").decode("latin-1"),
        "PATH_INFO": scope["path"].encode("utf-8").decode("latin-1"),
        "QUERY_STRING": bytes(scope.get("query_string", b"")).decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": str(client[0]),
        "REMOTE_PORT": str(client[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
    }
    for raw_name, raw_value in scope["headers"]:
        name = bytes(raw_name).decode("latin-1").lower()
        value = bytes(raw_value).decode("latin-1")
        # The body is complete and its length known: the framing headers no longer apply.
        # A name with "_" could pass for one with "-" in the environ: dropped, as gunicorn does.
        if name in ("content-length", "transfer-encoding") or "_" in name:
            continue
        if name == "content-type":
            environ["CONTENT_TYPE"] = value
            continue
        key = "HTTP_" + name.upper().replace("-", "_")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


async def _refuse(
    send: Send, status: int, title: str, detail: str, *, retry_after: int | None = None
) -> None:
    slug = {408: "request-timeout", 413: "payload-too-large", 500: "internal"}.get(
        status, "service-unavailable"
    )
    body = json.dumps(
        {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    ).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def asgi_app() -> WSGIOnCompleteRequests:
    """The application each granian worker serves (a factory: it runs in the worker)."""
    from . import create_app

    config = Config.from_env()
    return WSGIOnCompleteRequests(
        create_app(config),
        threads=int(os.environ.get(THREADS_ENV, "8")),
        max_body_bytes=config.max_body_bytes,
        body_timeout_s=config.body_timeout_s,
        request_timeout_s=config.request_timeout_s,
    )


def check_port_free(host: str, port: int) -> socket.socket:
    """Refuse an address something already listens on; return a lock held while serving.

    Granian's workers bind with SO_REUSEPORT, which lets a second server join the first
    and the kernel split connections between them. A plain bind (SO_REUSEADDR only, so a
    port left in TIME_WAIT is still usable) fails on a port anyone listens on. The lock,
    a Linux abstract socket named after the port, closes the window between this check
    and the workers' binds for two `referral-api serve` started at once.
    """
    lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        lock.bind(f"\0referral-api-serve-port-{port}")
    except OSError as error:
        lock.close()
        if error.errno != errno.EADDRINUSE:
            raise
        raise PortInUse(
            f"another referral-api serve already uses port {port}; stop it or choose another --port"
        ) from None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            lock.close()
            if error.errno != errno.EADDRINUSE:
                raise
            raise PortInUse(
                f"{host}:{port} is already in use by another process; stop it or choose "
                "another --port"
            ) from None
    return lock


def serve(config: Config, *, host: str, port: int, workers: int, threads: int) -> None:
    """Run granian with `workers` processes of `threads` request threads each, until
    SIGTERM or SIGINT."""
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import Server

    lock = check_port_free(host, port)
    os.environ[THREADS_ENV] = str(threads)
    level = config.log_level.lower()
    try:
        Server(
            "referral_api.server:asgi_app",
            address=host,
            port=port,
            interface=Interfaces.ASGINL,
            workers=workers,
            http=HTTPModes.http1,
            websockets=False,
            http1_settings=HTTP1Settings(header_read_timeout=round(config.header_timeout_s * 1000)),
            log_level=LogLevels(level) if level in LogLevels.__members__ else LogLevels.info,
            log_dictconfig=GRANIAN_LOGGING,
            workers_kill_timeout=max(1, round(config.shutdown_timeout_s)),
            respawn_failed_workers=True,
            factory=True,
        ).serve()
    finally:
        lock.close()
