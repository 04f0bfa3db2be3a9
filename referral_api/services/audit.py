"""The hash-chained audit trail: append in the caller's transaction, verify the chain."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

from sqlalchemy import DateTime, event, select, type_coerce
from sqlalchemy.orm import Session

from ..models import GENESIS_HASH, AuditEvent, AuditHead, AuditQueue
from ..models.base import utcnow, uuid_text
from .actors import Actor

_head = AuditHead.__table__
_queue = AuditQueue.__table__
_QUEUE_INSERT = _queue.insert()


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

    The database triggers that chain queued events compute the same digest from the
    same two body parts (migration 20261122_0005); `verify` recomputes it here.
    """
    head, tail = event_body(**fields)
    return hashlib.sha256((prev_hash + head + str(int(seq)) + tail).encode()).hexdigest()


_PENDING = "referral_api.audit_pending"
_DURABLE = "referral_api.audit_durable"


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID | str | None,
    summary: Mapping[str, Any] | None = None,
    durable: bool = False,
) -> None:
    """Queue one event for the chain; it is appended when the transaction commits.

    A `durable` event (a refused attempt that must leave a trace) is kept when the
    transaction rolls back; `commit_durable` then writes it on its own.
    """
    fields = {
        "occurred_at": utcnow(),
        "actor_principal_id": actor.principal_id,
        "actor_organization_id": actor.organization_id,
        "action": action,
        "entity_type": entity_type,
        "entity_id": None if entity_id is None else str(entity_id),
        "summary": canonical_json(dict(summary or {})),
    }
    session.info.setdefault(_PENDING, []).append(fields)
    if durable:
        session.info.setdefault(_DURABLE, []).append(fields)


def append_pending(session: Session) -> int:
    """Hand the queued events to the chain, in the caller's transaction.

    They go into `audit_queue` as the transaction's last statement; a trigger chains
    them (see `AuditQueue`). Appending takes the chain head's lock, which serializes every
    writer until its commit: on PostgreSQL the trigger waits for COMMIT itself, so no
    round trip to the application happens while the head is locked.
    """
    pending = session.info.pop(_PENDING, [])
    session.info.pop(_DURABLE, None)  # committed along with the rest
    if not pending:
        return 0
    session.flush()
    # One execute per event, in order: a list of parameters would be an executemany,
    # which psycopg runs in pipeline mode, far costlier for the usual one or two events.
    connection = session.connection()
    for fields in pending:
        head, tail = event_body(**fields)
        connection.execute(_QUEUE_INSERT, {**fields, "body_head": head, "body_tail": tail})
    return len(pending)


def discard_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def commit_durable(session: Session) -> None:
    """After a rollback, write the durable events in a transaction of their own."""
    durable = session.info.pop(_DURABLE, [])
    if durable:
        session.info[_PENDING] = durable
        session.commit()


@event.listens_for(Session, "before_commit")
def _append_before_commit(session: Session) -> None:
    append_pending(session)


@event.listens_for(Session, "after_soft_rollback")
def _discard_after_rollback(session: Session, previous_transaction: Any) -> None:
    if not previous_transaction.nested:
        discard_pending(session)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str | None = None


def verify(session: Session, *, batch_size: int = 5000) -> Verdict:
    """Recompute the whole chain; name the first event that does not fit."""
    dialect = session.get_bind().dialect.name
    columns = (
        AuditEvent.seq,
        # Plain UTC timestamps and ids as text: hashing formats them, and building
        # time-zone and UUID objects for a million rows would cost more than the hashing.
        type_coerce(AuditEvent.occurred_at, DateTime),
        uuid_text(dialect, AuditEvent.actor_principal_id),
        uuid_text(dialect, AuditEvent.actor_organization_id),
        AuditEvent.action,
        AuditEvent.entity_type,
        AuditEvent.entity_id,
        AuditEvent.summary,
        AuditEvent.prev_hash,
        AuditEvent.hash,
    )
    rows: Iterable[Any] = session.connection().execute(
        select(*columns).order_by(AuditEvent.seq).execution_options(yield_per=batch_size)
    )
    expected_seq, running = 1, GENESIS_HASH
    checked = 0
    for (
        seq,
        occurred_at,
        principal,
        organization,
        action,
        kind,
        entity,
        summary,
        prev,
        digest,
    ) in rows:
        if seq != expected_seq:
            return Verdict(False, checked, expected_seq, f"event {expected_seq} is missing")
        if prev != running:
            return Verdict(False, checked, seq, "prev_hash does not match the chain")
        recomputed = event_hash(
            prev_hash=prev,
            seq=seq,
            occurred_at=occurred_at,
            actor_principal_id=principal,
            actor_organization_id=organization,
            action=action,
            entity_type=kind,
            entity_id=entity,
            summary=summary,
        )
        if recomputed != digest:
            return Verdict(False, checked, seq, "event content does not match its hash")
        running = digest
        expected_seq += 1
        checked += 1
    head = session.execute(select(_head.c.last_seq, _head.c.last_hash)).one()
    if head.last_seq < checked:
        broken = head.last_seq + 1
        return Verdict(False, checked, broken, "event was added outside the chain head")
    if head.last_seq != checked or head.last_hash != running:
        # The head remembers more events than the table holds: the newest were removed.
        return Verdict(False, checked, checked + 1, "events after the last one are missing")
    return Verdict(True, checked)
