"""The status history of a referral: one ReferralEvent per version."""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from ...models import ReferralEvent
from ..actors import Actor
from .record import ReferralRecord
from .statements import INSERT_EVENT
from .visibility import get_referral


def record_event(
    connection: Connection,
    *,
    actor: Actor,
    referral: ReferralRecord,
    from_status: str | None,
    role: str,
    reason: str | None,
    note: str | None,
) -> None:
    """Write the ReferralEvent of the referral's current version."""
    assert actor.principal_id is not None and actor.organization_id is not None
    connection.execute(
        INSERT_EVENT,
        {
            "id": uuid.uuid4(),
            "referral_id": referral.id,
            "version": referral.version,
            "from_status": from_status,
            "to_status": referral.status,
            "occurred_at": referral.updated_at,
            "principal_id": actor.principal_id,
            "organization_id": actor.organization_id,
            "role": role,
            "reason": reason,
            "note": note,
        },
    )


def list_events(session: Session, *, actor: Actor, referral_id: uuid.UUID) -> list[ReferralEvent]:
    """The status history of a referral, oldest first."""
    get_referral(session, actor=actor, referral_id=referral_id)
    return list(
        session.scalars(
            select(ReferralEvent)
            .where(ReferralEvent.referral_id == referral_id)
            .order_by(ReferralEvent.version)
        )
    )
