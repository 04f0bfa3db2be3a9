"""The transactional outbox's cost, as CPU per referral, measured in one process.

    python bench/outbox_cost.py --referrals 2000 --block 50 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
        --json bench/results/outbox-cost-postgresql.json

One database of its own (bench/common.py), the app in-process (Flask test client) and one
client driving create + received + accepted + in-progress as bench/referrals.py does, in
alternating blocks of referrals: the code as shipped, and the same with `events.emit`
replaced by a no-op in this script (nothing is written to `events`: the variant without
an outbox). Each block is charged the CPU time of this process (the app: Flask,
SQLAlchemy, psycopg) and of the PostgreSQL backends serving it (from /proc; the server
runs on this machine). On SQLite the database's work is the process's own.

CPU per referral moves far less with a shared machine's load than throughput does, and
with one client there is no lock to queue on: it is the outbox's work, not its
contention. bench/referrals.py --worker measures throughput under eight clients.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
import uuid
from typing import Any

import referrals as referral_bench  # bench/ is the script's directory
from common import fresh_database, write_json
from sqlalchemy import func, make_url, select
from sqlalchemy.orm import Session

from referral_api import create_app
from referral_api.config import DEMO_SECRET_KEY, Config
from referral_api.db import make_engine
from referral_api.models import Event
from referral_api.services import events

VARIANTS = ("outbox", "none")


def _no_event(*_: Any, **__: Any) -> uuid.UUID:
    return uuid.uuid4()


def drive(client: Any, pair: dict[str, Any], count: int) -> None:
    """`count` referrals through create and three transitions, every answer checked."""
    send = {"Authorization": f"Bearer {pair['sender']}"}
    receive = {"Authorization": f"Bearer {pair['receiver']}"}
    for _ in range(count):
        created = client.post(
            "/api/v1/referrals",
            json=referral_bench.referral_body(uuid.uuid4().hex[:12], pair["to"]),
            headers={**send, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert created.status_code == 201, created.get_data()
        path = f"/api/v1/referrals/{created.get_json()['id']}/transitions"
        for version, status in enumerate(referral_bench.STEPS[1:], start=1):
            moved = client.post(
                path, json={"status": status}, headers={**receive, "If-Match": f'"{version}"'}
            )
            assert moved.status_code == 200, moved.get_data()


def now(pids: list[int]) -> tuple[float, float, float]:
    """This process's CPU time, the backends' CPU time, and the wall clock."""
    database = sum(referral_bench.tree_cpu_seconds(pid) for pid in pids)
    return time.process_time(), database, time.perf_counter()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referrals", type=int, default=2000, help="per variant")
    parser.add_argument("--block", type=int, default=50, help="referrals per block")
    parser.add_argument("--database-url", default="sqlite:///instance/bench-outbox.sqlite3")
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args(argv)

    url, drop = fresh_database(args.database_url, "outbox")
    blocks: dict[str, list[dict[str, float]]] = {variant: [] for variant in VARIANTS}
    shipped = events.emit
    try:
        pair = referral_bench.prepare(url, 1)[0]
        app = create_app(Config(database_url=url, secret_key=DEMO_SECRET_KEY, log_level="WARNING"))
        client = app.test_client()
        drive(client, pair, 20)  # warm-up: connections, caches, prepared statements
        pids = referral_bench.database_backends(url)  # the app's pool, open since the warm-up
        order = [v for _ in range(args.referrals // args.block) for v in VARIANTS]
        # Alternate, but let neither variant always go first in a pair.
        rng = random.Random(20261129)
        for n in range(0, len(order), 2):
            if rng.random() < 0.5:
                order[n], order[n + 1] = order[n + 1], order[n]
        for variant in order:
            events.emit = shipped if variant == "outbox" else _no_event  # type: ignore[assignment]
            app_cpu, db_cpu, wall = now(pids)
            drive(client, pair, args.block)
            app_after, db_after, wall_after = now(pids)
            per_referral = 1000 / args.block
            blocks[variant].append(
                {
                    "cpu_ms_per_referral": (app_after + db_after - app_cpu - db_cpu) * per_referral,
                    "app_cpu_ms_per_referral": (app_after - app_cpu) * per_referral,
                    "database_cpu_ms_per_referral": (db_after - db_cpu) * per_referral,
                    "wall_ms_per_referral": (wall_after - wall) * per_referral,
                }
            )
        engine = make_engine(url)
        with Session(engine) as session:
            written = session.scalar(select(func.count()).select_from(Event))
        engine.dispose()
    finally:
        events.emit = shipped  # type: ignore[assignment]
        drop()

    def median(figure: str) -> dict[str, float]:
        return {v: statistics.median(b[figure] for b in blocks[v]) for v in VARIANTS}

    cpu, wall = median("cpu_ms_per_referral"), median("wall_ms_per_referral")
    report = {
        "benchmark": "outbox_cost",
        "database": make_url(url).get_backend_name(),
        "referrals_per_variant": len(blocks["outbox"]) * args.block,
        "block": args.block,
        # 4 per referral with the outbox, plus the warm-up's
        "events_written": written,
        "cpu_ms_per_referral": {v: round(cpu[v], 2) for v in VARIANTS},
        "cpu_cost": round(cpu["outbox"] / cpu["none"], 3),
        "app_cpu_ms_per_referral": {
            v: round(ms, 2) for v, ms in median("app_cpu_ms_per_referral").items()
        },
        "database_cpu_ms_per_referral": {
            v: round(ms, 2) for v, ms in median("database_cpu_ms_per_referral").items()
        },
        "wall_ms_per_referral": {v: round(wall[v], 2) for v in VARIANTS},
        "wall_cost": round(wall["outbox"] / wall["none"], 3),
        "blocks": blocks,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    print(json.dumps({k: v for k, v in report.items() if k != "blocks"}, indent=2))
    write_json(args.json_path, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
