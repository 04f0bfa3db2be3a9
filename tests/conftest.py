"""Fixtures: a real database per run (SQLite file, or PostgreSQL from TEST_DATABASE_URL),
each test in a transaction rolled back afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from referral_api import create_app, migrate
from referral_api.config import DEMO_SECRET_KEY, Config
from referral_api.db import Database, make_engine
from referral_api.models import Organization, Principal
from referral_api.services import principals, seeding
from referral_api.services.actors import Actor

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")

requires_postgres = pytest.mark.skipif(
    not ON_POSTGRES, reason="needs PostgreSQL: set TEST_DATABASE_URL=postgresql+psycopg://..."
)


def config_for(url: str) -> Config:
    return Config(database_url=url, secret_key=DEMO_SECRET_KEY, log_level="WARNING")


class FreshDatabases:
    """Creates empty databases of the run's kind and drops them afterwards."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.created: list[str] = []

    def new(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        if not ON_POSTGRES:
            return f"sqlite:///{self.tmp / (name + '.sqlite3')}"
        base = make_url(TEST_DATABASE_URL)
        admin = make_engine(
            base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        self.created.append(name)
        return base.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if not self.created:
            return
        base = make_url(TEST_DATABASE_URL)
        admin = make_engine(
            base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def fresh_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreshDatabases]:
    fresh = FreshDatabases(tmp_path_factory.mktemp("fresh"))
    yield fresh
    fresh.drop_all()


@pytest.fixture(scope="session")
def database_url(fresh_databases: FreshDatabases) -> str:
    """One migrated database for the run (every test rolls its changes back):
    TEST_DATABASE_URL itself on PostgreSQL, a new SQLite file otherwise."""
    url = TEST_DATABASE_URL if ON_POSTGRES else fresh_databases.new()
    migrate.upgrade(url)
    seed_reference(url)
    return url


def seed_reference(url: str) -> None:
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        seeding.seed(session)
    engine.dispose()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        outer = conn.begin()
        if ON_POSTGRES:
            # Audit events are chained at COMMIT, and this transaction never commits:
            # chain them as they are queued instead (when the test's session commits).
            conn.execute(text("SET CONSTRAINTS audit_queue_append IMMEDIATE"))
        yield conn
        outer.rollback()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    """A session inside the test's transaction; its commits become savepoints."""
    with Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    ) as session:
        yield session


@pytest.fixture
def app(database_url: str, connection: Connection) -> Iterator[Flask]:
    app = create_app(config_for(database_url))
    bound = app.extensions[Database.key]
    bound.engine.dispose()
    bound.session_factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass
class Caller:
    """A principal with its token, for API tests."""

    principal: Principal
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def make_organization(session: Session) -> Callable[..., Organization]:
    def make(**fields: Any) -> Organization:
        fields.setdefault("name", f"Organisasi Uji {uuid.uuid4().hex[:6]}")
        fields.setdefault("type", "ngo")
        fields.setdefault("region_code", "53.71")
        organization = Organization(**fields)
        session.add(organization)
        session.flush()
        return organization

    return make


@pytest.fixture
def make_caller(
    session: Session, make_organization: Callable[..., Organization]
) -> Callable[..., Caller]:
    def make(
        role: str = "caseworker",
        *,
        organization: Organization | None = None,
        coverage_code: str | None = None,
        **options: Any,
    ) -> Caller:
        if organization is None and role in ("caseworker", "org_admin"):
            organization = make_organization()
        if role == "coordinator" and coverage_code is None:
            coverage_code = "ID"
        principal, token = principals.create_token(
            session,
            actor=Actor.system(),
            role=role,
            name=f"{role} under test",
            organization_id=organization.id if organization else None,
            coverage_code=coverage_code,
            **options,
        )
        return Caller(principal, token)

    return make


@pytest.fixture
def directory_entry(session: Session) -> Callable[..., dict[str, Any]]:
    """Create an organization with one location and one service through the services."""
    from referral_api.services import directory

    def make(
        *,
        region_code: str = "53.71",
        latitude: float = -10.1772,
        longitude: float = 123.6070,
        confidential: bool = False,
        service_types: tuple[str, ...] = ("temporary_shelter",),
        org_type: str = "shelter",
        org_region_code: str | None = None,
        address: str = "Jl. Melati No. 7, Oebobo",
        **service_fields: Any,
    ) -> dict[str, Any]:
        actor = Actor.system()
        organization = directory.create_organization(
            session,
            actor=actor,
            data={
                "name": f"Rumah Aman Uji {uuid.uuid4().hex[:6]}",
                "type": org_type,
                "level": "regency",
                "region_code": org_region_code or region_code,
            },
        )
        location = directory.create_location(
            session,
            actor=actor,
            data={
                "organization_id": organization.id,
                "name": "Rumah Aman Melati",
                "address": address,
                "region_code": region_code,
                "latitude": latitude,
                "longitude": longitude,
                "confidential": confidential,
            },
        )
        service = directory.create_service(
            session,
            actor=actor,
            data={
                "organization_id": organization.id,
                "name": "Penampungan sementara",
                "service_types": list(service_types),
                "location_ids": [location.id],
                **{"coverage": [region_code[:2]], **service_fields},
            },
        )
        return {"organization": organization, "location": location, "service": service}

    return make


@pytest.fixture(scope="module")
def demo_url(fresh_databases: FreshDatabases) -> str:
    """A fresh database with the demo directory, seeded through the CLI (one per module)."""
    url = fresh_databases.new()
    migrate.upgrade(url)
    from click.testing import CliRunner

    from referral_api.cli import main

    result = CliRunner().invoke(main, ["seed", "--demo"], env={"DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    return url


@pytest.fixture
def chain_url(fresh_databases: FreshDatabases) -> str:
    """A fresh database with a chain of 6 events (tokens created through the CLI)."""
    url = fresh_databases.new()
    migrate.upgrade(url)
    from click.testing import CliRunner

    from referral_api.cli import main

    runner = CliRunner()
    for n in range(6):
        result = runner.invoke(
            main,
            ["tokens", "create", "--role", "admin", "--name", f"admin {n}"],
            env={"DATABASE_URL": url},
        )
        assert result.exit_code == 0, result.output
    return url


def database_with_a_caseworker(
    fresh_databases: FreshDatabases, *, organization_type: str = "shelter"
) -> tuple[str, Engine, str]:
    """A migrated, seeded database of its own with one organization and a caseworker's
    token, for tests that need real concurrent connections: (url, engine, token)."""
    url = fresh_databases.new()
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        seeding.seed(session)
        organization = Organization(name="Uji", type=organization_type, region_code="31.71")
        session.add(organization)
        session.flush()
        _, token = principals.create_token(
            session,
            actor=Actor.system(),
            role="caseworker",
            name="caseworker under test",
            organization_id=organization.id,
        )
    return url, engine, token
