"""Alembic, driven from code: the only way the schema changes."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, make_url
from sqlalchemy.exc import SQLAlchemyError

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str | None = None, connection: Connection | None = None) -> AlembicConfig:
    if not MIGRATIONS_DIR.is_dir():
        raise RuntimeError(
            f"Migrations not found at {MIGRATIONS_DIR}; install the project from its checkout "
            "(pip install -e .)."
        )
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # Alembic's ini interpolation would choke on '%' in passwords.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


@cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


class DatabaseNotReady(Exception):
    """The database is missing, unreachable or not migrated to the code's revision."""


def check_ready(url: str, *, connect_timeout_s: float = 5.0) -> None:
    """Raise DatabaseNotReady (one line saying what to do) unless the database exists,
    answers, and is at the head revision. Creates nothing: a SQLite file that is not
    there stays not there."""
    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    sqlite_file = parsed.get_backend_name() == "sqlite" and parsed.database not in (
        None,
        "",
        ":memory:",
    )
    if sqlite_file and not Path(str(parsed.database)).is_file():
        raise DatabaseNotReady(
            f"no database at {shown}: run `referral-api db upgrade` to create it "
            "(or `referral-api demo` for a demo), or set DATABASE_URL to yours"
        )
    postgres = parsed.get_backend_name() == "postgresql"
    timeout = {"connect_timeout": max(1, round(connect_timeout_s))} if postgres else {}
    engine = create_engine(parsed, hide_parameters=True, connect_args=timeout)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as error:
        raise DatabaseNotReady(f"cannot use the database at {shown}: {one_line(error)}") from None
    finally:
        engine.dispose()
    head = head_revision()
    if current != head:
        at = "not migrated" if current is None else f"at revision {current}, not {head}"
        raise DatabaseNotReady(f"the database at {shown} is {at}: run `referral-api db upgrade`")


def one_line(error: BaseException) -> str:
    """The first line of a database error's own message (never its SQL or parameters)."""
    cause = getattr(error, "orig", None) or error
    text = str(cause).strip().splitlines()
    return text[0] if text else type(cause).__name__
