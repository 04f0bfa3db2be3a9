from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from referral_api import migrate
from referral_api.db import make_engine
from referral_api.models import Base


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
