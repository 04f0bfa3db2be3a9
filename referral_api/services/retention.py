"""Retention (UU PDP 27/2022 Pasal 43-44): a closed case's client profile is destroyed
REFERRAL_API_RETENTION_DAYS after closure by crypto-shredding, i.e. its data key and
ciphertext are overwritten. The case keeps its referrals, status events and audit
history, de-identified, for reports."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..models import Case
from . import audit
from .actors import Actor

PURGE_CHUNK = 500


def due(session: Session, *, now: datetime, retention_days: float) -> list[uuid.UUID]:
    """The cases closed longer than the retention period whose profile still exists."""
    cutoff = now - timedelta(days=retention_days)
    return list(
        session.scalars(
            select(Case.id)
            .where(Case.closed_at < cutoff, Case.purged_at.is_(None))
            .order_by(Case.closed_at, Case.id)
        )
    )


def purge(session: Session, *, now: datetime, retention_days: float) -> list[uuid.UUID]:
    """Destroy the data key and the ciphertext of every case `due`; audit each. Returns
    the cases purged."""
    purged = due(session, now=now, retention_days=retention_days)
    for start in range(0, len(purged), PURGE_CHUNK):
        chunk = purged[start : start + PURGE_CHUNK]
        session.execute(
            update(Case)
            .where(Case.id.in_(chunk), Case.purged_at.is_(None))
            .values(client_ciphertext=b"", data_key=None, key_id=None, purged_at=now)
        )
    for case_id in purged:
        audit.record(
            session,
            actor=Actor.system(),
            action="case.purge",
            entity_type="case",
            entity_id=case_id,
            summary={"retention_days": retention_days},
        )
    return purged
