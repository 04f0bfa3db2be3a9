"""Readiness: the database answers, in time, and carries the newest schema."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from ..migrate import head_revision


@dataclass(frozen=True)
class Readiness:
    ready: bool
    detail: str
    revision: str | None = None


def readiness(engine: Engine, *, timeout_s: float) -> Readiness:
    """Check that the database is reachable and migrated to head, within `timeout_s`.

    The check runs on a thread of its own, so a database that accepts connections but
    never answers (frozen, or a network that drops packets) costs the probe its timeout,
    not the probe's whole worker.
    """
    found: list[str | None] = []

    def check() -> None:
        try:
            with engine.connect() as connection:
                found.append(connection.scalar(text("SELECT version_num FROM alembic_version")))
        except SQLAlchemyError:
            pass

    worker = threading.Thread(target=check, name="readiness", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        return Readiness(False, f"The database did not answer within {timeout_s:g} s.")
    if not found:
        return Readiness(False, "The database is unreachable or not migrated.")
    head = head_revision()
    if found[0] != head:
        return Readiness(False, f"The database is at revision {found[0]}, expected {head}.")
    return Readiness(True, "ready", found[0])
