"""The one shape a referral has above the database: a frozen record of its columns."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Self

from sqlalchemy import Row


@dataclass(frozen=True, slots=True)
class ReferralRecord:
    """A referral as stored: one field per column of `referrals` (a test keeps them equal)."""

    id: uuid.UUID
    case_id: uuid.UUID
    parent_referral_id: uuid.UUID | None
    kind: str
    from_organization_id: uuid.UUID
    from_principal_id: uuid.UUID
    to_organization_id: uuid.UUID
    to_service_id: uuid.UUID | None
    service_type: str
    risk_level: str
    reason: str
    worker_role: str
    consent: dict[str, Any]
    consent_expires_at: datetime | None
    capacity_override: str | None
    status: str
    status_reason: str | None
    status_note: str | None
    outcome: str | None
    created_at: datetime
    updated_at: datetime
    ack_due_at: datetime
    start_due_at: datetime | None
    acknowledged_at: datetime | None
    decided_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    closed_at: datetime | None
    version: int

    @classmethod
    def from_row(cls, row: Row[Any]) -> Self:
        """From a row that has every column (and perhaps more)."""
        values = row._mapping
        return cls(**{name: values[name] for name in FIELD_NAMES})

    def columns(self) -> dict[str, Any]:
        """Column name -> value, as an INSERT takes them."""
        return {name: getattr(self, name) for name in FIELD_NAMES}


FIELD_NAMES = tuple(f.name for f in fields(ReferralRecord))
