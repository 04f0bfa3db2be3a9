"""Partner events: the transactional outbox behind the change feed and the webhooks."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, UTCDateTime, new_id, utcnow

EVENT_AUDIENCES = ("referral", "directory", "subscription")


class Event(Base):
    """One committed change a partner may care about, written in the change's transaction.

    `position` is the feed's cursor. It is NULL until the writing transaction commits:
    a database trigger takes it from `audit_head` (on PostgreSQL deferred to COMMIT, under
    the head's row lock), so positions increase in commit order and a reader who has seen
    position n has already been able to see every smaller one. Readers skip NULLs.

    Who may see it (`audience`): `referral` — the referral's sender and receiver, the
    coordinators covering it, admins; `directory` — every authenticated caller (the data
    of a confidential location is redacted as for outsiders); `subscription` — only the
    one webhook subscription named (a `webhook.test` ping).
    """

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint(
            "audience IN ('referral', 'directory', 'subscription')", name="audience_known"
        ),
        CheckConstraint(
            "audience <> 'referral' OR referral_id IS NOT NULL", name="referral_has_referral"
        ),
        Index("ix_events_type_position", "type", "position"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    position: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    type: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    audience: Mapped[str] = mapped_column(String(12))
    referral_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("referrals.id"), index=True)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"))
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("webhook_subscriptions.id")
    )


class OverdueNotice(Base):
    """A `referral.overdue` event already emitted: once per referral and missed deadline."""

    __tablename__ = "overdue_notices"

    referral_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("referrals.id"), primary_key=True)
    # `acknowledge` or `start`
    deadline: Mapped[str] = mapped_column(String(12), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
