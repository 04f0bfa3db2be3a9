"""Benchmark `audit verify` over a long chain.

    python bench/audit_verify.py --events 1000000 --database-url URL --json FILE

Builds a valid chain of N events in a database of its own (bulk insert, hashes computed
as the service does), then times a full verification (DESIGN.md: 1,000,000 events in
20 s or less), and verification against a signed checkpoint of the chain, alternating
the two (--rounds each): the checkpoint may cost at most 10 % more.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import uuid
from datetime import timedelta

from common import fresh_database, write_json  # bench/ is the script's directory
from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from referral_api import migrate
from referral_api.db import make_engine
from referral_api.models import AuditEvent, AuditHead
from referral_api.models.audit import GENESIS_HASH
from referral_api.models.base import utcnow
from referral_api.services import audit, checkpoints


def build_chain(url: str, count: int) -> None:
    migrate.upgrade(url)
    engine = make_engine(url)
    start = utcnow() - timedelta(days=365)
    principal, organization = uuid.uuid4(), uuid.uuid4()
    prev = GENESIS_HASH
    summary = audit.canonical_json({"from": "received", "to": "accepted", "version": 3})
    with Session(engine) as session, session.begin():
        batch = []
        for seq in range(1, count + 1):
            fields = {
                "seq": seq,
                "occurred_at": start + timedelta(seconds=seq * 30),
                "actor_principal_id": principal,
                "actor_organization_id": organization,
                "action": "referral.transition",
                "entity_type": "referral",
                "entity_id": str(uuid.UUID(int=seq)),
                "summary": summary,
            }
            digest = audit.event_hash(prev_hash=prev, **fields)
            batch.append({**fields, "prev_hash": prev, "hash": digest})
            prev = digest
            if len(batch) == 10_000:
                session.execute(insert(AuditEvent), batch)
                batch = []
        if batch:
            session.execute(insert(AuditEvent), batch)
        session.execute(update(AuditHead).values(last_seq=count, last_hash=prev))
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="sqlite:///instance/bench-audit.sqlite3")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args(argv)

    url, drop = fresh_database(args.database_url, "audit")
    try:
        started = time.perf_counter()
        build_chain(url, args.events)
        build_s = time.perf_counter() - started
        engine = make_engine(url)
        key = checkpoints.load_signing_key(checkpoints.new_signing_key())
        timings: dict[str, list[float]] = {"plain": [], "checkpoint": []}
        with Session(engine) as session:
            note = checkpoints.sign(checkpoints.current(session), key)
            checkpoint = checkpoints.open_note(note, key.public_key())
            for _ in range(args.rounds):
                started = time.perf_counter()
                verdict = audit.verify(session)
                timings["plain"].append(time.perf_counter() - started)
                started = time.perf_counter()
                held = checkpoints.verify(session, checkpoint=checkpoint)
                timings["checkpoint"].append(time.perf_counter() - started)
        engine.dispose()
        verify_s = min(timings["plain"])
    finally:
        drop()
    result = {
        "benchmark": "audit_verify",
        "database": url.split(":", 1)[0].split("+")[0],
        "events": args.events,
        "build_s": round(build_s, 1),
        "verify_s": round(verify_s, 2),
        "verify_checkpoint_s": round(min(timings["checkpoint"]), 2),
        "checkpoint_cost": round(min(timings["checkpoint"]) / verify_s, 3),
        "rounds": {name: [round(t, 2) for t in runs] for name, runs in timings.items()},
        "verdict": {"ok": verdict.ok, "checked": verdict.checked},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    print(json.dumps(result, indent=2))
    write_json(args.json_path, result)
    return 0 if verdict.ok and held.ok and verdict.checked == args.events else 1


if __name__ == "__main__":
    sys.exit(main())
