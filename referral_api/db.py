"""Engine and the one-session-per-request unit of work."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from .config import SQLITE_BUSY_TIMEOUT_MS

log = logging.getLogger(__name__)
SQLITE_BEGIN_OPTION = "referral_api_sqlite_begin"


def make_engine(
    url: str,
    *,
    connect_timeout_s: float | None = None,
    statement_timeout_ms: int | None = None,
    **kwargs: Any,
) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL, real transactions and a file only
    its owner can read, PostgreSQL the timeouts given.

    Statement parameters never reach a log or an error message (`hide_parameters`): they
    carry referral reasons, consent text and notes.
    """
    kwargs.setdefault("hide_parameters", True)
    connect_args = kwargs.setdefault("connect_args", {})
    if url.startswith("sqlite"):
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        _create_private_file(make_url(url).database)
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    if connect_timeout_s is not None:
        connect_args.setdefault("connect_timeout", max(1, round(connect_timeout_s)))
    if statement_timeout_ms:
        connect_args.setdefault("options", f"-c statement_timeout={int(statement_timeout_ms)}")
    engine = create_engine(url, **kwargs)
    _ping_when_idle(engine)
    return engine


def _create_private_file(database: str | None) -> None:
    """Create the SQLite file with mode 0600; SQLite gives its WAL and shared-memory files
    the database file's mode."""
    if database in (None, "", ":memory:") or database.startswith("file:"):
        return
    path = Path(database)
    if path.parent.is_dir() and not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


# A pooled connection unused for this long is tested before a request gets it.
PING_AFTER_IDLE_S = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """Test a pooled connection before use only if it has been idle a while.

    `pool_pre_ping` would cost every request a round trip; a busy server's connections
    are seldom idle. One that breaks while busy (the database restarted) fails its
    request with a 503 to retry, and the pool then replaces every connection.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool discards this connection and checks out another.
            raise DisconnectionError("a pooled connection failed its ping") from error


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; take it
    # over as the SQLAlchemy docs describe, so SQLite transactions behave like PostgreSQL's.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        # The trigger that chains audit events hashes with it (migration 20261122_0005).
        dbapi_connection.create_function("referral_api_sha256", 1, _sha256_hex, deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        # Overwrite deleted content with zeros, so that a purged profile's data key and
        # ciphertext do not linger in free space of the file (services/retention.py).
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # `Database.begin_writing` asks for BEGIN IMMEDIATE.
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())


def _sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class _Bound:
    engine: Engine
    session_factory: sessionmaker[Session]


class Database:
    """Hands each request one session, committed once at the request boundary.

    The engine and session factory live on the app (``app.extensions``), so several
    apps, e.g. in tests, can run side by side.
    """

    key = "referral_api.db"

    def init_app(
        self,
        app: Flask,
        url: str,
        *,
        connect_timeout_s: float | None = None,
        statement_timeout_ms: int | None = None,
    ) -> None:
        engine = make_engine(
            url, connect_timeout_s=connect_timeout_s, statement_timeout_ms=statement_timeout_ms
        )
        app.extensions[self.key] = _Bound(engine, sessionmaker(bind=engine, expire_on_commit=False))
        app.teardown_appcontext(self._close_session)

    @property
    def bound(self) -> _Bound:
        return current_app.extensions[self.key]  # type: ignore[no-any-return]

    @property
    def engine(self) -> Engine:
        return self.bound.engine

    @property
    def session(self) -> Session:
        session: Session | None = g.get("_db_session")
        if session is None:
            session = self.bound.session_factory()
            g._db_session = session
            if g.get("_db_writes") and self.engine.dialect.name == "sqlite":
                session.connection(execution_options={SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        return session

    def expect_writes(self) -> None:
        """This request will write: its session, once opened, begins as a writer's.

        On SQLite that takes the write lock up front (BEGIN IMMEDIATE): a deferred
        transaction that read first would fail, not wait, when another writer committed
        in between. PostgreSQL needs nothing.
        """
        g._db_writes = True

    def has_session(self) -> bool:
        return g.get("_db_session") is not None

    def _close_session(self, _exc: BaseException | None) -> None:
        session = g.pop("_db_session", None)
        if session is not None:
            # Anything the request boundary did not commit is rolled back here.
            session.close()

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One session and one commit, for CLI commands and scripts."""
        with self.bound.session_factory() as session, session.begin():
            yield session


def truncate_sqlite_wal(engine: Engine) -> None:
    """On SQLite, copy the write-ahead log into the database and empty it: the log still
    holds the pages as they were before the last changes (a purge's, for one)."""
    if engine.dialect.name != "sqlite":
        return
    connection = engine.raw_connection()
    try:
        connection.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


db = Database()
