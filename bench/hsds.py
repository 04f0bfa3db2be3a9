"""Benchmark HSDS export and import of a large directory, small and large side by side.

    python bench/hsds.py --services 1000 10000 \
        --database-url sqlite:///bench/hsds.sqlite3 --json bench/results/hsds-sqlite.json

The package is the demo directory's export, copied with fresh ids until it holds the
number of services asked for (organizations, sites, addresses, phones and every per-
service table copied with it). For each size, in one run: `hsds import` into an empty
database (through the directory services, all or nothing), the same import again (which
changes nothing), and `hsds export`, and the frictionless check of the export. The
figures are per service and as ratios: large/small (how it scales) and re-import/import.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from common import fresh_database  # bench/ is the script's directory
from sqlalchemy.orm import Session

from referral_api import migrate
from referral_api.config import DEFAULT_HSDS_DIR
from referral_api.db import make_engine
from referral_api.schemas.hsds import check_import
from referral_api.services import seeding
from referral_api.services.actors import Actor
from referral_api.services.hsds import export, loading, package

SHARED = {"taxonomies.csv", "taxonomy_terms.csv", "units.csv", "datapackage.json"}
COPIED_IDS = ("id", "organization_id", "location_id", "service_id", "link_id")


def demo_export(folder: Path, base_url: str) -> None:
    url, drop = fresh_database(base_url, "hsds-demo")
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        seeding.seed(session, demo=True)
    with Session(engine) as session:
        export.export(session, path=folder, hsds_dir=DEFAULT_HSDS_DIR)
    engine.dispose()
    drop()


def grow(template: Path, target: Path, services: int) -> int:
    """Copy the template package with fresh ids until it has `services` services."""
    target.mkdir(parents=True)
    per_copy = sum(1 for _ in (template / "services.csv").open()) - 1
    copies = -(-services // per_copy)
    for path in template.iterdir():
        if path.name in SHARED:
            shutil.copy(path, target / path.name)
            continue
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
            fields = list(rows[0]) if rows else next(csv.reader(path.open()))
        with (target / path.name).open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
            writer.writeheader()
            for copy in range(copies):
                for row in rows:
                    writer.writerow({k: _copied(k, v, copy) for k, v in row.items()})
    return copies * per_copy


def _copied(column: str, value: str, copy: int) -> str:
    if column not in COPIED_IDS or not value or copy == 0:
        return value
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{copy}:{value}"))


def measure(folder: Path, base_url: str, label: str) -> dict[str, float]:
    url, drop = fresh_database(base_url, label)
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        seeding.seed(session)
    timings: dict[str, float] = {}
    for step in ("import", "reimport"):
        started = time.perf_counter()
        with Session(engine) as session, session.begin():
            report = loading.import_package(
                session,
                actor=Actor.system(),
                package=package.read(folder),
                check=check_import,
                source="bench",
            )
        timings[step] = time.perf_counter() - started
        assert report.changed == (step == "import")
    with tempfile.TemporaryDirectory() as out, Session(engine) as session:
        started = time.perf_counter()
        export.export(session, path=Path(out) / "p", hsds_dir=DEFAULT_HSDS_DIR)
        timings["export"] = time.perf_counter() - started
        started = time.perf_counter()
        problems = export.check_package(Path(out) / "p")
        timings["frictionless"] = time.perf_counter() - started
        assert problems == [], problems[:5]
    engine.dispose()
    drop()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, nargs=2, default=[1000, 10000])
    parser.add_argument("--database-url", default="sqlite:///bench/hsds.sqlite3")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "demo"
        demo_export(template, args.database_url)
        for wanted in args.services:
            folder = Path(tmp) / f"n{wanted}"
            n = grow(template, folder, wanted)
            timings = measure(folder, args.database_url, f"hsds-{wanted}")
            results[n] = {
                **{k: round(v, 2) for k, v in timings.items()},
                **{f"{k}_ms_per_service": round(1000 * v / n, 2) for k, v in timings.items()},
            }
            print(n, "services:", results[n], flush=True)
    small, large = (results[n] for n in sorted(results))
    ratios = {
        "large_over_small_per_service": {
            k: round(large[f"{k}_ms_per_service"] / small[f"{k}_ms_per_service"], 2)
            for k in ("import", "reimport", "export", "frictionless")
        },
        "reimport_over_import": {
            str(n): round(r["reimport"] / r["import"], 2) for n, r in results.items()
        },
    }
    print(json.dumps(ratios, indent=2))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "database": args.database_url.split(":")[0],
                    "machine": platform.platform(),
                    "results": results,
                    "ratios": ratios,
                },
                indent=2,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
