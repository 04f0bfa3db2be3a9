"""The hash-chained audit trail: append in the caller's transaction, verify the chain."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import DateTime, bindparam, select, type_coerce
from sqlalchemy.orm import Session

from ..models import GENESIS_HASH, AuditEvent, AuditHead, AuditQueue
from ..models.audit import EVENT_FIELDS, canonical_json, event_body, event_hash
from ..models.base import utcnow, uuid_text
from .actors import Actor

_head = AuditHead.__table__
_queue = AuditQueue.__table__
_QUEUE_INSERT = _queue.insert().values(
    {name: bindparam(name) for name in (*EVENT_FIELDS, "body_head", "body_tail")}
)
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
    """Append one event to the chain, in the caller's transaction.

    The event goes into `audit_queue`, whose trigger chains it (migration
    20261122_0005; on PostgreSQL at COMMIT, so the chain head is locked only while the
    transaction commits). A rollback undoes it with the rest. A `durable` event (a
    refused attempt that must leave a trace) is also kept on the session, and the
    request boundary writes it again on its own after rolling back (`commit_durable`).
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
    _append(session, fields)
    if durable:
        session.info.setdefault(_DURABLE, []).append(fields)


def _append(session: Session, fields: Mapping[str, Any]) -> None:
    head, tail = event_body(**fields)
    session.connection().execute(_QUEUE_INSERT, {**fields, "body_head": head, "body_tail": tail})


def commit_durable(session: Session) -> None:
    """After a rollback, write the durable events in a transaction of their own."""
    durable = session.info.pop(_DURABLE, [])
    for fields in durable:
        _append(session, fields)
    if durable:
        session.commit()


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
