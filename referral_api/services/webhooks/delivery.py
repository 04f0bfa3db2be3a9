"""The worker's side of webhooks: fan-out of events into numbered deliveries, claims
under a lease, and what each attempt came to."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session

from ...models import Event, Principal, WebhookAttempt, WebhookDelivery, WebhookSubscription
from ...models.base import utcnow
from .. import events
from ..actors import Actor
from .subscriptions import audit_change, signing_secrets

# -- the worker's side: fan-out, claims and results ---------------------------------------

_DELIVERIES = WebhookDelivery.__table__
_ATTEMPTS = WebhookAttempt.__table__


def audience_of(subscription: Any) -> Actor:
    """Whose visibility the subscription has."""
    return Actor(
        principal_id=subscription.owner_principal_id or subscription.created_by,
        organization_id=subscription.owner_organization_id,
        role=subscription.owner_role,
        coverage_code=subscription.coverage_code,
    )


def _lock(stmt: Any, session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt  # SQLite: the writer holds the whole database


def fan_out(session: Session, *, now: datetime | None = None, batch: int = 1000) -> int:
    """Number the new events each active subscription should receive; return how many."""
    now = now or utcnow()
    top = session.scalar(select(func.max(Event.position))) or 0
    subscriptions = session.scalars(
        _lock(
            select(WebhookSubscription).where(
                WebhookSubscription.status == "active",
                WebhookSubscription.deleted_at.is_(None),
                WebhookSubscription.last_position < top,
            ),
            session,
        )
    ).all()
    created = 0
    for subscription in subscriptions:
        if _owner_gone(session, subscription, now):
            continue
        # Positions are dense (a rolled-back writer gives its position back), so the
        # window holds at most `batch` events.
        upper = min(top, subscription.last_position + batch)
        wanted = or_(
            events.visible_clause(audience_of(subscription)),
            and_(Event.audience == "subscription", Event.subscription_id == subscription.id),
        )
        stmt = select(Event.id, Event.type).where(
            Event.position > subscription.last_position, Event.position <= upper, wanted
        )
        if subscription.event_types:
            stmt = stmt.where(
                or_(Event.type.in_(subscription.event_types), Event.type == "webhook.test")
            )
        rows = session.execute(stmt.order_by(Event.position)).all()
        number = subscription.last_number
        values = []
        for row in rows:
            number += 1
            values.append(
                {
                    "subscription_id": subscription.id,
                    "number": number,
                    "event_id": row.id,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
        if values:
            session.execute(WebhookDelivery.__table__.insert(), values)
        subscription.last_position = upper
        subscription.last_number = number
        created += len(values)
    session.flush()
    return created


def pending_work(session: Session, *, now: datetime | None = None) -> tuple[bool, bool]:
    """Whether a subscription has events to number, and whether a delivery is due: two
    cheap reads, so an idle worker never takes a write lock (SQLite has only one)."""
    now = now or utcnow()
    top = select(func.max(Event.position)).scalar_subquery()
    live = and_(WebhookSubscription.status == "active", WebhookSubscription.deleted_at.is_(None))
    behind = session.scalar(select(exists().where(live, WebhookSubscription.last_position < top)))
    due = session.scalar(
        select(
            exists().where(
                WebhookDelivery.subscription_id == WebhookSubscription.id,
                live,
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
                or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until <= now),
            )
        )
    )
    return bool(behind), bool(due)


def _owner_gone(session: Session, subscription: WebhookSubscription, now: datetime) -> bool:
    """A principal-owned subscription stops when its owner's token is revoked or expired."""
    if subscription.owner_principal_id is None:
        return False
    owner = session.get(Principal, subscription.owner_principal_id)
    if (
        owner is not None
        and owner.revoked_at is None
        and (owner.expires_at is None or owner.expires_at > now)
    ):
        return False
    disable(session, subscription=subscription, reason="the owner's token was revoked or expired")
    return True


def disable(session: Session, *, subscription: WebhookSubscription, reason: str) -> None:
    """Stop delivering to a subscription; its owner sees why."""
    now = utcnow()
    subscription.status = "disabled"
    subscription.disabled_reason = reason
    subscription.disabled_at = now
    subscription.updated_at = now
    session.flush()
    audit_change(session, Actor.system(), "disable", subscription, reason=reason)


@dataclass(frozen=True)
class Claim:
    """One delivery a worker has leased and will attempt."""

    subscription_id: uuid.UUID
    number: int
    lease: uuid.UUID
    url: str
    event_id: uuid.UUID
    type: str
    occurred_at: datetime
    data: dict[str, Any]
    cursor: str
    secrets: list[str]
    attempts: int


def claim(
    session: Session,
    *,
    secret_key: str,
    lease_s: float,
    now: datetime | None = None,
    limit: int = 64,
    per_subscription: int = 1,
) -> list[Claim]:
    """Lease the next due deliveries (up to `per_subscription`, consecutive numbers) of
    each subscription that has none in flight; the worker sends them one at a time, in
    order, and stops at the first that fails."""
    now = now or utcnow()
    deliveries = WebhookDelivery
    due = exists().where(
        deliveries.subscription_id == WebhookSubscription.id,
        deliveries.status == "pending",
        deliveries.next_attempt_at <= now,
    )
    in_flight = exists().where(
        deliveries.subscription_id == WebhookSubscription.id,
        deliveries.status == "pending",
        deliveries.locked_until > now,
    )
    subscriptions = session.scalars(
        _lock(
            select(WebhookSubscription)
            .where(
                WebhookSubscription.status == "active",
                WebhookSubscription.deleted_at.is_(None),
                due,
                ~in_flight,
            )
            .limit(limit),
            session,
        )
    ).all()
    claims = []
    leases = []
    connection = session.connection()
    for subscription in subscriptions:
        heads = connection.execute(
            _HEADS, {"subscription": subscription.id, "per_subscription": per_subscription}
        ).all()
        taken = []
        for head in heads:
            # Strictly in order: a later delivery never overtakes the head's retry.
            if head.next_attempt_at is None or head.next_attempt_at > now:
                break
            taken.append(head)
        if not taken:
            continue
        lease = uuid.uuid4()
        signing = signing_secrets(secret_key, subscription, now)
        leases.append(
            {
                "subscription": subscription.id,
                "first": taken[0].number,
                "last": taken[-1].number,
                "lease_given": lease,
                "until": now + timedelta(seconds=lease_s),
            }
        )
        claims += [
            Claim(
                subscription_id=subscription.id,
                number=head.number,
                lease=lease,
                url=subscription.url,
                event_id=head.event_id,
                type=head.type,
                occurred_at=head.occurred_at,
                data=dict(head.data),
                cursor=str(head.position),
                secrets=signing,
                attempts=head.attempts,
            )
            for head in taken
        ]
    if leases:
        connection.execute(_LEASE, leases)
    return claims


_EVENTS = Event.__table__
_HEADS = (
    select(
        _DELIVERIES.c.number,
        _DELIVERIES.c.next_attempt_at,
        _DELIVERIES.c.attempts,
        _DELIVERIES.c.event_id,
        _EVENTS.c.type,
        _EVENTS.c.occurred_at,
        _EVENTS.c.data,
        _EVENTS.c.position,
    )
    .join(_EVENTS, _EVENTS.c.id == _DELIVERIES.c.event_id)
    .where(
        _DELIVERIES.c.subscription_id == bindparam("subscription"),
        _DELIVERIES.c.status == "pending",
    )
    .order_by(_DELIVERIES.c.number)
    .limit(bindparam("per_subscription"))
)
_LEASE = (
    update(_DELIVERIES)
    .where(
        _DELIVERIES.c.subscription_id == bindparam("subscription"),
        _DELIVERIES.c.number.between(bindparam("first"), bindparam("last")),
        _DELIVERIES.c.status == "pending",
    )
    .values(lease=bindparam("lease_given"), locked_until=bindparam("until"))
)


def release(session: Session, *, claims: Sequence[Claim]) -> None:
    """Give back leased deliveries that were not attempted (an earlier one failed)."""
    for claimed in claims:
        session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.subscription_id == claimed.subscription_id,
                WebhookDelivery.number == claimed.number,
                WebhookDelivery.lease == claimed.lease,
            )
            .values(lease=None, locked_until=None)
            .execution_options(synchronize_session=False)
        )


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to."""

    attempted_at: datetime
    duration_ms: float
    status_code: int | None = None
    error: str | None = None
    retry_after_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


# A subscription's leased deliveries up to the last one that succeeded (they are sent in
# order and the batch stops at the first failure, so the successes are a prefix).
_DELIVERED = (
    update(_DELIVERIES)
    .where(
        _DELIVERIES.c.subscription_id == bindparam("subscription"),
        _DELIVERIES.c.lease == bindparam("lease_held"),
        _DELIVERIES.c.number <= bindparam("last_ok"),
        _DELIVERIES.c.status == "pending",
    )
    .values(
        status="delivered",
        delivered_at=bindparam("now"),
        attempts=_DELIVERIES.c.attempts + 1,
        next_attempt_at=None,
        locked_until=None,
        lease=None,
    )
)
_LOG_ATTEMPT = insert(_ATTEMPTS)


def record(
    session: Session,
    *,
    results: Sequence[tuple[Claim, Outcome]],
    schedule: Sequence[float],
) -> None:
    """Write the results of a round's attempts (per subscription in number order, only
    its last one possibly failed): the successes by one statement per subscription, a
    failure as a retry later or, after the last retry or a 410, the end of the
    subscription. Every attempt is logged."""
    if not results:
        return
    now = utcnow()
    last_ok: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
    for claimed, outcome in results:
        if outcome.ok:
            key = (claimed.subscription_id, claimed.lease)
            last_ok[key] = max(last_ok.get(key, 0), claimed.number)
    connection = session.connection()
    if last_ok:
        connection.execute(
            _DELIVERED,
            [
                {"subscription": sub, "lease_held": lease, "last_ok": number, "now": now}
                for (sub, lease), number in last_ok.items()
            ],
        )
    next_retry: dict[tuple[uuid.UUID, int], datetime | None] = {}
    for claimed, outcome in results:
        if not outcome.ok:
            next_retry[(claimed.subscription_id, claimed.number)] = _record_failure(
                session, claimed, outcome, schedule, now
            )
    connection.execute(
        _LOG_ATTEMPT,
        [
            {
                "subscription_id": claimed.subscription_id,
                "number": claimed.number,
                "attempted_at": outcome.attempted_at,
                "status_code": outcome.status_code,
                "error": outcome.error,
                "duration_ms": round(outcome.duration_ms, 1),
                "next_retry_at": next_retry.get((claimed.subscription_id, claimed.number)),
                "details": None,
            }
            for claimed, outcome in results
        ],
    )


def _record_failure(
    session: Session, claimed: Claim, outcome: Outcome, schedule: Sequence[float], now: datetime
) -> datetime | None:
    """A failed attempt: when to retry (None: no retry, the subscription is disabled)."""
    delivery = session.get(WebhookDelivery, (claimed.subscription_id, claimed.number))
    assert delivery is not None
    if delivery.lease != claimed.lease or delivery.status != "pending":
        return None  # the lease ran out and another worker took it over
    delivery.attempts += 1
    delivery.locked_until = None
    delivery.lease = None
    reason = None
    if outcome.status_code == 410:
        reason = f"the endpoint answered 410 Gone to delivery {claimed.number}"
    elif delivery.attempts > len(schedule):
        reason = (
            f"delivery {claimed.number} failed {delivery.attempts} times; last: {describe(outcome)}"
        )
    if reason is not None:
        delivery.status = "failed"
        delivery.next_attempt_at = None
        subscription = session.get(WebhookSubscription, claimed.subscription_id)
        assert subscription is not None
        disable(session, subscription=subscription, reason=reason)
        return None
    wait = schedule[delivery.attempts - 1]
    if outcome.retry_after_s is not None:
        wait = max(wait, min(outcome.retry_after_s, MAX_RETRY_AFTER_S))
    delivery.next_attempt_at = now + timedelta(seconds=wait)
    session.flush()
    return delivery.next_attempt_at


MAX_RETRY_AFTER_S = 24 * 3600.0


def describe(outcome: Outcome) -> str:
    if outcome.status_code is not None:
        return f"HTTP {outcome.status_code}"
    return outcome.error or "no answer"
