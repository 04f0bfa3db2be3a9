"""Benchmark nearest-service search through the whole Flask stack against a naive scan.

    python bench/nearest.py --sizes 10000,100000 --queries 500 \
        --database-url sqlite:///instance/bench.sqlite3 --json bench/results/nearest-sqlite.json

For each size it builds a synthetic directory in a database of its own (a SQLite file
next to the one named, or a new PostgreSQL database on the server named, dropped
afterwards), clustered around regency centroids, then runs the same random queries
(a) as HTTP requests through the Flask test client, (b) as a naive full scan
computing a geopy geodesic distance to every location (first 10 queries only: it takes
seconds per query at 100k) and, with --postgis-url, (c) as raw PostGIS KNN on the same
points (those the caller sees, with their type masks) in a database of its own on that
server: `ORDER BY geog <-> point LIMIT k` on a GiST index, exact ST_Distance in the
answer, through psycopg with no web stack (the baseline DESIGN.md "Performance" names).
Two more timings split the API's time: the stack's floor (`GET /api/v1/me`, authenticated
and searching nothing, through the same test client) and the search service alone
(`search.nearest` called in-process as the resource calls it, without HTTP or JSON).

    python bench/nearest.py --sizes 10000,100000,1000000 --queries 500 \
        --postgis-url postgresql://postgres@127.0.0.1:5432/postgres \
        --json bench/results/nearest-density-sqlite.json

PostGIS: `apt-get install -y postgresql-15-postgis-3` (Debian's package) on the server.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import statistics
import sys
import time
import uuid
from typing import Any

from common import fresh_database, percentile, write_json  # bench/ is the script's directory
from geopy.distance import geodesic
from sqlalchemy import insert, make_url, select, text
from sqlalchemy.orm import Session

from referral_api import create_app, migrate
from referral_api.config import DEMO_SECRET_KEY, Config
from referral_api.db import make_engine
from referral_api.models import (
    Location,
    Organization,
    Region,
    Service,
    ServiceCoverage,
    ServiceTypeAssignment,
    service_locations,
)
from referral_api.models.base import utcnow
from referral_api.services import principals, search, search_index, seeding
from referral_api.services.actors import Actor
from referral_api.vocabularies import SERVICE_TYPE_CODES

NAIVE_QUERIES = 10
SERVICE_TYPES = sorted(SERVICE_TYPE_CODES)


def build_directory(url: str, size: int, rng: random.Random) -> list[tuple[float, float]]:
    """Migrate, seed the regions, then bulk-load `size` locations with one service each."""
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        seeding.seed(session)
        centroids = [
            (r.code, r.latitude, r.longitude)
            for r in session.scalars(
                select(Region).where(Region.level == "regency", Region.latitude.is_not(None))
            )
        ]
        now = utcnow()
        orgs = [
            {
                "id": uuid.uuid4(),
                "name": f"Bench org {i}",
                "type": "ngo",
                "region_code": rng.choice(centroids)[0],
                "aliases": [],
                "phones": [],
                "hotlines": [],
                "languages": ["id"],
                "status": "active",
                "demo": True,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(max(1, size // 5))
        ]
        session.execute(insert(Organization), orgs)
        for start in range(0, size, 5000):
            batch = range(start, min(size, start + 5000))
            locations, services, links, types, coverage = [], [], [], [], []
            for i in batch:
                code, clat, clng = rng.choice(centroids)
                lat, lng = clat + rng.gauss(0, 0.12), clng + rng.gauss(0, 0.12)
                confidential = rng.random() < 0.05
                org = orgs[i % len(orgs)]["id"]
                location_id, service_id = uuid.uuid4(), uuid.uuid4()
                locations.append(
                    {
                        "id": location_id,
                        "organization_id": org,
                        "name": f"Site {i}",
                        "address": f"Jl. Uji No. {i}",
                        "region_code": code,
                        "country": "ID",
                        "latitude": lat,
                        "longitude": lng,
                        "masked_latitude": clat if confidential else lat,
                        "masked_longitude": clng if confidential else lng,
                        "confidential": confidential,
                        "status": "active",
                        "demo": True,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                age_min = rng.choice([None, None, 0, 6, 18])
                services.append(
                    {
                        "id": service_id,
                        "organization_id": org,
                        "name": f"Service {i}",
                        "age_min": age_min,
                        "age_max": rng.choice([None, 17]) if age_min != 18 else None,
                        "genders": rng.choice([[], [], ["female"]]),
                        "languages": ["id"],
                        "fees": "free",
                        "status": "active",
                        "demo": True,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                links.append({"service_id": service_id, "location_id": location_id})
                for service_type in rng.sample(SERVICE_TYPES, rng.randint(1, 3)):
                    types.append({"service_id": service_id, "service_type": service_type})
                coverage.append({"service_id": service_id, "region_code": code[:2]})
            session.execute(insert(Location), locations)
            session.execute(insert(Service), services)
            session.execute(insert(service_locations), links)
            session.execute(insert(ServiceTypeAssignment), types)
            session.execute(insert(ServiceCoverage), coverage)
        search_index.rebuild(session)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return [(lat, lng) for _, lat, lng in centroids]


def make_queries(centroids: list[tuple[float, float]], n: int, rng: random.Random) -> list[dict]:
    queries = []
    for _ in range(n):
        lat, lng = rng.choice(centroids)
        query: dict[str, Any] = {
            "lat": round(lat + rng.uniform(-0.3, 0.3), 5),
            "lng": round(lng + rng.uniform(-0.3, 0.3), 5),
            "limit": 10,
        }
        if rng.random() < 0.5:
            query["service_type"] = rng.choice(SERVICE_TYPES)
        queries.append(query)
    return queries


def caseworker(url: str) -> tuple[str, Actor]:
    """A caseworker of one of the organizations: their token, and the same caller as the
    services see them."""
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        org_id = session.scalars(select(Organization.id).limit(1)).one()
        principal, token = principals.create_token(
            session, actor=Actor.system(), role="caseworker", name="bench", organization_id=org_id
        )
        actor = Actor(principal_id=principal.id, organization_id=org_id, role="caseworker")
    engine.dispose()
    return token, actor


def run_api(url: str, queries: list[dict], token: str) -> tuple[list[float], list[list]]:
    app = create_app(Config(database_url=url, secret_key=DEMO_SECRET_KEY, log_level="WARNING"))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for query in queries[:20]:  # warm-up: connections, caches
        client.get("/api/v1/services/nearest", query_string=query, headers=headers)
    times, answers = [], []
    for query in queries:
        started = time.perf_counter()
        response = client.get("/api/v1/services/nearest", query_string=query, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.get_json()
        answers.append(
            [(i["location"]["id"], i["service"]["id"]) for i in response.get_json()["items"]]
        )
    return times, answers


def run_floor(url: str, queries: list[dict], token: str) -> list[float]:
    """The stack's floor: `GET /api/v1/me` (authenticated, nothing searched) through the
    same Flask test client, once per query."""
    app = create_app(Config(database_url=url, secret_key=DEMO_SECRET_KEY, log_level="WARNING"))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for _ in queries[:20]:
        client.get("/api/v1/me", headers=headers)
    times = []
    for _ in queries:
        started = time.perf_counter()
        response = client.get("/api/v1/me", headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return times


def run_service(url: str, queries: list[dict], actor: Actor) -> tuple[list[float], list[list]]:
    """`search.nearest` called in-process for the same caseworker, as the resource calls
    it, without HTTP, authentication or serialization: the search's own share of the
    API's time."""
    engine = make_engine(url)
    now = utcnow()
    times, answers = [], []
    with Session(engine) as session:
        for n, query in enumerate([*queries[:20], *queries]):  # the first 20 warm up
            started = time.perf_counter()
            result = search.nearest(
                session,
                actor=actor,
                origin=search.origin_from(session, lat=query["lat"], lng=query["lng"], region=None),
                filters=search.Filters(
                    service_types=[query["service_type"]] if "service_type" in query else []
                ),
                limit=query["limit"],
                radius_km=None,
                at=now,
                stale_before=now,
            )
            if n >= 20:
                times.append((time.perf_counter() - started) * 1000)
                answers.append([(str(i.location.id), str(i.service.id)) for i in result.items])
            session.rollback()
    engine.dispose()
    return times, answers


def run_naive(url: str, queries: list[dict], org_id: Any) -> tuple[list[float], list[list]]:
    """Fetch every matching service-at-location and compute geopy geodesic to each."""
    engine = make_engine(url)
    times, answers = [], []
    with Session(engine) as session:
        for query in queries:
            started = time.perf_counter()
            stmt = (
                select(
                    Location.id,
                    Service.id,
                    Location.latitude,
                    Location.longitude,
                    Location.masked_latitude,
                    Location.masked_longitude,
                    Location.confidential,
                    Location.organization_id,
                )
                .join(service_locations, service_locations.c.location_id == Location.id)
                .join(Service, Service.id == service_locations.c.service_id)
            )
            if "service_type" in query:
                stmt = stmt.join(
                    ServiceTypeAssignment, ServiceTypeAssignment.service_id == Service.id
                ).where(ServiceTypeAssignment.service_type == query["service_type"])
            origin = (query["lat"], query["lng"])
            scored = []
            for loc, svc, lat, lng, mlat, mlng, confidential, owner in session.execute(stmt):
                point = (mlat, mlng) if confidential and owner != org_id else (lat, lng)
                scored.append((geodesic(origin, point).km, str(loc), str(svc)))
            scored.sort()
            times.append((time.perf_counter() - started) * 1000)
            answers.append([(loc, svc) for _, loc, svc in scored[: query["limit"]]])
    engine.dispose()
    return times, answers


KNN = """
SELECT location_id, service_id, ST_Distance(geog, q.point) AS metres
  FROM points, (SELECT ST_SetSRID(ST_MakePoint(%(lng)s, %(lat)s), 4326)::geography AS point) q
 WHERE %(mask)s = 0 OR type_mask & %(mask)s <> 0
 ORDER BY geog <-> q.point
 LIMIT %(limit)s
"""


def visible_points(url: str, org_id: Any) -> list[tuple[str, str, float, float, int]]:
    """Every search entry as another organization's caseworker sees it (a confidential
    site at its regency's centroid; its own at the real site)."""
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT location_id, service_id, confidential, organization_id, latitude, "
                "longitude, masked_latitude, masked_longitude, type_mask FROM search_entries"
            )
        ).all()
    engine.dispose()
    own = str(org_id).replace("-", "")
    points = []
    for loc, svc, confidential, owner, lat, lng, mlat, mlng, mask in rows:
        real = not confidential or str(owner).replace("-", "") == own
        points.append((str(loc), str(svc), lat if real else mlat, lng if real else mlng, mask))
    return points


def run_postgis(
    server_url: str, size: int, points: list, queries: list[dict]
) -> tuple[list[float], float]:
    """Load the points into PostGIS (GiST on geography) and time raw KNN for each query."""
    import psycopg

    url, drop = fresh_database(server_url, f"postgis{size}")
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            started = time.perf_counter()
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            conn.execute(
                "CREATE TABLE points (location_id uuid, service_id uuid, latitude float8, "
                "longitude float8, type_mask bigint, geog geography(Point, 4326))"
            )
            with conn.cursor().copy(
                "COPY points (location_id, service_id, latitude, longitude, type_mask) FROM STDIN"
            ) as copy:
                for point in points:
                    copy.write_row(point)
            conn.execute(
                "UPDATE points SET geog = ST_SetSRID(ST_MakePoint(longitude, latitude), 4326)"
            )
            conn.execute("CREATE INDEX points_geog ON points USING gist (geog)")
            conn.execute("VACUUM ANALYZE points")
            load_s = time.perf_counter() - started

            def params(query: dict) -> dict:
                types = [query["service_type"]] if "service_type" in query else []
                mask = search_index.type_mask(types)
                return {**query, "mask": mask}

            for query in queries[:20]:  # warm-up, as for the API
                conn.execute(KNN, params(query)).fetchall()
            times = []
            for query in queries:
                started = time.perf_counter()
                conn.execute(KNN, params(query)).fetchall()
                times.append((time.perf_counter() - started) * 1000)
    finally:
        drop()
    return times, load_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--database-url", default="sqlite:///instance/bench-nearest.sqlite3")
    parser.add_argument("--json", dest="json_path", help="write the results here")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument(
        "--postgis-url", help="a PostgreSQL server with PostGIS: the raw KNN baseline"
    )
    args = parser.parse_args(argv)

    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        rng = random.Random(args.seed + size)
        url, drop = fresh_database(args.database_url, str(size))
        try:
            started = time.perf_counter()
            centroids = build_directory(url, size, rng)
            build_s = time.perf_counter() - started
            queries = make_queries(centroids, args.queries, rng)
            token, actor = caseworker(url)
            org_id = actor.organization_id
            api_ms, api_answers = run_api(url, queries, token)
            floor_ms = run_floor(url, queries, token)
            service_ms, service_answers = run_service(url, queries, actor)
            naive_ms, naive_answers = run_naive(url, queries[:NAIVE_QUERIES], org_id)
            if args.postgis_url:
                points = visible_points(url, org_id)
                postgis_ms, postgis_load_s = run_postgis(args.postgis_url, size, points, queries)
                del points
        finally:
            drop()
        agree = all(a == b for a, b in zip(api_answers, naive_answers, strict=False))
        assert service_answers == api_answers, "the service timed is not the API's search"
        p50 = statistics.median(api_ms)
        naive_p50 = statistics.median(naive_ms)
        result = {
            "size": size,
            "database": make_url(url).get_backend_name(),
            "queries": len(queries),
            "p50_ms": round(p50, 2),
            "p95_ms": round(percentile(api_ms, 95), 2),
            "p99_ms": round(percentile(api_ms, 99), 2),
            "floor_p95_ms": round(percentile(floor_ms, 95), 2),
            "service_p50_ms": round(statistics.median(service_ms), 2),
            "service_p95_ms": round(percentile(service_ms, 95), 2),
            "naive_queries": len(naive_ms),
            "naive_p50_ms": round(naive_p50, 1),
            "naive_p95_ms": round(percentile(naive_ms, 95), 1),
            "speedup": round(naive_p50 / p50, 1),
            "naive_results_agree": agree,
            "build_s": round(build_s, 1),
        }
        if args.postgis_url:
            postgis_p95 = percentile(postgis_ms, 95)
            result.update(
                postgis_p50_ms=round(statistics.median(postgis_ms), 2),
                postgis_p95_ms=round(postgis_p95, 2),
                p95_vs_postgis=round(result["p95_ms"] / postgis_p95, 2),
                service_p95_vs_postgis=round(result["service_p95_ms"] / postgis_p95, 2),
                postgis_load_s=round(postgis_load_s, 1),
            )
        results.append(result)
        print(json.dumps(result), flush=True)
    for before, after in itertools.pairwise(results):
        for name in ("p95_ms", "service_p95_ms"):
            growth = after[name] / before[name]
            print(f"{name} growth {before['size']} -> {after['size']}: {growth:.2f}x")
    report = {
        "benchmark": "nearest",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "results": results,
    }
    write_json(args.json_path, report)
    return 0 if all(r["naive_results_agree"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
