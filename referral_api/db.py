"""Engine and the one-session-per-request unit of work."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
SQLITE_BEGIN_OPTION = "referral_api_sqlite_begin"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and real transactions."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    engine = create_engine(url, **kwargs)
    _ping_when_idle(engine)
    return engine


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
        cursor.execute("PRAGMA busy_timeout = 30000")
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

    def init_app(self, app: Flask, url: str) -> None:
        engine = make_engine(url)
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


db = Database()
