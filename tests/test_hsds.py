"""The Open Referral HSDS 3.1 feed: conformance on the demo directory, confidentiality,
the list parameters and the profile."""

from __future__ import annotations

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
from referral_api.models import Location
from referral_api.services.hsds import conformance, mapping

from .conftest import config_for

requires_hsds = pytest.mark.skipif(
    not (DEFAULT_HSDS_DIR / "compiled" / "service.json").is_file(),
    reason=f"the official HSDS 3.1 schemas are not at {DEFAULT_HSDS_DIR} (REFERRAL_API_HSDS_DIR)",
)
BASE = "http://hsds.test/api/hsds"


@pytest.fixture(scope="module")
def demo_url(fresh_databases) -> str:
    url = fresh_databases.new()
    migrate.upgrade(url)
    result = CliRunner().invoke(main, ["seed", "--demo"], env={"DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    return url


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
            for service in site.organization and _services_at(session, site) or []:
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
    from referral_api.models import Service, service_locations

    return list(
        session.scalars(
            select(Service).join(service_locations).where(service_locations.c.location_id == site.id)
        )
    )
