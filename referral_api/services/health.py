"""Readiness: the database answers and carries the newest schema."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..migrate import head_revision


@dataclass(frozen=True)
class Readiness:
    ready: bool
    detail: str
    revision: str | None = None


def readiness(session: Session) -> Readiness:
    """Check that the database is reachable and migrated to head."""
    try:
        current = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        session.rollback()
        return Readiness(False, "The database is unreachable or not migrated.")
    head = head_revision()
    if current != head:
        return Readiness(False, f"The database is at revision {current}, expected {head}.")
    return Readiness(True, "ready", current)
