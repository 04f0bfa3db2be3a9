"""The change feed follows commit order under concurrent writers (PostgreSQL)."""

from __future__ import annotations

import random
import threading
import time
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from referral_api import migrate
from referral_api.db import make_engine
from referral_api.services import audit, events, seeding
from referral_api.services.actors import Actor

from .conftest import requires_postgres

pytestmark = requires_postgres
ADMIN = Actor(principal_id=uuid.uuid4(), organization_id=None, role="admin")


@pytest.fixture
def engine(fresh_databases):
    url = fresh_databases.new()
    migrate.upgrade(url)
    engine = make_engine(url, pool_size=12)
    with Session(engine) as session, session.begin():
        seeding.seed(session)
    yield engine
    engine.dispose()


def _emit(session: Session, label: str) -> None:
    events.emit(session, type="organization.updated", data={"label": label}, audience="directory")


def _read(engine, after: str) -> events.FeedPage:
    with Session(engine) as session, session.begin():
        return events.feed(session, actor=ADMIN, after=after, limit=1000)


def test_a_transaction_that_began_first_but_commits_last_is_not_skipped(engine) -> None:
    first = Session(engine)
    first.begin()
    _emit(first, "began first")
    first.flush()
    with Session(engine) as second, second.begin():
        _emit(second, "began second, committed first")
    page = _read(engine, "0")
    assert [i.data["label"] for i in page.items] == ["began second, committed first"]
    cursor = page.next_cursor
    first.commit()
    first.close()
    later = _read(engine, cursor)
    assert [i.data["label"] for i in later.items] == ["began first"]
    assert int(later.items[0].cursor) > int(cursor)


def test_a_reader_paging_during_concurrent_writers_misses_and_repeats_nothing(engine) -> None:
    writers, per_writer = 8, 25
    written: list[str] = []
    lock = threading.Lock()
    done = threading.Event()

    def write(n: int) -> None:
        rng = random.Random(n)
        for i in range(per_writer):
            label = f"w{n}-{i}"
            with Session(engine) as session, session.begin():
                _emit(session, label)
                session.flush()
                time.sleep(rng.random() * 0.01)  # hold the transaction open a while
            with lock:
                written.append(label)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    seen: list[events.FeedItem] = []
    cursor = "0"

    def waiter() -> None:
        for thread in threads:
            thread.join()
        done.set()

    threading.Thread(target=waiter).start()
    while True:
        finished = done.is_set()
        page = _read(engine, cursor)
        seen += page.items
        cursor = page.next_cursor
        if finished and not page.items:
            break
        time.sleep(0.002)
    labels = [i.data["label"] for i in seen]
    assert len(labels) == len(set(labels)) == writers * per_writer
    assert set(labels) == set(written)
    positions = [int(i.cursor) for i in seen]
    assert positions == sorted(positions)
    assert positions == list(range(positions[0], positions[0] + len(positions)))  # dense


# A test-only deferred trigger on audit_queue, named to fire before `audit_queue_append`:
# in a transaction that set `test.pause`, it waits on an advisory lock the test holds.
PAUSE_AT_COMMIT = """
CREATE FUNCTION test_pause() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('test.pause', true) = 'on' THEN
    PERFORM pg_advisory_xact_lock(4242);
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER audit_queue_a_pause AFTER INSERT ON audit_queue
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_pause();
"""
WAITING = text(
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


def test_emitting_before_or_after_auditing_cannot_deadlock_two_commits(engine) -> None:
    """A webhook test ping emits its event and then audits; a transition audits and then
    emits. At COMMIT each takes what orders commits. Were that two rows (an audit head and
    an event head), each taken when its first row is reached, these two commits would
    take them in opposite orders: the first is held at COMMIT between its event and its
    audit event while the second commits, and the two would deadlock."""
    with engine.begin() as conn:
        conn.exec_driver_sql(PAUSE_AT_COMMIT)
    holder = engine.connect()
    holder.execute(text("SELECT pg_advisory_lock(4242)"))
    errors: list[BaseException] = []

    def commit(label: str, *, emit_first: bool, pause: bool) -> None:
        def emit(session: Session) -> None:
            _emit(session, label)

        def audit_it(session: Session) -> None:
            audit.record(session, actor=ADMIN, action="test", entity_type="test", entity_id=None)

        try:
            with Session(engine) as session, session.begin():
                if pause:
                    session.execute(text("SET LOCAL test.pause = 'on'"))
                for step in (emit, audit_it) if emit_first else (audit_it, emit):
                    step(session)
        except BaseException as error:
            errors.append(error)

    def wait_for(waiters: int) -> None:
        deadline = time.monotonic() + 10
        while True:
            with engine.connect() as conn:  # pg_stat_activity is a snapshot per transaction
                if conn.scalar(WAITING) >= waiters:
                    return
            assert errors == []
            assert time.monotonic() < deadline, f"fewer than {waiters} commits are waiting"
            time.sleep(0.01)

    ping = threading.Thread(
        target=commit, args=("ping",), kwargs={"emit_first": True, "pause": True}, daemon=True
    )
    transition = threading.Thread(
        target=commit,
        args=("transition",),
        kwargs={"emit_first": False, "pause": False},
        daemon=True,
    )
    try:
        ping.start()
        wait_for(1)  # the ping is held at COMMIT, its event positioned, its audit event not
        transition.start()
        wait_for(2)  # the transition waits for what the ping holds
    finally:
        holder.execute(text("SELECT pg_advisory_unlock(4242)"))
        holder.close()
        for thread in (ping, transition):
            if thread.is_alive():
                thread.join(20)
    assert not ping.is_alive() and not transition.is_alive()
    assert errors == []
    labels = [i.data["label"] for i in _read(engine, "0").items]
    assert labels == ["ping", "transition"]  # in commit order
    with Session(engine) as session:
        assert audit.verify(session).ok
