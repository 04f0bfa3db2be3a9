"""A case and its client profile: sealed at rest, read by parties, every read audited."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NoReturn

from sqlalchemy.orm import Session

from ...errors import Forbidden
from ...models import Case, Organization
from ...models.base import utcnow
from .. import audit, crypto
from ..actors import Actor
from .deadlines import Settings
from .visibility import get_referral, is_coordinator, may_read_profile, readable_case


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
        _refuse(
            session,
            actor,
            case,
            "Coordinators oversee referrals; the client profile is not theirs to see.",
        )
    if not may_read_profile(session, actor=actor, case=case):
        _refuse(
            session,
            actor,
            case,
            "Your organization received this case in a shelter offer: the client profile "
            "opens when it accepts (until then GET /referrals/{id}/client-summary).",
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
        client=profile,
    )


def _refuse(session: Session, actor: Actor, case: Case, reason: str) -> NoReturn:
    """Audit a refused read of the profile (kept though the request fails) and raise 403."""
    audit.record(
        session,
        actor=actor,
        action="case.read_client_denied",
        entity_type="case",
        entity_id=case.id,
        summary={"role": actor.role},
        durable=True,
    )
    raise Forbidden(reason)


@dataclass(frozen=True)
class ClientSummary:
    """What a receiver sees before it accepts: nothing that identifies the client."""

    referral_id: uuid.UUID
    offer_id: uuid.UUID | None
    service_type: str
    risk_level: str
    age_band: str
    gender: str
    needs: list[str]
    languages: list[str]
    from_organization: dict[str, Any]


# Upper bounds (exclusive) of the age bands; children are banded by the rules that differ
# for them (consent under 18, early childhood).
AGE_BANDS = ((6, "0-5"), (12, "6-11"), (18, "12-17"), (25, "18-24"), (60, "25-59"))


def age_band(client: dict[str, Any], today: date) -> str:
    """The client's age band (from the age, or the birth year: then perhaps a year older)."""
    age = client.get("age")
    if age is None:
        age = today.year - int(client["birth_year"]) - 1
    return next((band for upper, band in AGE_BANDS if age < upper), "60+")


def client_summary(
    session: Session, *, actor: Actor, settings: Settings, referral_id: uuid.UUID
) -> ClientSummary:
    """The de-identified summary of a referral's client, for its sender and receiver."""
    referral = get_referral(session, actor=actor, referral_id=referral_id)
    parties = (referral.from_organization_id, referral.to_organization_id)
    if not actor.is_admin and actor.organization_id not in parties:
        raise Forbidden("Only the referral's sender and receiver read its client summary.")
    case = session.get(Case, referral.case_id)
    assert case is not None
    client = client_profile(settings, case)
    sender = session.get(Organization, referral.from_organization_id)
    assert sender is not None
    audit.record(
        session,
        actor=actor,
        action="case.read_summary",
        entity_type="case",
        entity_id=case.id,
        summary={"referral_id": str(referral.id)},
    )
    return ClientSummary(
        referral_id=referral.id,
        offer_id=referral.offer_id,
        service_type=referral.service_type,
        risk_level=referral.risk_level,
        age_band=age_band(client, utcnow().date()),
        gender=client["gender"],
        needs=list(client.get("needs") or []),
        languages=list(client.get("languages") or []),
        from_organization={"id": sender.id, "name": sender.name, "type": sender.type},
    )
