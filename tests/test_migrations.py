import threading
import time

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from referral_api import migrate
from referral_api.db import make_engine
from referral_api.models import Base, Event
from referral_api.services import events

from .conftest import requires_postgres


def test_upgrade_matches_models_and_downgrade_empties(fresh_databases) -> None:
    url = fresh_databases.new()
    migrate.upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        assert context.get_current_revision() == migrate.head_revision()

    migrate.downgrade(url, "base")
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    # And up again: the revisions are repeatable.
    migrate.upgrade(url)
    with engine.connect() as conn:
        assert {"organizations", "principals", "audit_events"} <= set(
            inspect(conn).get_table_names()
        )
    engine.dispose()


def test_revision_files_are_date_prefixed() -> None:
    files = sorted(p.name for p in (migrate.MIGRATIONS_DIR / "versions").glob("*.py"))
    assert files
    assert all(name[:8].isdigit() and name[8] == "_" for name in files), files


@requires_postgres
def test_one_head_migration_waits_for_a_commit_still_positioning_on_the_old_head(
    fresh_databases,
) -> None:
    """20261129_0014 copies `event_head` onto `audit_head`. A commit still running the old
    trigger must not move `event_head` after the copy, or the next event would be given a
    position already taken (and every later one too)."""
    url = fresh_databases.new()
    migrate.upgrade(url, "20261129_0012")
    engine = make_engine(url)

    def emit(session: Session, label: str) -> None:
        events.emit(session, type="organization.updated", data={"l": label}, audience="directory")

    with Session(engine) as session, session.begin():
        emit(session, "before")
    writer = Session(engine)
    writer.begin()
    writer.execute(text("SET CONSTRAINTS events_assign_position IMMEDIATE"))
    emit(writer, "positioned, not yet committed")  # holds event_head at position 2
    writer.flush()
    upgrading = threading.Thread(target=migrate.upgrade, args=(url,))
    upgrading.start()
    time.sleep(1)  # the migration reaches event_head (and waits, since it is held)
    writer.commit()
    writer.close()
    upgrading.join(30)
    assert not upgrading.is_alive()
    with Session(engine) as session, session.begin():
        emit(session, "after")
    with Session(engine) as session:
        positions = session.scalars(select(Event.position).order_by(Event.position)).all()
    assert positions == [1, 2, 3]
    engine.dispose()
