"""The seed: reference data and the demo directory, on a database of its own."""

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from referral_api.cli import main
from referral_api.db import make_engine
from referral_api.models import (
    AuditEvent,
    Location,
    Organization,
    Service,
    ServiceTypeAssignment,
)
from referral_api.services import audit
from referral_api.vocabularies import SERVICE_TYPE_CODES

PROVINCES = {
    "53": "NTT",
    "52": "NTB",
    "61": "Kalimantan Barat",
    "21": "Kepulauan Riau",
    "32": "Jawa Barat",
    "35": "Jawa Timur",
    "33": "Jawa Tengah",
    "31": "DKI Jakarta",
    "12": "Sumatera Utara",
    "71": "Sulawesi Utara",
}


@pytest.fixture
def demo_session(demo_url):
    engine = make_engine(demo_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


def count(session, stmt) -> int:
    return session.scalar(select(func.count()).select_from(stmt.subquery()))


def test_second_seed_changes_nothing(demo_url, demo_session) -> None:
    events_before = count(demo_session, select(AuditEvent))
    result = CliRunner().invoke(main, ["seed", "--demo"], env={"DATABASE_URL": demo_url})
    assert result.exit_code == 0
    assert "nothing to do" in result.output
    demo_session.expire_all()
    assert count(demo_session, select(AuditEvent)) == events_before


def test_demo_directory_size_and_spread(demo_session) -> None:
    s = demo_session
    assert count(s, select(Organization)) >= 80
    assert count(s, select(Service)) >= 150
    provinces = set(
        s.scalars(
            select(func.substr(Location.region_code, 1, 2)).where(Location.region_code.is_not(None))
        )
    )
    assert len(provinces) >= 10
    assert set(PROVINCES) <= provinces
    offered = set(s.scalars(select(ServiceTypeAssignment.service_type).distinct()))
    assert offered == SERVICE_TYPE_CODES
    assert count(s, select(Location).where(Location.confidential.is_(True))) >= 10
    abroad = s.scalars(select(Location).where(Location.country != "ID")).all()
    assert {loc.country for loc in abroad} >= {"MY", "KH"}
    assert all(loc.region_code is None for loc in abroad)
    assert len(abroad) >= 3


def test_every_demo_record_is_marked(demo_session) -> None:
    s = demo_session
    for model in (Organization, Location, Service):
        assert count(s, select(model).where(model.demo.is_(False))) == 0
    descriptions = s.scalars(select(Organization.description)).all()
    assert all(d.startswith("[DEMO DATA") for d in descriptions)


@pytest.mark.parametrize(
    "needle",
    [
        "Kementerian Pemberdayaan Perempuan",
        "Kementerian Sosial",
        "LPSK",
        "BP3MI",
        "PPA-PPO",
        "IOM",
        "RS Bhayangkara",
        "LBH APIK",
        "UPTD PPA",
        "Puskesmas",
        "KBRI Kuala Lumpur",
        "KJRI Johor Bahru",
        "KBRI Phnom Penh",
    ],
)
def test_national_bodies_and_networks_are_present(demo_session, needle) -> None:
    names = demo_session.scalars(select(Organization.name)).all()
    aliases = demo_session.scalars(select(Organization.aliases)).all()
    text = json.dumps([names, aliases], ensure_ascii=False)
    assert needle.lower() in text.lower()


def test_hotlines_of_national_bodies(demo_session) -> None:
    hotlines = {
        name: hl
        for name, hl in demo_session.execute(select(Organization.name, Organization.hotlines))
    }
    assert any("129" in hl for name, hl in hotlines.items() if "Perempuan" in name)
    assert any("148" in hl for name, hl in hotlines.items() if "Saksi" in name)


def test_demo_seed_is_audited_and_chain_intact(demo_session) -> None:
    verdict = audit.verify(demo_session)
    assert verdict.ok
    actions = set(demo_session.scalars(select(AuditEvent.action).distinct()))
    assert {"seed.reference", "organization.create", "location.create", "service.create"} <= actions


def test_seed_backfills_an_empty_search_index(demo_url, demo_session) -> None:
    from sqlalchemy import delete

    from referral_api.models import SearchEntry

    before = count(demo_session, select(SearchEntry))
    assert before >= 150
    demo_session.execute(delete(SearchEntry))
    demo_session.commit()
    result = CliRunner().invoke(main, ["seed"], env={"DATABASE_URL": demo_url})
    assert result.exit_code == 0
    assert f"created {before} search entries" in result.output
    assert count(demo_session, select(SearchEntry)) == before
