"""The append-only, hash-chained audit trail, and the definition of its hash.

    hash = SHA-256(prev_hash || canonical JSON of the event)

The canonical JSON has sorted keys, no whitespace and UTF-8 as is; `seq` is one of its
keys. An event's seq is known only once it is chained, so `event_body` builds the JSON in
two parts around it, and the trigger that chains (migration 20261122_0005) hashes
`prev_hash || body_head || seq || body_tail`: the one definition, in `event_hash`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from json.encoder import encode_basestring
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime

GENESIS_HASH = "0" * 64
# The fields of an event that are hashed (with its seq).
EVENT_FIELDS = (
    "occurred_at",
    "actor_principal_id",
    "actor_organization_id",
    "action",
    "entity_type",
    "entity_id",
    "summary",
)


def _format_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _text(value: Any) -> str:
    """A JSON value for a text field (or null)."""
    return "null" if value is None else encode_basestring(str(value))


# One encoder, made once: json.dumps with options builds a new one on every call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 as is: the form an event is hashed in."""
    return _CANONICAL.encode(value)


def event_body(
    *,
    occurred_at: datetime,
    actor_principal_id: uuid.UUID | str | None,
    actor_organization_id: uuid.UUID | str | None,
    action: str,
    entity_type: str,
    entity_id: str | None,
    summary: str,
) -> tuple[str, str]:
    """The event's canonical JSON, in the two parts around its `seq` (known only once the
    event is chained): keys in sorted order, the summary embedded as the canonical JSON
    text it is stored as, so verifying needs no JSON parsing."""
    head = (
        '{"action":'
        + _text(action)
        + ',"actor_organization_id":'
        + _text(actor_organization_id)
        + ',"actor_principal_id":'
        + _text(actor_principal_id)
        + ',"entity_id":'
        + _text(entity_id)
        + ',"entity_type":'
        + _text(entity_type)
        + ',"occurred_at":"'
        + _format_time(occurred_at)
        + '","seq":'
    )
    return head, ',"summary":' + summary + "}"


def event_hash(*, prev_hash: str, seq: int, **fields: Any) -> str:
    """SHA-256(prev_hash || canonical JSON of the event).

    The triggers of migration 20261122_0005 compute this digest from the two body
    parts stored in `audit_queue`; `services.audit.verify` recomputes it here.
    """
    head, tail = event_body(**fields)
    return hashlib.sha256((prev_hash + head + str(int(seq)) + tail).encode()).hexdigest()


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
    """The single row whose lock orders commits: the last seq and hash of the audit
    chain, and the last position handed to a partner event (`Event.position`).

    One row, so a committing writer takes one lock whatever it wrote first (two heads
    locked in either order could deadlock; migration 20261129_0014)."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
    last_event_position: Mapped[int] = mapped_column(BigInteger, server_default="0")


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
