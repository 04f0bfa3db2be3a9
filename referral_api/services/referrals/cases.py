"""A case and its client profile: sealed at rest, read by parties, every read audited."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ...errors import Forbidden
from ...models import Case
from .. import audit, crypto
from ..actors import Actor
from .deadlines import Settings
from .visibility import is_coordinator, readable_case


@dataclass(frozen=True)
class CaseView:
    """A case as the API shows it to a party: with its client profile."""

    id: uuid.UUID
    reference: str | None
    owner_organization_id: uuid.UUID
    status: str
    created_at: datetime
    client: dict[str, Any]


def client_profile(settings: Settings, case: Case) -> dict[str, Any]:
    """The case's client profile, opened (callers audit the read)."""
    return crypto.open_sealed(settings.secret_key, case.id, case.client_ciphertext)


def read_case(
    session: Session, *, actor: Actor, settings: Settings, case_id: uuid.UUID
) -> CaseView:
    """The case with its client profile, for parties and admins; every read is audited.

    A coordinator never sees the profile: 403 inside its coverage (the attempt is
    audited and the trace kept), 404 outside it.
    """
    case = readable_case(session, actor=actor, case_id=case_id)
    if is_coordinator(actor):
        audit.record(
            session,
            actor=actor,
            action="case.read_client_denied",
            entity_type="case",
            entity_id=case.id,
            summary={"role": actor.role},
            durable=True,
        )
        raise Forbidden("Coordinators oversee referrals; the client profile is not theirs to see.")
    profile = client_profile(settings, case)
    audit.record(
        session,
        actor=actor,
        action="case.read_client",
        entity_type="case",
        entity_id=case.id,
        summary={},
    )
    return CaseView(
        id=case.id,
        reference=case.reference,
        owner_organization_id=case.owner_organization_id,
        status=case.status,
        created_at=case.created_at,
        client=profile,
    )
