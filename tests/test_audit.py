import json
import threading

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from referral_api import migrate
from referral_api.cli import main
from referral_api.db import make_engine
from referral_api.models import AuditEvent, AuditQueue
from referral_api.services import audit, principals
from referral_api.services.actors import Actor

from .audit_helpers import tamper
from .conftest import ON_POSTGRES, requires_postgres


def test_token_create_and_revoke_are_audited(session: Session, make_caller) -> None:
    caller = make_caller("caseworker")
    principals.revoke_token(session, actor=Actor.system(), principal_id=caller.principal.id)
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


# Text the database triggers must hash exactly as Python does (migration 20261122_0005):
# quotes, backslashes, control characters, accents, scripts and emoji.
AWKWARD_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=40,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(entity_id=AWKWARD_TEXT, note=st.text(max_size=40), action=AWKWARD_TEXT)
def test_triggers_hash_events_as_verify_does(
    session: Session, entity_id: str, note: str, action: str
) -> None:
    actor = Actor(principal_id=None, organization_id=None, role="system")
    summary = {"note": note, "nested": {"b": [1, None, True], "a": 'é"\\'}}
    audit.record(
        session,
        actor=actor,
        action=action[:60],
        entity_type="test",
        entity_id=entity_id[:64],
        summary=summary,
    )
    audit.record(session, actor=actor, action="test.second", entity_type="test", entity_id=None)
    session.commit()
    first, second = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(2))
    assert (first.action, second.entity_id, second.summary) == (
        "test.second",
        entity_id[:64],
        audit.canonical_json(summary),
    )
    assert first.prev_hash == second.hash
    for event in (second, first):
        assert event.hash == audit.event_hash(
            prev_hash=event.prev_hash,
            seq=event.seq,
            occurred_at=event.occurred_at,
            actor_principal_id=event.actor_principal_id,
            actor_organization_id=event.actor_organization_id,
            action=event.action,
            entity_type=event.entity_type,
            entity_id=event.entity_id,
            summary=event.summary,
        )
    assert session.scalar(select(func.count()).select_from(AuditQueue)) == 0


def test_many_events_of_one_transaction_are_chained_in_order(session: Session) -> None:
    """Every event a transaction queued is chained, in the order recorded."""
    actor = Actor(principal_id=None, organization_id=None, role="system")
    count = 207
    for n in range(count):
        audit.record(session, actor=actor, action="test.bulk", entity_type="test", entity_id=n)
    session.commit()
    chained = session.scalars(
        select(AuditEvent.entity_id).order_by(AuditEvent.seq.desc()).limit(count)
    ).all()
    assert list(reversed(chained)) == [str(n) for n in range(count)]
    assert audit.verify(session).ok
    assert session.scalar(select(func.count()).select_from(AuditQueue)) == 0


@requires_postgres
def test_postgres_locks_the_chain_head_only_at_commit(fresh_databases) -> None:
    """A transaction that has queued its event does not hold up other appenders: the
    head is locked by the trigger deferred to its COMMIT."""
    url = fresh_databases.new()
    migrate.upgrade(url)
    engine = make_engine(url)
    actor = Actor.system()
    try:
        with Session(engine) as slow:
            audit.record(slow, actor=actor, action="test.slow", entity_type="test", entity_id="1")
            slow.flush()  # the event is queued inside the open transaction
            with Session(engine) as fast, fast.begin():
                fast.execute(text("SET LOCAL lock_timeout = '2s'"))
                audit.record(
                    fast, actor=actor, action="test.fast", entity_type="test", entity_id="2"
                )
            slow.commit()
        with Session(engine) as session:
            actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()
            assert actions == ["test.fast", "test.slow"]
            assert audit.verify(session).ok
    finally:
        engine.dispose()


def test_verify_endpoint_matches_service(client, session, make_caller) -> None:
    admin = make_caller("admin")
    body = client.get("/api/v1/audit/verify", headers=admin.headers).json
    verdict = audit.verify(session)
    assert body == {"ok": True, "checked": verdict.checked, "broken_seq": None, "reason": None}


# -- tampering, on a database of its own ------------------------------------------------------


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
