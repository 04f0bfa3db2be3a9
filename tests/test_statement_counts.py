"""The hot paths send exactly the SQL statements they send today: a change that adds a
query fails here, not in a benchmark. Each count is per dialect where the two differ."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, event
from sqlalchemy.orm import Session

from referral_api.db import Database, db
from referral_api.models.base import utcnow

from .conftest import ON_POSTGRES, Caller
from .referral_helpers import move, referral_body, send

DIALECT = "postgresql" if ON_POSTGRES else "sqlite"
# The test's transaction turns the request's BEGIN/COMMIT into SAVEPOINT/RELEASE (see
# conftest): harness, not work the request does, so they are not counted (but shown).
_TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN")


@dataclass
class Statements:
    """The SQL statements sent to the database while recording."""

    sent: list[str] = field(default_factory=list)
    recording: bool = False

    def __call__(
        self, _conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, many: bool
    ) -> None:
        if self.recording:
            self.sent.append(" ".join(statement.split()) + (" [executemany]" if many else ""))

    @property
    def counted(self) -> list[str]:
        return [s for s in self.sent if not s.upper().startswith(_TRANSACTION_CONTROL)]

    def during(self, request: Callable[[], Any]) -> Any:
        self.sent.clear()
        self.recording = True
        try:
            return request()
        finally:
            self.recording = False

    def check(self, expected: dict[str, int]) -> None:
        """Exactly the count expected on this run's dialect; the statements if not."""
        counted = self.counted
        listing = "\n".join(f"  {'  ' if s in counted else '- '}{s[:300]}" for s in self.sent)
        assert len(counted) == expected[DIALECT], (
            f"{len(counted)} statements on {DIALECT}, expected {expected[DIALECT]} "
            f"('-': transaction control, not counted; if the change is meant, update the "
            f"count here and say why in the commit):\n{listing}"
        )


@pytest.fixture
def statements(app: Flask) -> Iterator[Statements]:
    """Record every statement on the app's engine, and on the connection its sessions are
    bound to when that belongs to another engine (as in these tests: the test's own)."""
    recorder = Statements()
    with app.app_context():
        targets: list[Any] = [db.engine]
        bind = app.extensions[Database.key].session_factory.kw.get("bind")
        if isinstance(bind, Connection) and bind.engine is not db.engine:
            targets.append(bind)
    for target in targets:
        event.listen(target, "before_cursor_execute", recorder)
    yield recorder
    for target in targets:
        event.remove(target, "before_cursor_execute", recorder)


def warm(session: Session, *callers: Caller) -> None:
    """Mark the tokens as just used: their `last_used_at` hint is then not rewritten for a
    minute, so the request under test does not pay for it."""
    for caller in callers:
        caller.principal.last_used_at = utcnow()
    session.flush()


# -- nearest search -------------------------------------------------------------------------

KUPANG = (-10.1772, 123.6070)


@pytest.fixture
def nearby_shelters(directory_entry: Callable[..., dict[str, Any]]) -> list[dict[str, Any]]:
    """Fourteen shelters within a few km of the search point, three of them confidential:
    the first box (10 km) holds the ten asked for, even for the public, so the search runs
    one round of candidate queries."""
    return [
        directory_entry(
            latitude=KUPANG[0] + 0.004 * i,
            longitude=KUPANG[1] + 0.003 * i,
            confidential=i % 5 == 0,
        )
        for i in range(14)
    ]


def nearest(client: FlaskClient, caller: Caller | None) -> Any:
    return client.get(
        "/api/v1/services/nearest",
        query_string={
            "lat": KUPANG[0],
            "lng": KUPANG[1],
            "service_type": "temporary_shelter",
            "limit": 10,
        },
        headers=caller.headers if caller else {},
    )


def test_nearest_search_public(client, statements, nearby_shelters) -> None:
    response = statements.during(lambda: nearest(client, None))
    assert response.status_code == 200, response.json
    assert len(response.json["items"]) == 10
    statements.check({"sqlite": 5, "postgresql": 5})


def test_nearest_search_authenticated(client, session, statements, make_caller, nearby_shelters):
    caller = make_caller("caseworker")
    warm(session, caller)
    response = statements.during(lambda: nearest(client, caller))
    assert response.status_code == 200, response.json
    assert len(response.json["items"]) == 10
    statements.check({"sqlite": 7, "postgresql": 7})


def test_a_cold_token_adds_one_statement(client, statements, make_caller, nearby_shelters):
    """A token unused for a minute or more also records that it was used (on SQLite
    between two PRAGMAs that keep the hint from waiting for a concurrent writer)."""
    caller = make_caller("caseworker")
    response = statements.during(lambda: nearest(client, caller))
    assert response.status_code == 200, response.json
    assert any(s.upper().startswith("UPDATE PRINCIPALS") for s in statements.counted)
    statements.check({"sqlite": 10, "postgresql": 8})


# -- referrals ------------------------------------------------------------------------------


@pytest.fixture
def parties(session, make_caller, directory_entry) -> tuple[Caller, Caller, uuid.UUID]:
    """A sender and a receiver (with a legal aid service), both tokens warm."""
    entry = directory_entry(service_types=("legal_aid",), org_type="legal_service")
    sender = make_caller("caseworker")
    receiver = make_caller("caseworker", organization=entry["organization"])
    warm(session, sender, receiver)
    return sender, receiver, entry["organization"].id


def test_referral_create_with_a_new_case(client, statements, parties) -> None:
    sender, _receiver, to_organization_id = parties
    response = statements.during(lambda: send(client, sender, referral_body(to_organization_id)))
    assert response.status_code == 201, response.json
    # The referral's regions are recorded in one INSERT ... SELECT (ReferralRegion), and
    # its partner event in one INSERT (the outbox).
    statements.check({"sqlite": 9, "postgresql": 9})


def test_referral_create_on_an_existing_case(client, statements, parties) -> None:
    sender, _receiver, to_organization_id = parties
    first = send(client, sender, referral_body(to_organization_id))
    assert first.status_code == 201, first.json
    body = referral_body(to_organization_id, case_id=first.json["case_id"], case=None)
    response = statements.during(lambda: send(client, sender, body))
    assert response.status_code == 201, response.json
    assert response.json["case_id"] == first.json["case_id"]
    # The sender's access to the client (one SELECT, which also shows it party to the
    # case) and the client's consent withdrawals for the receiver (one more SELECT).
    statements.check({"sqlite": 10, "postgresql": 10})


def test_one_transition(client, statements, parties) -> None:
    sender, receiver, to_organization_id = parties
    created = send(client, sender, referral_body(to_organization_id))
    assert created.status_code == 201, created.json
    response = statements.during(
        lambda: move(client, receiver, created.json["id"], "accepted", created.json["version"])
    )
    assert response.status_code == 200, response.json
    assert response.json["status"] == "accepted" and response.json["version"] == 2
    # The UPDATE ... RETURNING, the status event, the audit event, the partner event.
    statements.check({"sqlite": 5, "postgresql": 5})
