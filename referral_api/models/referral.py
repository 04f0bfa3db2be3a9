"""Cases, referrals between organizations, their status events and idempotency keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, UTCDateTime, new_id, utcnow

REFERRAL_STATUSES = (
    "requested",
    "received",
    "accepted",
    "in-progress",
    "on-hold",
    "completed",
    "rejected",
    "failed",
    "cancelled",
    "entered-in-error",
)


class Case(Base):
    """The thread that groups the referrals of one client."""

    __tablename__ = "cases"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    # The owning organization's own reference (e.g. "TRC-2026-017"); no personal data.
    reference: Mapped[str | None] = mapped_column(String(100))
    owner_organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id"), index=True
    )
    status: Mapped[str] = mapped_column(String(10), default="open")
    # AES-GCM: format byte, 12-byte nonce, ciphertext and tag; the case id is the AAD.
    # Format 2 is sealed with the case's own data key, format 1 (before 20261129_0009's
    # data step) with the master key. Empty once purged (crypto-shredded).
    client_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    # The case's data key, wrapped (AES-GCM) by the master key whose fingerprint is
    # `key_id` (services/crypto.py); None for a format-1 profile and once purged.
    data_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_id: Mapped[str | None] = mapped_column(String(16), index=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Closure by the owner (POST /cases/{id}/close): a CASE_OUTCOMES code and a note.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    closed_outcome: Mapped[str | None] = mapped_column(String(40))
    closed_note: Mapped[str | None] = mapped_column(Text)
    # When retention destroyed the profile and its key (`referral-api retention purge`).
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ConsentWithdrawal(Base):
    """The client withdrew consent to share the case with an organization (or with every
    organization but the owner: `organization_id` None). Referrals whose consent was
    obtained before `withdrawn_at` give that organization no access from then on."""

    __tablename__ = "consent_withdrawals"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"))
    withdrawn_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    principal_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("principals.id"))
    note: Mapped[str | None] = mapped_column(Text)


class Referral(Base):
    __tablename__ = "referrals"
    __table_args__ = (
        CheckConstraint("from_organization_id <> to_organization_id", name="not_to_itself"),
        CheckConstraint("kind IN ('referral', 'transfer')", name="kind_known"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_referrals_from_status", "from_organization_id", "status"),
        Index("ix_referrals_to_status", "to_organization_id", "status"),
        Index("ix_referrals_ack_due_at", "ack_due_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    parent_referral_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("referrals.id"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    from_organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"))
    from_principal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("principals.id"))
    to_organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"))
    to_service_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("services.id"))
    service_type: Mapped[str] = mapped_column(ForeignKey("service_types.code"))
    risk_level: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text)
    worker_role: Mapped[str] = mapped_column(String(20))
    consent: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # The consent's `expires_at`, as a column so that access checks can compare it.
    consent_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    capacity_override: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="requested")
    status_reason: Mapped[str | None] = mapped_column(String(30))
    status_note: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ack_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    start_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When each milestone was first reached: the per-hop timings and the deadlines.
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)


class ReferralRegion(Base):
    """A region a referral's sender or receiver lay in when it was sent: the home regions
    of both organizations and, where a service is named, the regions of its sites (a
    confidential one at regency level). Coordinators' coverage reads these, so a later
    move of an organization moves no referral out of a coordinator's sight."""

    __tablename__ = "referral_regions"

    referral_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("referrals.id"), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(20), primary_key=True)


class ReferralEvent(Base):
    """One status change of a referral (its creation included)."""

    __tablename__ = "referral_events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    referral_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("referrals.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    principal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("principals.id"))
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"))
    # `sender` or `receiver`: the side of the referral that made the change.
    role: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("uq_referral_events_version", "referral_id", "version", unique=True),)


class IdempotencyKey(Base):
    """A stored response to a create, replayed for a retry with the same key and body."""

    __tablename__ = "idempotency_keys"

    principal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("principals.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
