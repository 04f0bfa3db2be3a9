"""Benchmark the referral lifecycle over HTTP against a running `referral-api serve`.

    python bench/referrals.py --clients 8 --referrals 2000 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
        --json bench/results/referrals-postgresql.json

Creates a database of its own (see bench/common.py), starts `referral-api serve` on it,
and has each client thread drive referrals through create + received + accepted +
in-progress over keep-alive HTTP connections. Afterwards it counts the events
(exactly 4 per referral: none lost, none duplicated) and verifies the audit chain.
"""

from __future__ import annotations

import argparse
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
import uuid
from pathlib import Path
from typing import Any

from common import fresh_database, percentile, wait_until_ready, write_json  # bench/: script dir
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from referral_api import migrate
from referral_api.db import make_engine
from referral_api.models import Event, Organization, Referral, ReferralEvent
from referral_api.services import audit, principals, seeding
from referral_api.services.actors import Actor

STEPS = ("create", "received", "accepted", "in-progress")
CONSENT = {
    "basis": "guardian_consent",
    "obtained_by": "Pekerja sosial",
    "obtained_at": "2026-11-20T08:00:00Z",
    "method": "written",
    "scope": "Rujukan",
}


def referral_body(reference: str, to_organization_id: str) -> dict[str, Any]:
    """The benchmark's referral: a new case, a 16-year-old girl, high risk, a shelter."""
    return {
        "case": {
            "reference": reference,
            "client": {"alias": "B", "age": 16, "gender": "female"},
        },
        "to_organization_id": to_organization_id,
        "service_type": "temporary_shelter",
        "risk_level": "high",
        "reason": "benchmark",
        "worker_role": "broker",
        "consent": CONSENT,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(url: str, clients: int) -> list[dict[str, Any]]:
    """One sending and one receiving organization (and tokens) per client."""
    migrate.upgrade(url)
    engine = make_engine(url)
    pairs = []
    with Session(engine, expire_on_commit=False) as session, session.begin():
        seeding.seed(session)
        for n in range(clients):
            sender = Organization(name=f"Sender {n}", type="ngo", region_code="31.71")
            receiver = Organization(name=f"Shelter {n}", type="shelter", region_code="53.71")
            session.add_all([sender, receiver])
            session.flush()
            tokens = [
                principals.create_token(
                    session,
                    actor=Actor.system(),
                    role="caseworker",
                    name=f"{side} {n}",
                    organization_id=org.id,
                )[1]
                for side, org in (("sender", sender), ("receiver", receiver))
            ]
            pairs.append({"to": str(receiver.id), "sender": tokens[0], "receiver": tokens[1]})
    engine.dispose()
    return pairs


def start_server(url: str, port: int, workers: int, threads: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REFERRAL_API_SECRET_KEY": secrets.token_urlsafe(48),
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(  # noqa: S603 - our own CLI
        [
            sys.executable,
            "-m",
            "referral_api.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--threads",
            str(threads),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return wait_until_ready(server, port)


def start_worker(url: str, key: str, **env: str) -> subprocess.Popen[bytes]:
    """`referral-api worker` on the database, as in production: it emits overdue events,
    expires offers and signs checkpoints on its schedule, and delivers webhooks where
    there are subscriptions (events get their positions at COMMIT, not from it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "referral_api.cli", "worker", "--poll", "0.05"],
        env={
            **os.environ,
            "DATABASE_URL": url,
            "REFERRAL_API_SECRET_KEY": key,
            "LOG_LEVEL": "WARNING",
            **env,
        },
        stdout=subprocess.DEVNULL,
    )


def database_backends(url: str) -> list[int]:
    """The PostgreSQL backends now connected to this database (a server on this machine);
    none on SQLite, whose work is its process's own."""
    if not url.startswith("postgresql"):
        return []
    engine = make_engine(url)
    with engine.connect() as conn:
        pids = conn.scalars(
            text(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).all()
    engine.dispose()
    return list(pids)


def database_cpu_seconds(url: str) -> float | None:
    """CPU time of the PostgreSQL backends now connected to this database (None on
    SQLite). Read before the server stops, it is the database's share of the run: the
    pool's connections open as the run starts and stay open."""
    if not url.startswith("postgresql"):
        return None
    return sum(tree_cpu_seconds(pid) for pid in database_backends(url))


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and all its descendants, from /proc (Linux).

    Server CPU per write moves less with this shared VM's swings than throughput does."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


class Client(threading.Thread):
    def __init__(self, port: int, pair: dict[str, Any], count: int) -> None:
        super().__init__()
        self.port, self.pair, self.count = port, pair, count
        self.latencies: dict[str, list[float]] = {step: [] for step in STEPS}
        self.errors: list[str] = []
        self.referrals: list[str] = []

    def call(
        self,
        conn: http.client.HTTPConnection,
        step: str,
        path: str,
        body: dict,
        headers: dict[str, str],
    ) -> dict[str, Any] | None:
        started = time.perf_counter()
        conn.request(
            "POST",
            path,
            body=json.dumps(body),
            headers={"Content-Type": "application/json", **headers},
        )
        response = conn.getresponse()
        payload = response.read()
        self.latencies[step].append((time.perf_counter() - started) * 1000)
        if response.status not in (200, 201):
            self.errors.append(f"{step}: {response.status} {payload[:200]!r}")
            return None
        return json.loads(payload)  # type: ignore[no-any-return]

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        send = {"Authorization": f"Bearer {self.pair['sender']}"}
        receive = {"Authorization": f"Bearer {self.pair['receiver']}"}
        for n in range(self.count):
            created = self.call(
                conn,
                "create",
                "/api/v1/referrals",
                referral_body(f"B-{n}", self.pair["to"]),
                {**send, "Idempotency-Key": str(uuid.uuid4())},
            )
            if created is None:
                continue
            self.referrals.append(created["id"])
            path = f"/api/v1/referrals/{created['id']}/transitions"
            for version, status in enumerate(STEPS[1:], start=1):
                if (
                    self.call(
                        conn,
                        status,
                        path,
                        {"status": status},
                        {**receive, "If-Match": f'"{version}"'},
                    )
                    is None
                ):
                    break
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--referrals", type=int, default=2000)
    parser.add_argument("--database-url", default="sqlite:///instance/bench-referrals.sqlite3")
    # `referral-api serve`'s own defaults.
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument("--threads", type=int, default=4, help="threads per server worker")
    parser.add_argument(
        "--worker",
        action="store_true",
        help="run `referral-api worker` alongside, as in production",
    )
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args(argv)

    url, drop = fresh_database(args.database_url, "referrals")
    server = worker = None
    try:
        pairs = prepare(url, args.clients)
        port = free_port()
        if args.worker:
            worker = start_worker(url, secrets.token_urlsafe(48))
        server = start_server(url, port, args.workers, args.threads)
        per_client = [args.referrals // args.clients] * args.clients
        per_client[0] += args.referrals - sum(per_client)
        clients = [Client(port, pair, n) for pair, n in zip(pairs, per_client, strict=True)]
        server_cpu_started = tree_cpu_seconds(server.pid)
        started, cpu_started = time.perf_counter(), time.process_time()
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        elapsed = time.perf_counter() - started
        client_cpu = time.process_time() - cpu_started
        server_cpu = tree_cpu_seconds(server.pid) - server_cpu_started
        worker_cpu = tree_cpu_seconds(worker.pid) if worker is not None else 0.0
        database_cpu = database_cpu_seconds(url)
        for process in (server, worker):
            if process is not None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
        server = worker = None

        engine = make_engine(url)
        with Session(engine) as session:
            referrals = session.scalar(select(func.count()).select_from(Referral)) or 0
            events = session.scalar(select(func.count()).select_from(ReferralEvent)) or 0
            per_referral = set(
                session.scalars(
                    select(func.count())
                    .select_from(ReferralEvent)
                    .group_by(ReferralEvent.referral_id)
                )
            )
            verdict = audit.verify(session)
            partner_events = session.scalar(select(func.count()).select_from(Event)) or 0
            unpositioned = (
                session.scalar(
                    select(func.count()).select_from(Event).where(Event.position.is_(None))
                )
                or 0
            )
        engine.dispose()
    finally:
        for process in (server, worker):
            if process is not None:
                process.kill()
        drop()

    completed = sum(len(c.referrals) for c in clients)
    errors = [e for c in clients for e in c.errors]
    latencies = {step: [ms for c in clients for ms in c.latencies[step]] for step in STEPS}
    result = {
        "database": url.split(":", 1)[0].split("+")[0],
        "clients": args.clients,
        "server_workers": args.workers,
        "server_threads": args.threads,
        "referrals": completed,
        "seconds": round(elapsed, 2),
        "client_cpu_seconds": round(client_cpu, 2),
        "server_cpu_seconds": round(server_cpu, 2),
        "worker_cpu_seconds": round(worker_cpu, 2),
        "database_cpu_seconds": None if database_cpu is None else round(database_cpu, 2),
        "server_cpu_ms_per_write": round(
            server_cpu * 1000 / max(1, sum(len(v) for v in latencies.values())), 2
        ),
        "referrals_per_s": round(completed / elapsed, 1),
        "writes_per_s": round(sum(len(v) for v in latencies.values()) / elapsed, 1),
        "p50_ms": {s: round(percentile(v, 50), 1) for s, v in latencies.items() if v},
        "p95_ms": {s: round(percentile(v, 95), 1) for s, v in latencies.items() if v},
        "errors": len(errors),
        "first_errors": errors[:5],
        "referrals_in_db": referrals,
        "events": events,
        "events_expected": completed * len(STEPS),
        "events_per_referral": sorted(per_referral),
        "audit_verify": {"ok": verdict.ok, "checked": verdict.checked},
        "partner_events": partner_events,
        "partner_events_unpositioned_at_end": unpositioned,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    print(json.dumps(result, indent=2))
    write_json(args.json_path, result)
    lossless = events == completed * len(STEPS) and per_referral <= {len(STEPS)}
    return 0 if verdict.ok and lossless and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
