"""Shelter offers: one request sent to 2-5 services at once; the first acceptance wins.

An offer is not a second state machine. It sends one ordinary referral per service
(`create`), grouped by `offer_id`; accepting one of them (`lifecycle`) fills the offer and
cancels the others with `filled_elsewhere` in the same transaction; an offer nobody
accepts in time is closed here, its referrals cancelled with `expired`. Receivers read a
de-identified summary until they accept (`cases.client_summary`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...errors import Forbidden, ValidationFailed
from ...models import Organization, ReferralOffer, Service
from ...models.base import utcnow
from .. import audit
from ..actors import Actor
from .create import case_to_refer, create_referral, open_case
from .deadlines import Settings
from .lifecycle import close_offer
from .record import ReferralRecord
from .rules import WRITERS

# How long receivers have to accept when the sender does not say (minutes).
DEFAULT_EXPIRY_MINUTES = {"high": 120, "medium": 360, "low": 1440}
MIN_TARGETS, MAX_TARGETS = 2, 5


@dataclass(frozen=True)
class Offer:
    offer_id: uuid.UUID
    expires_at: datetime
    referrals: list[ReferralRecord]


def create_offer(
    session: Session, *, actor: Actor, settings: Settings, data: Mapping[str, Any]
) -> Offer:
    """Send the same referral to 2-5 services of different organizations at once."""
    if actor.role not in WRITERS or actor.organization_id is None or actor.principal_id is None:
        raise Forbidden("Only caseworkers and org_admins of an organization send offers.")
    if (data.get("case_id") is None) == (data.get("case") is None):
        raise ValidationFailed({"case_id": "Give either case_id or an inline new case."})
    if data["kind"] != "referral":
        raise ValidationFailed(
            {"kind": "An offer asks for a service (kind referral); a transfer has one receiver."}
        )
    services = _targets(session, actor, data)
    now = utcnow()
    if data.get("case_id") is not None:
        case_id = case_to_refer(session, actor=actor, settings=settings, case_id=data["case_id"]).id
    else:
        case_id = open_case(session, actor=actor, settings=settings, case=data["case"])
    minutes = data.get("expires_in_minutes") or DEFAULT_EXPIRY_MINUTES[data["risk_level"]]
    offer = ReferralOffer(
        id=uuid.uuid4(),
        case_id=case_id,
        from_organization_id=actor.organization_id,
        from_principal_id=actor.principal_id,
        service_type=data["service_type"],
        status="open",
        expires_at=now + timedelta(minutes=minutes),
        created_at=now,
    )
    session.add(offer)
    session.flush()
    common = {k: v for k, v in data.items() if k not in ("to_service_ids", "expires_in_minutes")}
    referrals = [
        create_referral(
            session,
            actor=actor,
            settings=settings,
            data={
                **common,
                "case_id": case_id,
                "case": None,
                "to_organization_id": service.organization_id,
                "to_service_id": service.id,
            },
            offer_id=offer.id,
        )
        for service in services
    ]
    audit.record(
        session,
        actor=actor,
        action="referral_offer.create",
        entity_type="referral_offer",
        entity_id=offer.id,
        summary={
            "case_id": str(case_id),
            "service_type": offer.service_type,
            "referral_ids": [str(r.id) for r in referrals],
            "expires_at": offer.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )
    return Offer(offer.id, offer.expires_at, referrals)


def _targets(session: Session, actor: Actor, data: Mapping[str, Any]) -> list[Service]:
    """The services asked for, in the order given, or 422 naming what is wrong."""
    ids = list(data["to_service_ids"])
    field = "to_service_ids"
    if len(set(ids)) != len(ids):
        raise ValidationFailed({field: "Name each service once."})
    if not MIN_TARGETS <= len(ids) <= MAX_TARGETS:
        raise ValidationFailed({field: f"Give {MIN_TARGETS} to {MAX_TARGETS} services."})
    found = {
        service.id: service
        for service in session.scalars(
            select(Service)
            .join(Organization, Organization.id == Service.organization_id)
            .where(Service.id.in_(ids), Service.status == "active", Organization.status == "active")
        )
    }
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise ValidationFailed({field: f"No such active service: {', '.join(missing)}."})
    services = [found[i] for i in ids]
    lacking = [s.name for s in services if data["service_type"] not in s.service_types]
    if lacking:
        raise ValidationFailed(
            {"service_type": f"Not offered by: {', '.join(lacking)} (an offer is one type)."}
        )
    organizations = [s.organization_id for s in services]
    if len(set(organizations)) != len(organizations):
        raise ValidationFailed({field: "Give services of different organizations."})
    if actor.organization_id in organizations:
        raise ValidationFailed({field: "An organization cannot refer to itself."})
    return services


def expire_offers(session: Session, *, now: datetime | None = None) -> int:
    """Close the open offers past their expiry, cancelling their open referrals
    (`expired`); return how many referrals were cancelled."""
    now = now or utcnow()
    due = session.scalars(
        select(ReferralOffer)
        .where(ReferralOffer.status == "open", ReferralOffer.expires_at <= now)
        .order_by(ReferralOffer.expires_at, ReferralOffer.id)
        # Another worker's offers are left to it; an acceptance holding one waits for us.
        .with_for_update(skip_locked=True)
    ).all()
    cancelled = 0
    for offer in due:
        offer.status, offer.closed_at = "expired", now
        session.flush()
        closed = close_offer(
            session,
            offer_id=offer.id,
            sender=(offer.from_principal_id, offer.from_organization_id),
            reason="expired",
            keep=None,
        )
        cancelled += closed
        audit.record(
            session,
            actor=Actor.system(),
            action="referral_offer.expire",
            entity_type="referral_offer",
            entity_id=offer.id,
            summary={"cancelled": closed},
        )
    return cancelled
