"""Normal requests' latency while slow clients hold connections open, per server.

    python bench/slow_clients.py --servers before,after --json bench/results/slow-clients.json

Makes a fresh SQLite database (migrated, seeded with the demo directory, one caseworker
token), then for each server named: starts it on a free port, times normal requests
(`GET /healthz`, `GET /api/v1/services?per_page=10`, and `GET /api/v1/referrals?per_page=10`
as the caseworker), each on a new connection, in rounds for `--phase-seconds`, first with
no slow client and then with
`--header-dribblers` connections sending their headers one byte per `--interval` seconds
and `--body-dribblers` connections sending a referral body the same way (with a valid
token, so a server that hands the request to the application before the body is in holds
a thread in the body read). A slow connection the server closes is opened again at once,
so the pressure stays the same; how often that happened is reported.

Servers: `before` is gunicorn as `referral-api serve` ran it before this benchmark was
written (gthread, 5 workers x 4 threads, SO_REUSEPORT); `after` is `referral-api serve`
of this checkout; the others are the candidates that were measured against them.
A request that gets no answer within `--timeout` seconds counts as an error, and its
time (the timeout) is in the percentiles.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from common import fresh_database, percentile, wait_until_ready, write_json  # bench/: script dir
from sqlalchemy import select
from sqlalchemy.orm import Session

from referral_api import migrate
from referral_api.db import make_engine
from referral_api.models import Organization
from referral_api.services import principals, seeding
from referral_api.services.actors import Actor

WORKERS = (os.cpu_count() or 1) * 2 + 1
PYTHON = sys.executable
BIN = Path(sys.executable).parent

# `{port}` in a command is replaced by the port; the database and secret come from
# the environment. `before` reproduces the old `serve` (see cli.py in git history).
SERVERS: dict[str, tuple[str, list[str]]] = {
    "before": (
        f"gunicorn gthread, {WORKERS} workers x 4 threads, SO_REUSEPORT (serve before)",
        [
            str(BIN / "gunicorn"),
            *f"--worker-class gthread --workers {WORKERS} --threads 4 --reuse-port".split(),
            *["--bind", "127.0.0.1:{port}", "referral_api:create_app()"],
        ],
    ),
    "after": (
        "referral-api serve (this checkout)",
        [PYTHON, "-m", "referral_api.cli", "serve", "--port", "{port}"],
    ),
    "gunicorn-gthread-64": (
        f"gunicorn gthread, {WORKERS} workers x 64 threads",
        [
            str(BIN / "gunicorn"),
            *f"--worker-class gthread --workers {WORKERS} --threads 64".split(),
            *["--bind", "127.0.0.1:{port}", "referral_api:create_app()"],
        ],
    ),
    "granian-wsgi": (
        "granian WSGI (no adapter), 2 workers, header read timeout 10 s",
        [
            str(BIN / "granian"),
            *["--interface", "wsgi", "--factory", "--workers", "2", "--no-ws"],
            *["--log-level", "warning"],
            *["--http", "1", "--http1-header-read-timeout", "10000", "--port", "{port}"],
            "referral_api:create_app",
        ],
    ),
    "waitress": (
        "waitress, 1 process x 8 threads, channel timeout 10 s",
        [
            str(BIN / "waitress-serve"),
            *["--threads", "8", "--connection-limit", "1000", "--channel-timeout", "10"],
            *["--port", "{port}"],
            *["--call", "referral_api:create_app"],
        ],
    ),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command(name: str, port: int) -> list[str]:
    return [arg.replace("{port}", str(port)) for arg in SERVERS[name][1]]


def prepare(url: str) -> str:
    """Migrate and seed (with the demo directory); return a caseworker token."""
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        seeding.seed(session, demo=True)
        organization = session.scalars(
            select(Organization).where(Organization.demo.is_(True)).limit(1)
        ).one()
        _, token = principals.create_token(
            session,
            actor=Actor.system(),
            role="caseworker",
            name="bench caseworker",
            organization_id=organization.id,
        )
    engine.dispose()
    return token


def start_server(name: str, url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REFERRAL_API_SECRET_KEY": secrets.token_urlsafe(48),
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(  # noqa: S603 - our own CLI or a server from this venv
        command(name, port), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return wait_until_ready(server, port, name=name, timeout_s=60)


def stop_server(server: subprocess.Popen[bytes]) -> float:
    """SIGTERM, then wait; return the seconds it took to exit (kill after 60)."""
    started = time.monotonic()
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    return round(time.monotonic() - started, 2)


class Dribblers(threading.Thread):
    """Keeps N header dribblers and M body dribblers connected, one byte per interval."""

    def __init__(self, port: int, token: str, headers: int, bodies: int, interval: float):
        super().__init__(daemon=True)
        self.port, self.token, self.interval = port, token, interval
        self.headers, self.bodies = headers, bodies
        self.connected = 0
        self.reconnects = {"header": 0, "body": 0}
        self.loop = asyncio.new_event_loop()
        self.stopping: asyncio.Event | None = None

    def run(self) -> None:
        self.loop.run_until_complete(self.main())

    async def main(self) -> None:
        self.stopping = asyncio.Event()
        tasks = [self.loop.create_task(self.keep("header")) for _ in range(self.headers)]
        tasks += [self.loop.create_task(self.keep("body")) for _ in range(self.bodies)]
        await self.stopping.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def stop(self) -> None:
        if self.stopping is not None:
            self.loop.call_soon_threadsafe(self.stopping.set)
        self.join(timeout=10)

    def opening(self, kind: str) -> tuple[bytes, bytes]:
        """What is sent at once, and what is then dribbled (for ever, in effect)."""
        if kind == "header":
            return b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Dribble: ", b"a" * 100_000
        body = b'{"reason": "' + b"a" * 100_000
        head = (
            b"POST /api/v1/referrals HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\n"
            b"Authorization: Bearer " + self.token.encode() + b"\r\n"
            b"Idempotency-Key: " + secrets.token_hex(16).encode() + b"\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
        )
        return head, body

    async def keep(self, kind: str) -> None:
        first = True
        while True:
            if not first:
                self.reconnects[kind] += 1
                await asyncio.sleep(0.05)
            first = False
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                continue
            head, rest = self.opening(kind)
            self.connected += 1
            try:
                writer.write(head)
                await writer.drain()
                for byte in rest:
                    await asyncio.sleep(self.interval)
                    if reader.at_eof():
                        break
                    writer.write(bytes([byte]))
                    await writer.drain()
            except OSError:
                pass
            finally:
                self.connected -= 1
                writer.close()


def timed_get(port: int, path: str, headers: dict[str, str], timeout: float) -> tuple[float, bool]:
    started = time.perf_counter()
    ok = False
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        ok = response.status == 200
    except OSError:
        pass
    finally:
        conn.close()
    elapsed = time.perf_counter() - started
    return (elapsed if ok else max(elapsed, timeout)) * 1000, ok


def measure(port: int, token: str, args: argparse.Namespace) -> dict[str, Any]:
    requests = {
        "healthz": ("/healthz", {}),
        "services": ("/api/v1/services?per_page=10", {}),
        "referrals_authenticated": (
            "/api/v1/referrals?per_page=10",
            {"Authorization": f"Bearer {token}"},
        ),
    }
    latencies: dict[str, list[float]] = {name: [] for name in requests}
    errors = dict.fromkeys(requests, 0)
    deadline = time.monotonic() + args.phase_seconds
    while time.monotonic() < deadline:
        for name, (path, headers) in requests.items():
            ms, ok = timed_get(port, path, headers, args.timeout)
            latencies[name].append(ms)
            errors[name] += not ok
        time.sleep(args.pause)
    every = [ms for values in latencies.values() for ms in values]
    result: dict[str, Any] = {
        name: summary(values, errors[name]) for name, values in latencies.items()
    }
    result["all"] = summary(every, sum(errors.values()))
    return result


def summary(values: list[float], errors: int) -> dict[str, Any]:
    return {
        "requests": len(values),
        "errors": errors,
        "p50_ms": round(percentile(values, 50), 1),
        "p95_ms": round(percentile(values, 95), 1),
        "max_ms": round(max(values), 1),
    }


def run_server(name: str, url: str, token: str, args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    server = start_server(name, url, port)
    try:
        for _ in range(20):  # warm-up: connections, caches, the token's last_used_at
            timed_get(port, "/api/v1/services?per_page=10", {}, args.timeout)
        idle = measure(port, token, args)
        dribblers = Dribblers(
            port, token, args.header_dribblers, args.body_dribblers, args.interval
        )
        dribblers.start()
        time.sleep(args.settle)
        connected = dribblers.connected
        slow = measure(port, token, args)
        reconnects = dict(dribblers.reconnects)
        dribblers.stop()
    finally:
        shutdown_s = stop_server(server)
    result = {
        "server": SERVERS[name][0],
        "command": " ".join(Path(a).name if a.startswith("/") else a for a in SERVERS[name][1]),
        "no_slow_clients": idle,
        "slow_clients": slow,
        "slow_connections_open_at_start": connected,
        "slow_reconnects": reconnects,
        "shutdown_s": shutdown_s,
    }
    print(
        f"{name:>20}: p95 {idle['all']['p95_ms']:>8} ms idle, "
        f"{slow['all']['p95_ms']:>8} ms with slow clients "
        f"({slow['all']['errors']} errors of {slow['all']['requests']})",
        file=sys.stderr,
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", default="before,after", help=f"of {', '.join(SERVERS)}")
    parser.add_argument("--header-dribblers", type=int, default=50)
    parser.add_argument("--body-dribblers", type=int, default=50)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between bytes")
    parser.add_argument(
        "--phase-seconds",
        type=float,
        default=45,
        help="per phase; longer than the new server's body timeout (30 s), so slow "
        "connections are cut and reopened while normal requests are timed",
    )
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between rounds")
    parser.add_argument("--timeout", type=float, default=10, help="per normal request")
    parser.add_argument("--settle", type=float, default=5, help="seconds before measuring")
    parser.add_argument("--database-url", default="sqlite:///instance/bench-slow.sqlite3")
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args(argv)

    names = [n.strip() for n in args.servers.split(",") if n.strip()]
    unknown = set(names) - set(SERVERS)
    if unknown:
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")
    url, drop = fresh_database(args.database_url, "slow")
    try:
        token = prepare(url)
        results = {name: run_server(name, url, token, args) for name in names}
    finally:
        drop()
    report = {
        "database": url.split(":", 1)[0],
        "header_dribblers": args.header_dribblers,
        "body_dribblers": args.body_dribblers,
        "byte_interval_s": args.interval,
        "request_timeout_s": args.timeout,
        "servers": results,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    print(json.dumps(report, indent=2))
    write_json(args.json_path, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
