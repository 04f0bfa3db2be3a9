"""Principals: the people and integrations that hold API tokens."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, new_id, utcnow
from .organization import Organization


class Role(enum.StrEnum):
    CASEWORKER = "caseworker"
    ORG_ADMIN = "org_admin"
    COORDINATOR = "coordinator"
    ADMIN = "admin"


class Principal(Base):
    __tablename__ = "principals"
    __table_args__ = (
        CheckConstraint(
            "role IN ('caseworker', 'org_admin', 'coordinator', 'admin')", name="role_known"
        ),
        CheckConstraint(
            "role NOT IN ('caseworker', 'org_admin') OR organization_id IS NOT NULL",
            name="member_has_organization",
        ),
        CheckConstraint(
            "role <> 'coordinator' OR coverage_code IS NOT NULL", name="coordinator_has_coverage"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id"), index=True
    )
    role: Mapped[str] = mapped_column(String(20))
    coverage_code: Mapped[str | None] = mapped_column(String(13))
    # SHA-256 hex digest of the token; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organization: Mapped[Organization | None] = relationship()
