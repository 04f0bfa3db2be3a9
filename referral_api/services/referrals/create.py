"""Sending a referral: on an existing case or a new one, with consent checked."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, func, or_, select
from sqlalchemy.orm import Session

from ...errors import Forbidden, NotFound, ValidationFailed
from ...models import Case, ConsentWithdrawal, Referral, Service
from ...models.base import utcnow
from ...vocabularies import CHILD_CONSENT_BASES
from .. import audit, events
from ..actors import Actor
from .cases import client_profile, sealed_profile
from .deadlines import Settings, due_times
from .history import record_event
from .record import ReferralRecord
from .rules import SERVING, WRITERS
from .statements import INSERT_CASE, INSERT_REFERRAL, RECORD_REGIONS, TARGET_ORGANIZATION
from .visibility import profile_case


def create_referral(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    data: Mapping[str, Any],
    offer_id: uuid.UUID | None = None,
) -> ReferralRecord:
    """Send a referral, on an existing case or with a new one owned by the sender (as
    one of the referrals of a shelter offer, with `offer_id`)."""
    if actor.role not in WRITERS or actor.organization_id is None:
        raise Forbidden("Only caseworkers and org_admins of an organization send referrals.")
    now = utcnow()
    if (data.get("case_id") is None) == (data.get("case") is None):
        raise ValidationFailed({"case_id": "Give either case_id or an inline new case."})

    case: Case | None = None
    client: Mapping[str, Any]
    if data.get("case_id") is not None:
        case = case_to_refer(session, actor=actor, settings=settings, case_id=data["case_id"])
        client = client_profile(settings, case)
        if data["kind"] == "transfer" and not _may_transfer(session, actor, case):
            raise Forbidden(
                "Only the case owner, or an organization now serving the client (an accepted "
                "referral in the case), transfers the case."
            )
    else:
        client = data["case"]["client"]
    _check_consent(data["consent"], client, now)

    errors: dict[str, str] = {}
    target = _target(session, actor, data, errors)
    parent = None
    if data.get("parent_referral_id") is not None:
        parent = session.get(Referral, data["parent_referral_id"])
        if parent is None or case is None or parent.case_id != case.id:
            errors["parent_referral_id"] = "The parent referral must belong to the same case."
    if case is not None and target is not None:
        _check_not_withdrawn(session, case, target.id, data["consent"], errors)
    if errors or target is None:
        raise ValidationFailed(errors)

    connection = session.connection()
    if case is None:
        case_id = open_case(session, actor=actor, settings=settings, case=data["case"])
    else:
        case_id = case.id

    ack_due_at, start_due_at = due_times(
        settings, risk_level=data["risk_level"], service_type=data["service_type"], now=now
    )
    referral = ReferralRecord(
        id=uuid.uuid4(),
        case_id=case_id,
        parent_referral_id=parent.id if parent else None,
        offer_id=offer_id,
        kind=data["kind"],
        from_organization_id=actor.organization_id,
        from_principal_id=_principal_id(actor),
        to_organization_id=target.id,
        to_service_id=data.get("to_service_id"),
        service_type=data["service_type"],
        risk_level=data["risk_level"],
        reason=data["reason"],
        worker_role=data["worker_role"],
        consent=_consent_json(data["consent"]),
        consent_expires_at=data["consent"].get("expires_at"),
        capacity_override=data.get("capacity_override"),
        status="requested",
        status_reason=None,
        status_note=None,
        outcome=None,
        created_at=now,
        updated_at=now,
        ack_due_at=ack_due_at,
        start_due_at=start_due_at,
        acknowledged_at=None,
        decided_at=None,
        started_at=None,
        completed_at=None,
        closed_at=None,
        version=1,
    )
    connection.execute(INSERT_REFERRAL, referral.columns())
    connection.execute(
        RECORD_REGIONS,
        {
            "referral_id": referral.id,
            "sender_id": referral.from_organization_id,
            "receiver_id": referral.to_organization_id,
            "service_id": referral.to_service_id,
        },
    )
    record_event(
        connection,
        actor=actor,
        referral=referral,
        from_status=None,
        role="sender",
        reason=None,
        note=None,
    )
    audit.record(
        session,
        actor=actor,
        action="referral.create",
        entity_type="referral",
        entity_id=referral.id,
        summary={
            "case_id": str(case_id),
            "kind": referral.kind,
            "to_organization_id": str(target.id),
            "service_type": referral.service_type,
            "risk_level": referral.risk_level,
        },
    )
    events.referral_created(session, referral=referral)
    return referral


def case_to_refer(
    session: Session, *, actor: Actor, settings: Settings, case_id: uuid.UUID
) -> Case:
    """The open case a referral (or offer) is sent on, or 422: only an organization whose
    access to the client is open refers the client on."""
    try:
        case = profile_case(
            session,
            actor=actor,
            case_id=case_id,
            now=utcnow(),
            closed_access_days=settings.closed_access_days,
        )
    except NotFound:
        raise ValidationFailed({"case_id": "No such case."}) from None
    if case.closed_at is not None:
        raise ValidationFailed({"case_id": "The case is closed; open a new case."})
    return case


def open_case(
    session: Session, *, actor: Actor, settings: Settings, case: Mapping[str, Any]
) -> uuid.UUID:
    """Write a new case owned by the actor's organization, its client profile sealed."""
    case_id = uuid.uuid4()
    session.connection().execute(
        INSERT_CASE,
        {
            "id": case_id,
            "reference": case.get("reference"),
            "owner_organization_id": actor.organization_id,
            **sealed_profile(settings.secret_key, case_id, dict(case["client"])),
            "created_by": actor.principal_id,
        },
    )
    audit.record(
        session,
        actor=actor,
        action="case.create",
        entity_type="case",
        entity_id=case_id,
        summary={"owner_organization_id": str(actor.organization_id)},
    )
    return case_id


def _principal_id(actor: Actor) -> uuid.UUID:
    if actor.principal_id is None:
        raise Forbidden("Referrals are sent by a principal with a token.")
    return actor.principal_id


def _possibly_minor(client: Mapping[str, Any], today: date) -> bool:
    if client.get("age") is not None:
        return int(client["age"]) < 18
    # Born in a year that makes 18 or less this year: not yet known to be an adult.
    return today.year - int(client["birth_year"]) <= 18


def _check_consent(consent: Mapping[str, Any], client: Mapping[str, Any], now: datetime) -> None:
    errors: dict[str, str] = {}
    basis = consent["basis"]
    if _possibly_minor(client, now.date()) and basis not in CHILD_CONSENT_BASES:
        errors["consent.basis"] = (
            "The client is (or may be) under 18: the basis must be guardian_consent, "
            "legal_obligation or vital_interest."
        )
    if basis == "vital_interest" and not (consent.get("justification") or "").strip():
        errors["consent.justification"] = "vital_interest needs a written justification."
    if consent["obtained_at"] > now + timedelta(minutes=5):
        errors["consent.obtained_at"] = "Must not be in the future."
    expires_at = consent.get("expires_at")
    if expires_at is not None and expires_at <= now:
        errors["consent.expires_at"] = "Must be in the future (the consent would have ended)."
    if errors:
        raise ValidationFailed(errors)


def _consent_json(consent: Mapping[str, Any]) -> dict[str, Any]:
    stored = dict(consent)
    for name in ("obtained_at", "expires_at"):
        if consent.get(name) is not None:
            stored[name] = consent[name].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return stored


def _check_not_withdrawn(
    session: Session,
    case: Case,
    receiver_id: uuid.UUID,
    consent: Mapping[str, Any],
    errors: dict[str, str],
) -> None:
    """After the client withdrew consent for this receiver (or for all), a new referral to
    it needs consent obtained after the withdrawal."""
    withdrawn_at = session.scalar(
        select(func.max(ConsentWithdrawal.withdrawn_at)).where(
            ConsentWithdrawal.case_id == case.id,
            or_(
                ConsentWithdrawal.organization_id.is_(None),
                ConsentWithdrawal.organization_id == receiver_id,
            ),
        )
    )
    if withdrawn_at is not None and consent["obtained_at"] <= withdrawn_at:
        errors["consent"] = (
            f"The client withdrew consent for this organization on {withdrawn_at:%Y-%m-%d %H:%M}Z; "
            "record the new consent obtained since then (consent.obtained_at after it)."
        )


def _may_transfer(session: Session, actor: Actor, case: Case) -> bool:
    """The owner, or a receiver whose referral in the case is accepted and not ended."""
    if case.owner_organization_id == actor.organization_id:
        return True
    serving = select(Referral.id).where(
        Referral.case_id == case.id,
        Referral.to_organization_id == actor.organization_id,
        Referral.status.in_(SERVING),
    )
    return session.scalar(serving.limit(1)) is not None


def _target(
    session: Session, actor: Actor, data: Mapping[str, Any], errors: dict[str, str]
) -> Row[uuid.UUID, str] | None:
    """The receiving organization (and check the service asked for), noting what is wrong."""
    target = (
        session.connection()
        .execute(TARGET_ORGANIZATION, {"organization_id": data["to_organization_id"]})
        .first()
    )
    if target is None or target.status != "active":
        errors["to_organization_id"] = "No such active organization."
        return None
    if target.id == actor.organization_id:
        errors["to_organization_id"] = "An organization cannot refer to itself."
    if data.get("to_service_id") is None:
        return target
    service = session.get(Service, data["to_service_id"])
    if service is None or service.status != "active":
        errors["to_service_id"] = "No such active service."
    elif service.organization_id != target.id:
        errors["to_service_id"] = "This service belongs to another organization."
    elif data["service_type"] not in service.service_types:
        errors["service_type"] = (
            f"The service does not offer {data['service_type']} "
            f"(it offers {', '.join(service.service_types)})."
        )
    elif (
        data["service_type"] == "temporary_shelter"
        and service.beds_available == 0
        and not (data.get("capacity_override") or "").strip()
    ):
        errors["capacity_override"] = (
            "The shelter reports no free bed; give the reason for referring anyway."
        )
    return target
