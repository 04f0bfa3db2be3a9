"""Benchmark webhooks during the referral benchmark: COMMIT -> verified delivery, and the
referral throughput with and without webhooks, measured side by side in one run.

    python bench/webhooks.py --clients 8 --referrals 2000 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
        --json bench/results/webhooks-postgresql.json

Two phases, each on a database of its own (bench/common.py) and its own `referral-api
serve`: first the referral benchmark of bench/referrals.py as is (events are written to
the outbox, nobody subscribes); then the same with one webhook subscription per receiving
organization, a `referral-api worker` process delivering, and a receiver on loopback that
verifies every delivery with the `standardwebhooks` package. The latency of an event is
from the moment its client has the write's 2xx answer (the transaction has committed) to
the moment the receiver has verified its delivery; a second figure counts from when the
request was sent (an upper bound). Every (subscription, number) must arrive: none lost,
none skipped, in number order per subscription.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import referrals as referral_bench  # bench/ is the script's directory
from common import fresh_database, percentile, write_json
from sqlalchemy import select
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from referral_api.db import make_engine
from referral_api.models import Organization
from referral_api.services import principals
from referral_api.services.actors import Actor
from referral_api.services.webhooks import subscriptions


class TimedClient(referral_bench.Client):
    """The referral benchmark's client, noting when each write was sent and answered."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answered: dict[tuple[str, int], tuple[float, float]] = {}

    def call(self, conn, step, path, body, headers):  # type: ignore[no-untyped-def]
        sent = time.monotonic()
        result = super().call(conn, step, path, body, headers)
        if result is not None:
            self.answered[(result["id"], result["version"])] = (sent, time.monotonic())
        return result


class Receiver:
    """One endpoint per subscription (/hooks/<n>), verifying with standardwebhooks."""

    def __init__(self) -> None:
        self.secrets: dict[str, Webhook] = {}
        self.lock = threading.Lock()
        self.verified: dict[str, list[tuple[int, str, int, float]]] = {}
        self.failures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                key = self.path.rsplit("/", 1)[-1]
                try:
                    payload = receiver.secrets[key].verify(body, dict(self.headers.items()))
                    data = payload["data"]
                    with receiver.lock:
                        receiver.verified.setdefault(key, []).append(
                            (
                                payload["number"],
                                data["referral_id"],
                                data["version"],
                                time.monotonic(),
                            )
                        )
                    status = 204
                except Exception:
                    with receiver.lock:
                        receiver.failures += 1
                    status = 400
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, key: str) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks/{key}"

    def count(self) -> int:
        with self.lock:
            return sum(len(v) for v in self.verified.values())


def subscribe_receivers(url: str, key: str, receiver: Receiver) -> None:
    """An org_admin and a subscription for each receiving organization."""
    engine = make_engine(url)
    settings = subscriptions.Settings(secret_key=key, allow_private=True)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        shelters = session.scalars(
            select(Organization).where(Organization.name.like("Shelter %"))
        ).all()
        for org in shelters:
            admin, _ = principals.create_token(
                session,
                actor=Actor.system(),
                role="org_admin",
                name="webhooks",
                organization_id=org.id,
            )
            actor = Actor(principal_id=admin.id, organization_id=org.id, role="org_admin")
            name = uuid.uuid4().hex
            _subscription, secret = subscriptions.create_subscription(
                session,
                actor=actor,
                settings=settings,
                url=receiver.url(name),
                description="bench",
            )
            receiver.secrets[name] = Webhook(secret)
    engine.dispose()


def run_phase(args: argparse.Namespace, label: str, with_webhooks: bool) -> dict[str, Any]:
    url, drop = fresh_database(args.database_url, label)
    key = secrets.token_urlsafe(48)
    server = worker = None
    receiver = Receiver() if with_webhooks else None
    try:
        pairs = referral_bench.prepare(url, args.clients)
        if receiver is not None:
            subscribe_receivers(url, key, receiver)
            worker = referral_bench.start_worker(
                url, key, REFERRAL_API_WEBHOOK_ALLOW_PRIVATE="true"
            )
        port = referral_bench.free_port()
        # The server's own secret key seals client profiles only; the subscriptions were
        # sealed with `key`, which the webhook worker is given.
        server = referral_bench.start_server(url, port, args.workers, args.threads)
        per_client = [args.referrals // args.clients] * args.clients
        per_client[0] += args.referrals - sum(per_client)
        clients = [TimedClient(port, pair, n) for pair, n in zip(pairs, per_client, strict=True)]
        started = time.perf_counter()
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        elapsed = time.perf_counter() - started
        completed = sum(len(c.referrals) for c in clients)
        result: dict[str, Any] = {
            "referrals": completed,
            "seconds": round(elapsed, 2),
            "referrals_per_s": round(completed / elapsed, 1),
            "errors": sum(len(c.errors) for c in clients),
        }
        if receiver is not None:
            writes = {k: v for c in clients for k, v in c.answered.items()}
            expected = len(writes)  # one event per write, each to its receiver's subscription
            deadline = time.monotonic() + args.drain_timeout
            while receiver.count() < expected and time.monotonic() < deadline:
                time.sleep(0.05)
            result.update(delivery_report(receiver, writes, time.perf_counter() - started))
    finally:
        for process in (server, worker):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
        if receiver is not None:
            receiver.server.shutdown()
        drop()
    return result


def delivery_report(
    receiver: Receiver, writes: dict[tuple[str, int], tuple[float, float]], seconds: float
) -> dict[str, Any]:
    from_commit, from_request = [], []
    delivered: set[tuple[str, int]] = set()
    in_order = True
    duplicates = 0
    for deliveries in receiver.verified.values():
        numbers = [n for n, *_ in deliveries]
        in_order &= numbers == sorted(numbers)
        duplicates += len(numbers) - len(set(numbers))
        if set(numbers) != set(range(1, max(numbers, default=0) + 1)):
            in_order = False  # a gap
        for _number, referral_id, version, at in deliveries:
            key = (referral_id, version)
            if key in writes and key not in delivered:
                delivered.add(key)
                sent, answered = writes[key]
                from_commit.append((at - answered) * 1000)
                from_request.append((at - sent) * 1000)
    return {
        "subscriptions": len(receiver.secrets),
        "events_expected": len(writes),
        "events_delivered_verified": len(delivered),
        "lost": len(writes) - len(delivered),
        "duplicates": duplicates,
        "verification_failures": receiver.failures,
        "gap_free_and_in_number_order": in_order,
        "commit_to_verified_ms": {
            "p50": round(percentile(from_commit, 50), 1) if from_commit else None,
            "p95": round(percentile(from_commit, 95), 1) if from_commit else None,
            "p99": round(percentile(from_commit, 99), 1) if from_commit else None,
            "max": round(max(from_commit), 1) if from_commit else None,
        },
        "request_sent_to_verified_ms": {
            "p95": round(percentile(from_request, 95), 1) if from_request else None,
        },
        "seconds_until_all_delivered": round(seconds, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--referrals", type=int, default=2000)
    parser.add_argument("--database-url", default="sqlite:///instance/bench-webhooks.sqlite3")
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) * 2 + 1)
    parser.add_argument("--threads", type=int, default=4, help="threads per server worker")
    parser.add_argument("--drain-timeout", type=float, default=120.0)
    parser.add_argument("--rounds", type=int, default=1, help="alternating off/on pairs")
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args(argv)

    runs = []
    for n in range(args.rounds):
        # Alternated, so that this shared machine's drifts hit both sides alike.
        without = run_phase(args, f"webhooks-off-{n}", with_webhooks=False)
        with_hooks = run_phase(args, f"webhooks-on-{n}", with_webhooks=True)
        runs.append({"without_webhooks": without, "with_webhooks": with_hooks})
    off = [r["without_webhooks"]["referrals_per_s"] for r in runs]
    on = [r["with_webhooks"]["referrals_per_s"] for r in runs]
    p95 = [r["with_webhooks"]["commit_to_verified_ms"]["p95"] for r in runs]
    result = {
        "database": args.database_url.split(":", 1)[0].split("+")[0],
        "clients": args.clients,
        "referrals_per_phase": args.referrals,
        "server_workers": args.workers,
        "server_threads": args.threads,
        "webhook_workers": 1,
        "runs": runs,
        "median_referrals_per_s_without": statistics.median(off),
        "median_referrals_per_s_with": statistics.median(on),
        "throughput_with_vs_without": round(statistics.median(on) / statistics.median(off), 3),
        "median_commit_to_verified_p95_ms": statistics.median(p95),
        "lost": sum(r["with_webhooks"]["lost"] for r in runs),
        "load_average_at_end": os.getloadavg(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    print(json.dumps(result, indent=2))
    write_json(args.json_path, result)
    ok = all(
        r["with_webhooks"]["lost"] == 0
        and r["with_webhooks"]["gap_free_and_in_number_order"]
        and r["with_webhooks"]["verification_failures"] == 0
        and not (r["without_webhooks"]["errors"] or r["with_webhooks"]["errors"])
        for r in runs
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
