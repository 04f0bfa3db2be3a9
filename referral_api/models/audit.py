"""The append-only, hash-chained audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime

GENESIS_HASH = "0" * 64


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_entity", "entity_type", "entity_id"),
        Index("ix_audit_events_occurred_at", "occurred_at"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_principal_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    actor_organization_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    action: Mapped[str] = mapped_column(String(60), index=True)
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    # Canonical JSON text (see services.audit.canonical_json), hashed exactly as stored.
    summary: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The single row that serializes appends: the last seq and hash of the chain."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditQueue(Base):
    """Events on their way into the chain.

    A row inserted here is chained by a database trigger: it takes the next `seq` from
    `audit_head` (whose row lock serializes appenders), hashes `prev_hash || body_head ||
    seq || body_tail` with SHA-256, appends the event to `audit_events` and deletes the
    queued row. On PostgreSQL the trigger is deferred to COMMIT, so the head is locked
    only while the transaction commits; on SQLite the whole writing transaction already
    holds the write lock. The body parts are the event's canonical JSON around its `seq`,
    built by `services.audit` so that one piece of code defines what is hashed.
    """

    __tablename__ = "audit_queue"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_principal_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor_organization_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    action: Mapped[str] = mapped_column(String(60))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text)
    body_head: Mapped[str] = mapped_column(Text)
    body_tail: Mapped[str] = mapped_column(Text)
