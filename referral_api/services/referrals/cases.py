"""A case and its client profile: sealed at rest with the case's own data key, read by
those whose access is open, every read (and every refused one) audited."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from ...errors import Forbidden, Gone
from ...models import Case, Organization
from ...models.base import utcnow
from .. import audit, crypto
from ..actors import Actor
from .deadlines import Settings
from .rules import TERMINAL
from .visibility import get_referral, is_coordinator, may_read_profile, readable_case


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
            "Your organization's access to this client's profile has ended, or not begun: its "
            "referrals in the case were rejected, cancelled or ended more than "
            f"{settings.closed_access_days:g} days ago, the client's consent was withdrawn "
            "or expired, or it received the case in a shelter offer it has not accepted "
            "(until then GET /referrals/{id}/client-summary)."
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
    """The de-identified summary of a referral's client: for whoever may read the profile
    now, and for the referral's receiver while the referral is open and its consent holds
    (a shelter offer's receivers, before they accept). Not once the referral has ended:
    an offer's other receivers lose it when the offer is filled or expires."""
    referral = get_referral(session, actor=actor, referral_id=referral_id)
    case = session.get(Case, referral.case_id)
    assert case is not None
    now = utcnow()
    deciding = (
        actor.organization_id == referral.to_organization_id
        and not is_coordinator(actor)
        and referral.status not in TERMINAL
        and (referral.consent_expires_at is None or referral.consent_expires_at > now)
    )
    if not deciding and not may_read_profile(
        session, actor=actor, case=case, now=now, closed_access_days=settings.closed_access_days
    ):
        raise Forbidden(
            "Only the referral's receiver while the referral is open, and whoever may read "
            "the client's profile, read its client summary."
        )
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
        age_band=age_band(client, now.date()),
        gender=client["gender"],
        needs=list(client.get("needs") or []),
        languages=list(client.get("languages") or []),
        from_organization={"id": sender.id, "name": sender.name, "type": sender.type},
    )
