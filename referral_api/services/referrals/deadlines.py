"""Deadlines: acknowledge by risk level, start within days for some service types."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy import case as sql_case

from ...models import Referral
from ...models.base import utcnow
from ...vocabularies import START_DEADLINE_TYPES
from .record import ReferralRecord
from .rules import TERMINAL


@dataclass(frozen=True)
class Settings:
    """What the referral rules need from the configuration."""

    secret_key: str
    ack_hours: Mapping[str, float]
    start_days: float
    # How long a receiver keeps the client profile after its referral completed or failed.
    closed_access_days: float = 30.0


def due_times(
    settings: Settings, *, risk_level: str, service_type: str, now: datetime
) -> tuple[datetime, datetime | None]:
    """When a referral sent now must be acknowledged, and started (if its type has that)."""
    ack_due = now + timedelta(hours=settings.ack_hours[risk_level])
    if service_type not in START_DEADLINE_TYPES:
        return ack_due, None
    return ack_due, now + timedelta(days=settings.start_days)


def overdue_reasons(referral: ReferralRecord, now: datetime) -> list[str]:
    """Which deadlines have passed unmet: `acknowledge`, `start`."""
    if referral.status in TERMINAL:
        return []
    reasons = []
    if referral.acknowledged_at is None and referral.ack_due_at < now:
        reasons.append("acknowledge")
    due = referral.start_due_at
    if due is not None and referral.started_at is None and due < now:
        reasons.append("start")
    return reasons


def first_unmet_deadline() -> ColumnElement[datetime | None]:
    """SQL: the deadline a referral has been waiting on longest."""
    return sql_case(
        (Referral.acknowledged_at.is_(None), Referral.ack_due_at), else_=Referral.start_due_at
    )


def missed_clause(deadline: str, now: datetime) -> ColumnElement[bool]:
    """SQL: the referral's `acknowledge` or `start` deadline passed unmet (whatever its
    status: `overdue_clause` leaves out the ended ones)."""
    if deadline == "acknowledge":
        return and_(Referral.acknowledged_at.is_(None), Referral.ack_due_at < now)
    return and_(
        Referral.start_due_at.is_not(None),
        Referral.started_at.is_(None),
        Referral.start_due_at < now,
    )


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """SQL: the referral has a deadline that passed unmet."""
    return and_(
        Referral.status.not_in(TERMINAL),
        or_(missed_clause("acknowledge", now), missed_clause("start", now)),
    )


@dataclass(frozen=True, slots=True)
class ReferralView(ReferralRecord):
    """A referral with its deadline state as of a moment: what the API shows."""

    overdue_reasons: list[str]
    overdue_since: datetime | None
    overdue_by_s: int | None
    must_act_organization_id: uuid.UUID | None

    @property
    def overdue(self) -> bool:
        return bool(self.overdue_reasons)

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


def view(referral: ReferralRecord, now: datetime | None = None) -> ReferralView:
    """The referral with its deadline state as of `now` (default: this moment)."""
    now = now or utcnow()
    reasons = overdue_reasons(referral, now)
    due = {"acknowledge": referral.ack_due_at, "start": referral.start_due_at}
    since = min((d for reason in reasons if (d := due[reason]) is not None), default=None)
    return ReferralView(
        **referral.columns(),
        overdue_reasons=reasons,
        overdue_since=since,
        overdue_by_s=None if since is None else round((now - since).total_seconds()),
        must_act_organization_id=referral.to_organization_id if reasons else None,
    )
