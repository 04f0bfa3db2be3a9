"""A pooled PostgreSQL connection that dies: replaced before use when it has been idle,
a clear 503 to retry when it dies between two requests in quick succession."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import make_url, text

from referral_api import create_app, migrate
from referral_api.db import Database, make_engine

from .conftest import config_for, requires_postgres

pytestmark = requires_postgres
# The module, not the `db` object the package exports under the same name.
db_module = importlib.import_module("referral_api.db")


@pytest.fixture
def served(fresh_databases) -> Iterator[tuple[FlaskClient, str]]:
    url = fresh_databases.new()
    migrate.upgrade(url)
    app = create_app(config_for(url))
    yield app.test_client(), url
    app.extensions[Database.key].engine.dispose()


def _kill_backends(url: str) -> int:
    """Terminate every other session on the database (as a restart would)."""
    name = make_url(url).database
    admin = make_engine(url)
    with admin.connect() as conn:
        killed = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        ).scalar_one()
    admin.dispose()
    return int(killed)


def test_an_idle_connection_that_died_is_replaced_before_use(served, monkeypatch) -> None:
    client, url = served
    assert client.get("/api/v1/organizations").status_code == 200
    assert _kill_backends(url) >= 1
    # Every pooled connection now counts as idle.
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", 0.0)
    assert client.get("/api/v1/organizations").status_code == 200


def test_a_connection_that_died_between_busy_requests_answers_503_then_recovers(
    served,
) -> None:
    client, url = served
    assert client.get("/api/v1/organizations").status_code == 200
    assert _kill_backends(url) >= 1
    response = client.get("/api/v1/organizations")  # checked out again at once: no ping
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"] == "1"
    assert "retry" in response.get_json()["detail"]
    assert client.get("/api/v1/organizations").status_code == 200
