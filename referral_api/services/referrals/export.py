"""The data subject's export (UU PDP 27/2022 Pasal 7 and 32): everything held about the
client of a case, for the owner's org_admin to hand over, itself audited."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from ...errors import Forbidden
from ...models import (
    AuditEvent,
    ConsentWithdrawal,
    Organization,
    Principal,
    Referral,
    ReferralEvent,
    Role,
)
from ...models.base import utcnow
from .. import audit
from ..actors import Actor
from .cases import client_profile
from .deadlines import Settings
from .visibility import readable_case

# The audited accesses to the profile: reads, refused reads, summary reads and exports.
PROFILE_ACCESSES = (
    "case.read_client",
    "case.read_client_denied",
    "case.read_summary",
    "case.subject_export",
)


@dataclass(frozen=True)
class ProfileAccess:
    action: str
    occurred_at: datetime
    principal_id: uuid.UUID | None
    principal_name: str | None
    organization_id: uuid.UUID | None
    organization_name: str | None


@dataclass(frozen=True)
class SubjectExport:
    case: dict[str, Any]
    client: dict[str, Any]
    referrals: list[dict[str, Any]]
    consent_withdrawals: list[ConsentWithdrawal]
    profile_accesses: list[ProfileAccess]
    exported_at: datetime


def subject_export(
    session: Session, *, actor: Actor, settings: Settings, case_id: uuid.UUID
) -> SubjectExport:
    """The client's profile, every referral with its consent and status events, every
    consent withdrawal and every audited access to the profile, as one document."""
    case = readable_case(session, actor=actor, case_id=case_id)
    owner_admin = (
        actor.role == Role.ORG_ADMIN and actor.organization_id == case.owner_organization_id
    )
    if not owner_admin:
        raise Forbidden("A subject-access export is made by an org_admin of the case's owner.")
    client = client_profile(settings, case)  # 410 once purged
    accesses = _profile_accesses(session, case.id)
    audit.record(
        session,
        actor=actor,
        action="case.subject_export",
        entity_type="case",
        entity_id=case.id,
        summary={},
    )
    referrals = list(
        session.scalars(
            select(Referral).where(Referral.case_id == case.id).order_by(Referral.created_at)
        )
    )
    events: dict[uuid.UUID, list[ReferralEvent]] = {r.id: [] for r in referrals}
    for event in session.scalars(
        select(ReferralEvent)
        .where(ReferralEvent.referral_id.in_(list(events)))
        .order_by(ReferralEvent.referral_id, ReferralEvent.version)
    ):
        events[event.referral_id].append(event)
    withdrawals = session.scalars(
        select(ConsentWithdrawal)
        .where(ConsentWithdrawal.case_id == case.id)
        .order_by(ConsentWithdrawal.withdrawn_at)
    )
    return SubjectExport(
        case={
            "id": case.id,
            "reference": case.reference,
            "owner_organization_id": case.owner_organization_id,
            "status": case.status,
            "created_at": case.created_at,
            "closed_at": case.closed_at,
            "closed_outcome": case.closed_outcome,
        },
        client=client,
        referrals=[{"referral": r, "events": events[r.id]} for r in referrals],
        consent_withdrawals=list(withdrawals),
        profile_accesses=accesses,
        exported_at=utcnow(),
    )


def _profile_accesses(session: Session, case_id: uuid.UUID) -> list[ProfileAccess]:
    """Who read (or tried to read, or exported) the profile, from the audit trail."""
    reader = aliased(Principal)
    organization = aliased(Organization)
    rows = session.execute(
        select(
            AuditEvent.action,
            AuditEvent.occurred_at,
            AuditEvent.actor_principal_id,
            reader.name,
            AuditEvent.actor_organization_id,
            organization.name,
        )
        .outerjoin(reader, reader.id == AuditEvent.actor_principal_id)
        .outerjoin(organization, organization.id == AuditEvent.actor_organization_id)
        .where(
            AuditEvent.entity_type == "case",
            AuditEvent.entity_id == str(case_id),
            AuditEvent.action.in_(PROFILE_ACCESSES),
        )
        .order_by(AuditEvent.seq)
    )
    return [ProfileAccess(*row) for row in rows]
