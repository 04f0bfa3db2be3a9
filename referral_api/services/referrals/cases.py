"""A case and its client profile: sealed at rest with the case's own data key, read by
those whose access is open, every read (and every refused one) audited."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ...errors import Forbidden, Gone
from ...models import Case
from ...models.base import utcnow
from .. import audit, crypto
from ..actors import Actor
from .deadlines import Settings
from .visibility import is_coordinator, may_read_profile, readable_case


@dataclass(frozen=True)
class CaseView:
    """A case as the API shows it to a party: with its client profile."""

    id: uuid.UUID
    reference: str | None
    owner_organization_id: uuid.UUID
    status: str
    created_at: datetime
    closed_at: datetime | None
    closed_outcome: str | None
    client: dict[str, Any]


def sealed_profile(secret_key: str, case_id: uuid.UUID, profile: dict[str, Any]) -> dict[str, Any]:
    """The columns that hold a case's profile: sealed with a new random data key, and
    that key wrapped by the master key."""
    data_key = crypto.new_data_key()
    return {
        "client_ciphertext": crypto.seal_with_key(data_key, case_id, profile),
        "data_key": crypto.wrap(secret_key, case_id, data_key),
        "key_id": crypto.key_id(secret_key),
    }


def client_profile(settings: Settings, case: Case) -> dict[str, Any]:
    """The case's client profile, opened (callers check access and audit the read);
    410 once retention destroyed it."""
    if case.purged_at is not None:
        raise Gone(
            f"The client profile of case {case.id} was destroyed on "
            f"{case.purged_at:%Y-%m-%d} under the retention rule; its referral history remains."
        )
    if case.data_key is None:  # sealed with the master key, before `keys migrate`
        return crypto.open_sealed(settings.secret_key, case.id, case.client_ciphertext)
    data_key = crypto.unwrap(settings.secret_key, case.id, case.data_key)
    return crypto.open_with_key(data_key, case.id, case.client_ciphertext)


def read_case(
    session: Session, *, actor: Actor, settings: Settings, case_id: uuid.UUID
) -> CaseView:
    """The case with its client profile, for those whose access is open and admins; every
    read is audited.

    A coordinator never sees the profile: 403 inside its coverage (the attempt is
    audited and the trace kept), 404 outside it. A party whose access has ended (its
    referral rejected, cancelled, past the closed-access window, consent withdrawn or
    expired) gets 403, audited the same way.
    """
    case = readable_case(session, actor=actor, case_id=case_id)
    if is_coordinator(actor):
        _refuse(session, actor, case, "role")
        raise Forbidden("Coordinators oversee referrals; the client profile is not theirs to see.")
    if not may_read_profile(
        session,
        actor=actor,
        case=case,
        now=utcnow(),
        closed_access_days=settings.closed_access_days,
    ):
        _refuse(session, actor, case, "access_ended")
        raise Forbidden(
            "Your organization's access to this client's profile has ended: its referrals in "
            "the case were rejected, cancelled or ended more than "
            f"{settings.closed_access_days:g} days ago, or the client's consent was withdrawn "
            "or expired."
        )
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
        closed_at=case.closed_at,
        closed_outcome=case.closed_outcome,
        client=profile,
    )


def _refuse(session: Session, actor: Actor, case: Case, why: str) -> None:
    audit.record(
        session,
        actor=actor,
        action="case.read_client_denied",
        entity_type="case",
        entity_id=case.id,
        summary={"role": actor.role, "reason": why},
        durable=True,
    )
