import json
import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from referral_api import migrate
from referral_api.cli import main
from referral_api.db import make_engine
from referral_api.models import AuditEvent
from referral_api.services import audit, principals
from referral_api.services.actors import Actor

from .conftest import ON_POSTGRES


def test_token_create_and_revoke_are_audited(session: Session, make_caller) -> None:
    caller = make_caller("caseworker")
    principals.revoke_token(session, actor=Actor.system(), principal_id=caller.principal.id)
    assert (
        session.scalars(
            select(AuditEvent).where(AuditEvent.entity_id == str(caller.principal.id))
        ).all()
        == []
    )  # queued until the transaction commits
    session.commit()
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_id == str(caller.principal.id))
        .order_by(AuditEvent.seq)
    ).all()
    assert [e.action for e in events] == ["token.create", "token.revoke"]
    assert json.loads(events[0].summary)["role"] == "caseworker"
    assert caller.token not in str(events[0].summary)
    assert events[1].prev_hash == events[0].hash
    assert audit.verify(session).ok


def test_api_write_is_audited_with_the_actor(client, session, make_caller) -> None:
    admin = make_caller("admin")
    response = client.post(
        "/api/v1/tokens", json={"role": "admin", "name": "second"}, headers=admin.headers
    )
    assert response.status_code == 201
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert event.action == "token.create"
    assert event.actor_principal_id == admin.principal.id
    assert event.entity_id == response.json["principal"]["id"]


def test_rejected_write_leaves_no_event(client, session, make_caller) -> None:
    admin = make_caller("org_admin")
    before = session.scalar(select(func.count()).select_from(AuditEvent))
    response = client.post(
        "/api/v1/tokens", json={"role": "admin", "name": "x"}, headers=admin.headers
    )
    assert response.status_code == 403
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == before


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"]
)
def test_audit_table_refuses_update_and_delete(session: Session, make_caller, statement) -> None:
    make_caller("admin")
    with pytest.raises(DBAPIError) as raised, session.begin_nested():
        session.execute(text(statement))
    assert "append-only" in str(raised.value)


def test_verify_endpoint_matches_service(client, session, make_caller) -> None:
    admin = make_caller("admin")
    body = client.get("/api/v1/audit/verify", headers=admin.headers).json
    verdict = audit.verify(session)
    assert body == {"ok": True, "checked": verdict.checked, "broken_seq": None, "reason": None}


# -- tampering, on a database of its own ------------------------------------------------------

DROP_TRIGGERS = {
    "sqlite": [
        "DROP TRIGGER audit_events_no_update",
        "DROP TRIGGER audit_events_no_delete",
    ],
    "postgresql": ["ALTER TABLE audit_events DISABLE TRIGGER USER"],
}


@pytest.fixture
def chain_url(fresh_databases) -> str:
    """A fresh database with a chain of 6 events (tokens created through the CLI)."""
    url = fresh_databases.new()
    migrate.upgrade(url)
    runner = CliRunner()
    for n in range(6):
        result = runner.invoke(
            main,
            ["tokens", "create", "--role", "admin", "--name", f"admin {n}"],
            env={"DATABASE_URL": url},
        )
        assert result.exit_code == 0, result.output
    return url


def tamper(url: str, *statements: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        for statement in DROP_TRIGGERS[engine.dialect.name]:
            conn.execute(text(statement))
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def verify_cli(url: str):
    return CliRunner().invoke(main, ["audit", "verify"], env={"DATABASE_URL": url})


def test_cli_verify_intact(chain_url: str) -> None:
    result = verify_cli(chain_url)
    assert result.exit_code == 0
    assert "6 events checked" in result.output


@pytest.mark.parametrize(
    ("statements", "broken"),
    [
        (['UPDATE audit_events SET summary = \'{"role": "caseworker"}\' WHERE seq = 4'], 4),
        (["UPDATE audit_events SET action = 'token.revoke' WHERE seq = 2"], 2),
        (["DELETE FROM audit_events WHERE seq = 3"], 3),
        (["DELETE FROM audit_events WHERE seq = 6"], 6),
        # Reorder: swap events 4 and 5 through a free seq number.
        (
            [
                "UPDATE audit_events SET seq = 100 WHERE seq = 4",
                "UPDATE audit_events SET seq = 4 WHERE seq = 5",
                "UPDATE audit_events SET seq = 5 WHERE seq = 100",
            ],
            4,
        ),
    ],
    ids=["summary-altered", "action-altered", "row-removed", "last-row-removed", "reordered"],
)
def test_cli_verify_names_first_broken_seq(chain_url: str, statements, broken: int) -> None:
    tamper(chain_url, *statements)
    result = verify_cli(chain_url)
    assert result.exit_code == 1
    assert f"BROKEN at seq {broken}" in result.output


def test_concurrent_writers_keep_the_chain(fresh_databases) -> None:
    """8 writers x 200 events; on SQLite the same code path serializes through the lock."""
    url = fresh_databases.new()
    migrate.upgrade(url)
    engine = make_engine(url, pool_size=8, max_overflow=0) if ON_POSTGRES else make_engine(url)
    writers, per_writer = 8, 200 if ON_POSTGRES else 50
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(n: int) -> None:
        try:
            start.wait()
            for i in range(per_writer):
                with Session(engine) as session, session.begin():
                    audit.record(
                        session,
                        actor=Actor.system(),
                        action="test.write",
                        entity_type="writer",
                        entity_id=str(n),
                        summary={"i": i},
                    )
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Session(engine) as session:
        verdict = audit.verify(session)
        per_entity = dict(
            session.execute(
                select(AuditEvent.entity_id, func.count()).group_by(AuditEvent.entity_id)
            ).all()
        )
    engine.dispose()
    assert verdict.ok, verdict
    assert verdict.checked == writers * per_writer
    assert per_entity == {str(n): per_writer for n in range(writers)}
