"""The hash-chained audit trail: append in the caller's transaction, verify the chain."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session

from ..models import GENESIS_HASH, AuditEvent, AuditHead
from ..models.base import utcnow
from .actors import Actor

_head = AuditHead.__table__


def _format_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def canonical_json(event: Mapping[str, Any]) -> str:
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(
    *,
    prev_hash: str,
    seq: int,
    occurred_at: datetime,
    actor_principal_id: uuid.UUID | None,
    actor_organization_id: uuid.UUID | None,
    action: str,
    entity_type: str,
    entity_id: str | None,
    summary: Mapping[str, Any],
) -> str:
    """SHA-256(prev_hash || canonical JSON of the event)."""
    body = canonical_json(
        {
            "seq": seq,
            "occurred_at": _format_time(occurred_at),
            "actor_principal_id": _str_or_none(actor_principal_id),
            "actor_organization_id": _str_or_none(actor_organization_id),
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "summary": summary,
        }
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


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

    Appending takes the chain head's row lock (PostgreSQL) or the write lock (SQLite),
    which serializes every writer until its commit. Taking it at the last moment, just
    before COMMIT, keeps that window short whatever else the transaction does.
    """
    fields = {
        "occurred_at": utcnow(),
        "actor_principal_id": actor.principal_id,
        "actor_organization_id": actor.organization_id,
        "action": action,
        "entity_type": entity_type,
        "entity_id": _str_or_none(entity_id),
        "summary": dict(summary or {}),
    }
    session.info.setdefault(_PENDING, []).append(fields)
    if durable:
        session.info.setdefault(_DURABLE, []).append(fields)


def append_pending(session: Session) -> int:
    """Append the queued events to the chain, in the caller's transaction."""
    pending = session.info.pop(_PENDING, [])
    session.info.pop(_DURABLE, None)  # committed along with the rest
    if not pending:
        return 0
    session.flush()
    # The UPDATE of the single head row takes its lock before anything is hashed, so
    # concurrent writers are serialized and each sees the hash its predecessor committed.
    last_seq, prev_hash = session.execute(
        update(_head)
        .where(_head.c.id == 1)
        .values(last_seq=_head.c.last_seq + len(pending))
        .returning(_head.c.last_seq, _head.c.last_hash)
    ).one()
    rows = []
    for offset, fields in enumerate(pending):
        seq = last_seq - len(pending) + 1 + offset
        digest = event_hash(prev_hash=prev_hash, seq=seq, **fields)
        rows.append({"seq": seq, "prev_hash": prev_hash, "hash": digest, **fields})
        prev_hash = digest
    session.execute(insert(AuditEvent), rows)
    session.execute(update(_head).where(_head.c.id == 1).values(last_hash=prev_hash))
    return len(rows)


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


_COLUMNS = (
    AuditEvent.seq,
    AuditEvent.occurred_at,
    AuditEvent.actor_principal_id,
    AuditEvent.actor_organization_id,
    AuditEvent.action,
    AuditEvent.entity_type,
    AuditEvent.entity_id,
    AuditEvent.summary,
    AuditEvent.prev_hash,
    AuditEvent.hash,
)


def verify(session: Session, *, batch_size: int = 5000) -> Verdict:
    """Recompute the whole chain; name the first event that does not fit."""
    rows: Iterable[Any] = session.execute(
        select(*_COLUMNS).order_by(AuditEvent.seq).execution_options(yield_per=batch_size)
    )
    expected_seq, running = 1, GENESIS_HASH
    checked = 0
    for row in rows:
        if row.seq != expected_seq:
            return Verdict(False, checked, expected_seq, f"event {expected_seq} is missing")
        if row.prev_hash != running:
            return Verdict(False, checked, row.seq, "prev_hash does not match the chain")
        digest = event_hash(
            prev_hash=row.prev_hash,
            seq=row.seq,
            occurred_at=row.occurred_at,
            actor_principal_id=row.actor_principal_id,
            actor_organization_id=row.actor_organization_id,
            action=row.action,
            entity_type=row.entity_type,
            entity_id=row.entity_id,
            summary=row.summary,
        )
        if digest != row.hash:
            return Verdict(False, checked, row.seq, "event content does not match its hash")
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
