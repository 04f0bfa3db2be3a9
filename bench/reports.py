"""Benchmark the national referral report over a large, realistic referral history.

    python bench/reports.py --referrals 100000 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
        --json bench/results/reports-postgresql.json

Creates a database of its own, bulk-loads organizations in every province, cases and
referrals with realistic histories (acknowledged, accepted or rejected, started,
completed, failed, cancelled, on hold, entered in error, overdue), then times
GET /api/v1/reports/referrals as a national admin through the Flask stack, grouped by
service type and by organization, with small counts suppressed (the default) and with
suppress=false, alternating: the suppression's cost as a ratio.
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
from datetime import timedelta

from common import fresh_database, write_json  # bench/ is the script's directory
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from referral_api import create_app, migrate
from referral_api.config import DEMO_SECRET_KEY, Config
from referral_api.db import make_engine
from referral_api.models import Case, Organization, Referral, ReferralRegion, Region
from referral_api.models.base import utcnow
from referral_api.services import principals, seeding
from referral_api.services.actors import Actor
from referral_api.vocabularies import RISK_LEVELS, SERVICE_TYPE_CODES, STATUS_REASONS, WORKER_ROLES

ACK_HOURS = {"high": 1, "medium": 6, "low": 72}
# (final status, milestones passed, weight)
HISTORIES = [
    ("requested", (), 4),
    ("received", ("ack",), 4),
    ("accepted", ("ack", "decide"), 8),
    ("in-progress", ("ack", "decide", "start"), 12),
    ("on-hold", ("ack", "decide", "start"), 2),
    ("completed", ("ack", "decide", "start", "complete"), 45),
    ("rejected", ("ack", "decide"), 12),
    ("failed", ("ack", "decide", "start"), 4),
    ("cancelled", (), 5),
    ("entered-in-error", ("ack",), 2),
]


def load(url: str, count: int, rng: random.Random) -> str:
    """Migrate, seed regions, bulk-load the history; return an admin token."""
    migrate.upgrade(url)
    engine = make_engine(url)
    now = utcnow()
    service_types = sorted(SERVICE_TYPE_CODES)
    weights = [w for *_, w in HISTORIES]
    with Session(engine) as session, session.begin():
        seeding.seed(session)
        regencies = list(session.scalars(select(Region.code).where(Region.level == "regency")))
        orgs = [
            {
                "id": uuid.uuid4(),
                "name": f"Bench organization {i}",
                "type": "uptd_ppa",
                "region_code": rng.choice(regencies),
                "aliases": [],
                "phones": [],
                "hotlines": [],
                "languages": [],
                "status": "active",
                "demo": True,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(600)
        ]
        session.execute(insert(Organization), orgs)
        principal, token = principals.create_token(
            session,
            actor=Actor.system(),
            role="caseworker",
            name="loader",
            organization_id=orgs[0]["id"],
        )
        _, admin_token = principals.create_token(
            session, actor=Actor.system(), role="admin", name="bench admin"
        )
        for start in range(0, count, 5000):
            cases, referrals = [], []
            for _ in range(start, min(count, start + 5000)):
                if not cases or rng.random() < 0.4:
                    sender = rng.choice(orgs)["id"]
                    cases.append(
                        {
                            "id": uuid.uuid4(),
                            "owner_organization_id": sender,
                            "status": "open",
                            "client_ciphertext": b"\x01" + os.urandom(40),
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
                case = cases[-1]
                status, milestones, _ = rng.choices(HISTORIES, weights)[0]
                risk = rng.choice(RISK_LEVELS)
                service_type = rng.choice(service_types)
                created = now - timedelta(days=rng.uniform(0, 365))
                moments, t = {}, created
                for milestone in milestones:
                    t += timedelta(minutes=rng.expovariate(1 / 240))
                    moments[milestone] = t
                receiver = rng.choice(orgs)["id"]
                while receiver == case["owner_organization_id"]:
                    receiver = rng.choice(orgs)["id"]
                referrals.append(
                    {
                        "id": uuid.uuid4(),
                        "case_id": case["id"],
                        "kind": "transfer" if rng.random() < 0.1 else "referral",
                        "from_organization_id": case["owner_organization_id"],
                        "from_principal_id": principal.id,
                        "to_organization_id": receiver,
                        "service_type": service_type,
                        "risk_level": risk,
                        "reason": "bench",
                        "worker_role": rng.choice(WORKER_ROLES),
                        "consent": {},
                        "status": status,
                        "status_reason": rng.choice(STATUS_REASONS)
                        if status in ("rejected", "failed")
                        else None,
                        "created_at": created,
                        "updated_at": t,
                        "ack_due_at": created + timedelta(hours=ACK_HOURS[risk]),
                        "start_due_at": created + timedelta(days=7)
                        if service_type
                        in ("social_rehabilitation", "repatriation", "reintegration")
                        else None,
                        "acknowledged_at": moments.get("ack"),
                        "decided_at": moments.get("decide"),
                        "started_at": moments.get("start"),
                        "completed_at": moments.get("complete"),
                        "version": 1 + len(milestones),
                    }
                )
            session.execute(insert(Case), cases)
            session.execute(insert(Referral), referrals)
            # What sending records (ReferralRegion): both parties' home regions.
            region_of = {org["id"]: org["region_code"] for org in orgs}
            session.execute(
                insert(ReferralRegion),
                [
                    {"referral_id": r["id"], "region_code": code}
                    for r in referrals
                    for code in {
                        region_of[r["from_organization_id"]],
                        region_of[r["to_organization_id"]],
                    }
                ],
            )
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    engine.dispose()
    del token
    return admin_token


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referrals", type=int, default=100_000)
    parser.add_argument("--database-url", default="sqlite:///instance/bench-reports.sqlite3")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", dest="json_path")
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args(argv)

    url, drop = fresh_database(args.database_url, "reports")
    timings: dict[str, list[float]] = {}
    groups: dict[str, int] = {}
    try:
        started = time.perf_counter()
        token = load(url, args.referrals, random.Random(args.seed))
        load_s = time.perf_counter() - started
        app = create_app(Config(database_url=url, secret_key=DEMO_SECRET_KEY, log_level="WARNING"))
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        for group_by in ("service_type", "organization"):
            # Suppressed (the default) and suppress=false, alternating: suppression's cost.
            for mode in ("", "&suppress=false"):
                timings[group_by + mode] = []
            for _ in range(args.repeat):
                for mode in ("", "&suppress=false"):
                    t = time.perf_counter()
                    response = client.get(
                        f"/api/v1/reports/referrals?group_by={group_by}{mode}", headers=headers
                    )
                    timings[group_by + mode].append(time.perf_counter() - t)
                    assert response.status_code == 200, response.get_json()
            body = response.get_json()
            groups[group_by] = len(body["groups"])
            total = sum(g["total"] + g["entered_in_error"] for g in body["groups"])
            assert total == args.referrals, (total, args.referrals)
        app.extensions["referral_api.db"].engine.dispose()
    finally:
        drop()

    result = {
        "benchmark": "reports",
        "database": url.split(":", 1)[0].split("+")[0],
        "referrals": args.referrals,
        "load_s": round(load_s, 1),
        "report": {
            group_by: {
                "groups": groups[group_by],
                "median_s": round(statistics.median(timings[group_by]), 3),
                "max_s": round(max(timings[group_by]), 3),
                "unsuppressed_median_s": round(
                    statistics.median(timings[group_by + "&suppress=false"]), 3
                ),
                "suppression_cost": round(
                    statistics.median(timings[group_by])
                    / statistics.median(timings[group_by + "&suppress=false"]),
                    2,
                ),
                "runs": len(timings[group_by]),
            }
            for group_by in groups
        },
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    print(json.dumps(result, indent=2))
    write_json(args.json_path, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
