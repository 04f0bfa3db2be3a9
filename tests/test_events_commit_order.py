"""The change feed follows commit order under concurrent writers (PostgreSQL)."""

from __future__ import annotations

import random
import threading
import time
import uuid

import pytest
from sqlalchemy.orm import Session

from referral_api import migrate
from referral_api.db import make_engine
from referral_api.services import events, seeding
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
