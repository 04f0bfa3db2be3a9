"""The master key over the per-case data keys: give cases sealed before per-case keys a
key of their own, and rewrap every data key under a new master secret.

Both work a batch at a time, each batch its own transaction (the CLI commits it), so a
run can be stopped anywhere and run again: a case is wrapped either by the old secret or
by the new one (`Case.key_id` says which), never by neither.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..models import Case, WebhookSubscription
from . import crypto
from .referrals.cases import sealed_profile

DEFAULT_BATCH = 200


@dataclass(frozen=True)
class KeyCounts:
    """Live cases (not purged) by the master key that wraps their data key."""

    by_old: int
    by_new: int
    by_neither: int
    master_sealed: int


def counts(session: Session, *, old_secret: str, new_secret: str | None = None) -> KeyCounts:
    """How many live cases each key wraps (and how many are still master-sealed)."""
    old_id = crypto.key_id(old_secret)
    new_id = crypto.key_id(new_secret) if new_secret else None
    rows = session.execute(
        select(Case.key_id, func.count()).where(Case.purged_at.is_(None)).group_by(Case.key_id)
    ).all()
    tally = {key: number for key, number in rows}
    return KeyCounts(
        by_old=tally.pop(old_id, 0),
        by_new=tally.pop(new_id, 0) if new_id else 0,
        master_sealed=tally.pop(None, 0),
        by_neither=sum(tally.values()),
    )


def migrate_batch(session: Session, *, secret_key: str, limit: int = DEFAULT_BATCH) -> int:
    """Give up to `limit` master-sealed cases a data key of their own: open, reseal,
    wrap. Returns how many (0: none left)."""
    cases = session.scalars(
        select(Case)
        .where(Case.data_key.is_(None), Case.purged_at.is_(None))
        .order_by(Case.id)
        .limit(limit)
        .with_for_update()
    ).all()
    for case in cases:
        profile = crypto.open_sealed(secret_key, case.id, case.client_ciphertext)
        columns = sealed_profile(secret_key, case.id, profile)
        case.client_ciphertext = columns["client_ciphertext"]
        case.data_key = columns["data_key"]
        case.key_id = columns["key_id"]
    session.flush()
    return len(cases)


def rewrap_batch(
    session: Session, *, old_secret: str, new_secret: str, limit: int = DEFAULT_BATCH
) -> int:
    """Rewrap up to `limit` data keys still wrapped by `old_secret` under `new_secret`;
    the sealed profiles are not touched. Returns how many (0: none left)."""
    old_id, new_id = crypto.key_id(old_secret), crypto.key_id(new_secret)
    rows = session.execute(
        select(Case.id, Case.data_key)
        .where(Case.key_id == old_id, Case.purged_at.is_(None))
        .order_by(Case.id)
        .limit(limit)
        .with_for_update()
    ).all()
    for case_id, wrapped in rows:
        if wrapped is None:
            raise RuntimeError(f"case {case_id} has a key id but no data key")
        data_key = crypto.unwrap(old_secret, case_id, wrapped)
        session.execute(
            update(Case)
            .where(Case.id == case_id, Case.key_id == old_id)
            .values(data_key=crypto.wrap(new_secret, case_id, data_key), key_id=new_id)
        )
    return len(rows)


def reseal_webhook_secrets(session: Session, *, old_secret: str, new_secret: str) -> int:
    """Webhook signing secrets are sealed with the master key itself: reseal those still
    under `old_secret`. Returns how many secrets were resealed."""
    resealed = 0
    for subscription in session.scalars(select(WebhookSubscription).with_for_update()):
        for name in ("secret_sealed", "previous_secret_sealed"):
            sealed = getattr(subscription, name)
            if sealed is None:
                continue
            try:
                crypto.open_sealed(new_secret, subscription.id, sealed)
                continue  # done by an earlier run
            except crypto.DecryptionFailed:
                opened = crypto.open_sealed(old_secret, subscription.id, sealed)
            setattr(subscription, name, crypto.seal(new_secret, subscription.id, opened))
            resealed += 1
    session.flush()
    return resealed
