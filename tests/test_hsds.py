"""The Open Referral HSDS 3.1 feed: conformance on the demo directory, confidentiality,
the list parameters and the profile."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from referral_api import create_app, migrate
from referral_api.cli import main
from referral_api.config import DEFAULT_HSDS_DIR
from referral_api.db import make_engine
from referral_api.models import Location, Service, service_locations
from referral_api.services.hsds import conformance

from .conftest import config_for

requires_hsds = pytest.mark.skipif(
    not (DEFAULT_HSDS_DIR / "compiled" / "service.json").is_file(),
    reason=f"the official HSDS 3.1 schemas are not at {DEFAULT_HSDS_DIR} (REFERRAL_API_HSDS_DIR)",
)
BASE = "http://hsds.test/api/hsds"


@pytest.fixture(scope="module")
def demo_app(demo_url) -> Iterator[Flask]:
    yield create_app(config_for(demo_url))


@pytest.fixture(scope="module")
def feed(demo_app) -> Iterator[httpx.Client]:
    """The demo directory's feed, over WSGI through the whole application."""
    with httpx.Client(transport=httpx.WSGITransport(app=demo_app)) as client:
        yield client


@pytest.fixture(scope="module")
def confidential(demo_url) -> dict[str, Any]:
    """The demo directory's confidential sites: ids, names, addresses, coordinates."""
    engine = make_engine(demo_url)
    with Session(engine) as session:
        sites = session.scalars(select(Location).where(Location.confidential.is_(True))).all()
        secrets = {
            "ids": {str(s.id) for s in sites},
            "texts": {t for s in sites for t in (s.name, s.address) if t},
            "points": {(s.latitude, s.longitude) for s in sites if s.latitude is not None},
        }
    engine.dispose()
    assert secrets["ids"], "the demo directory should have confidential sites to hide"
    return secrets


def get(feed: httpx.Client, path: str, **params: Any) -> Any:
    response = feed.get(BASE + path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


@requires_hsds
def test_demo_feed_conforms_to_hsds_31_and_the_profile(feed) -> None:
    report = conformance.check_feed(feed, BASE, hsds_dir=DEFAULT_HSDS_DIR)
    assert report.findings == []
    assert report.objects > 50
    assert report.skipped == []


def every_body(feed: httpx.Client) -> Iterator[str]:
    for endpoint in ("services", "organizations", "service_at_locations"):
        first = get(feed, f"/{endpoint}", per_page=100, full="true")
        for number in range(1, first["total_pages"] + 1):
            page = get(feed, f"/{endpoint}", per_page=100, full="true", page=number)
            yield json.dumps(page, ensure_ascii=False)
            for item in page["contents"]:
                yield json.dumps(get(feed, f"/{endpoint}/{item['id']}"), ensure_ascii=False)
        yield feed.get(f"{BASE}/{endpoint}", params={"format": "ndjson", "full": "true"}).text


def test_no_response_names_a_confidential_site(feed, confidential) -> None:
    bodies = list(every_body(feed))
    assert len(bodies) > 30
    for body in bodies:
        for secret in confidential["ids"] | confidential["texts"]:
            assert secret not in body
        for lat, lng in confidential["points"]:
            assert json.dumps(lat) not in body or json.dumps(lng) not in body


def test_a_service_only_at_a_safe_house_shows_its_regency_as_area(feed, demo_url) -> None:
    engine = make_engine(demo_url)
    with Session(engine) as session:
        hidden = [
            s
            for s in session.scalars(select(Location).where(Location.confidential.is_(True)))
            if s.status == "active"
        ]
        only_hidden = []
        for site in hidden:
            for service in (site.organization and _services_at(session, site)) or []:
                if all(loc.confidential for loc in service.locations):
                    only_hidden.append((service.id, site.region_code))
    engine.dispose()
    assert only_hidden, "the demo directory should have a service given only at a safe house"
    for service_id, region in only_hidden:
        body = get(feed, f"/services/{service_id}")
        assert body["service_at_locations"] == []
        areas = [a["region_code"] for a in body["service_areas"]]
        regency = ".".join(region.split(".")[:2])
        assert any(regency == a or regency.startswith(a + ".") or a == "ID" for a in areas)


def _services_at(session: Session, site: Location) -> list[Any]:
    return list(
        session.scalars(
            select(Service)
            .join(service_locations)
            .where(service_locations.c.location_id == site.id)
        )
    )


class FeedServer:
    """A small HSDS feed on loopback serving fixed bodies (path -> JSON)."""

    def __init__(self, bodies: dict[str, Any]) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                body = bodies.get(path)
                payload = json.dumps(body).encode()
                self.send_response(404 if body is None else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    def __enter__(self) -> str:
        import threading

        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_port}/hsds"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


SERVICE_ID = "ac148810-d857-441c-9679-408f346de14b"


def broken_feed() -> dict[str, Any]:
    good = {"id": SERVICE_ID, "name": "Konseling", "status": "active"}
    page = {
        "total_items": 1,
        "total_pages": 1,
        "page_number": 1,
        "size": 1,
        "first_page": True,
        "last_page": True,
        "contents": [good],  # no `empty`: required since 3.1.1
    }
    item = {
        **good,
        "status": "open",  # not an HSDS status
        "last_modified": "yesterday",  # not a date-time
        "phones": [{"id": "p1", "number": "0812-3456"}],  # id not a UUID; not E.164
        "service_areas": [
            {"id": "b5a2a5b4-6ad4-4b8a-9a56-2d7c6d0c3f55", "name": "Kupang", "region_code": "53-71"}
        ],
    }
    return {
        "/hsds/": {"version": "3.1"},
        "/hsds/services": page,
        f"/hsds/services/{SERVICE_ID}": item,
    }


@requires_hsds
def test_validate_names_every_nonconformity_of_a_feed_elsewhere() -> None:
    with FeedServer(broken_feed()) as url:
        result = CliRunner().invoke(main, ["hsds", "validate", url])
        official = CliRunner().invoke(main, ["hsds", "validate", url, "--official-only"])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert any("[Page]" in line and "'empty' is a required property" in line for line in lines)
    assert any("[official service] $.status" in line for line in lines)
    assert any("[official service] $.last_modified" in line for line in lines)
    assert any("[official service] $.phones[0].id" in line for line in lines)
    assert any("[profile service] $.service_areas[0].region_code" in line for line in lines)
    assert any("[profile service] $.phones[0].number" in line for line in lines)
    # the optional endpoints the feed does not offer are named, not failed
    assert "not offered (optional)" in result.output and "/hsds/organizations" in result.output
    assert official.exit_code == 1
    assert "[profile service]" not in official.output


@requires_hsds
def test_validate_passes_a_conforming_feed_over_http(demo_app) -> None:
    # The demo feed over a real socket: served by werkzeug on loopback.
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, demo_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = CliRunner().invoke(
            main, ["hsds", "validate", f"http://127.0.0.1:{server.server_port}/api/hsds"]
        )
    finally:
        server.shutdown()
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("conforms")


@requires_hsds
def test_export_is_a_valid_data_package_without_confidential_sites(
    demo_url, tmp_path, confidential
) -> None:
    for target in (tmp_path / "package", tmp_path / "package.zip"):
        result = CliRunner().invoke(
            main, ["hsds", "export", str(target)], env={"DATABASE_URL": demo_url}
        )
        assert result.exit_code == 0, result.output
        assert "valid by frictionless" in result.output
    files = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "package").iterdir()}
    assert {"datapackage.json", "services.csv", "service_capacity.csv", "units.csv"} <= set(files)
    services = files["services.csv"].splitlines()
    assert len(services) == 1 + get_total(demo_url, "/services")
    for text in files.values():
        for secret in confidential["ids"] | confidential["texts"]:
            assert secret not in text


def get_total(demo_url: str, path: str) -> int:
    app = create_app(config_for(demo_url))
    with httpx.Client(transport=httpx.WSGITransport(app=app)) as client:
        return int(get(client, path)["total_items"])


@requires_hsds
def test_export_check_names_a_broken_package(demo_url, tmp_path) -> None:
    from referral_api.services.hsds import export

    target = tmp_path / "package"
    CliRunner().invoke(main, ["hsds", "export", str(target)], env={"DATABASE_URL": demo_url})
    services = target / "services.csv"
    lines = services.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace(lines[1].split(",")[1], "not-an-organization", 1)
    services.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = export.check_package(target)
    assert any(p.startswith("service: row 2:") for p in problems), problems


@requires_hsds
def test_round_trip_export_import_export_gives_the_same_files(
    demo_url, fresh_databases, tmp_path
) -> None:
    """Export the demo directory, import it into an empty database, export again: the
    same files, order-normalized, but for `last_modified` (when the copy was written)."""
    empty = fresh_databases.new()
    migrate.upgrade(empty)
    runner = CliRunner()
    assert runner.invoke(main, ["seed"], env={"DATABASE_URL": empty}).exit_code == 0
    first, second = tmp_path / "first", tmp_path / "second"
    runner.invoke(main, ["hsds", "export", str(first)], env={"DATABASE_URL": demo_url})
    loaded = runner.invoke(main, ["hsds", "import", str(first)], env={"DATABASE_URL": empty})
    assert loaded.exit_code == 0, loaded.output
    assert "created 288 service(s)" in loaded.output
    again = runner.invoke(main, ["hsds", "import", str(first)], env={"DATABASE_URL": empty})
    assert "nothing to do" in again.output
    runner.invoke(main, ["hsds", "export", str(second)], env={"DATABASE_URL": empty})
    for path in sorted(first.iterdir()):
        assert normalized(path) == normalized(second / path.name), path.name


def normalized(path: Path) -> Any:
    if path.suffix == ".json":
        return json.loads(path.read_text(encoding="utf-8"))
    with path.open(encoding="utf-8", newline="") as f:
        rows = [dict(row, last_modified=None) for row in csv.DictReader(f)]
    return sorted(rows, key=lambda row: json.dumps(row, sort_keys=True))
