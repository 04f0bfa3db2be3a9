"""Webhook subscriptions (Standard Webhooks 1.0): who owns them, where they may point,
their sealed secrets, and the numbered deliveries the worker sends."""

from __future__ import annotations

import base64
import ipaddress
import secrets as random_secrets
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import and_, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session

from ..errors import Forbidden, NotFound, ValidationFailed
from ..models import Event, Principal, Role, WebhookAttempt, WebhookDelivery, WebhookSubscription
from ..models.base import utcnow
from . import audit, crypto, events
from .actors import Actor
from .pagination import Page, paginate

MAX_PER_OWNER = 20
MAX_URL_LENGTH = 2000
SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32
MANAGERS = (Role.ORG_ADMIN, Role.COORDINATOR, Role.ADMIN)


@dataclass(frozen=True)
class Settings:
    """What the subscription rules need from the configuration."""

    secret_key: str
    allow_private: bool = False
    rotation_hours: float = 24.0


# -- where a webhook may point ------------------------------------------------------------


def _forbidden_address(address: str) -> str | None:
    """Why an address is not a public internet host (None: it is)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for name, flag in (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local (cloud metadata)", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
    ):
        if flag:
            return f"{address} is a {name} address"
    if not ip.is_global:
        return f"{address} is not a public internet address"
    return None


def url_refusal(url: str, *, allow_private: bool) -> str | None:
    """Why the worker must not send to this URL (None: it may).

    Checked at registration and again before every attempt, since DNS may change.
    """
    if len(url) > MAX_URL_LENGTH:
        return f"At most {MAX_URL_LENGTH} characters."
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "Not a valid URL."
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "Give an absolute https:// URL."
    if parts.username is not None or parts.password is not None:
        return "Credentials in the URL are not accepted; authenticate by the signature."
    if allow_private:
        return None
    if parts.scheme != "https":
        return "Must be https."
    try:
        infos = socket.getaddrinfo(
            parts.hostname, port or 443, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError):
        return f"The host {parts.hostname} does not resolve."
    for info in infos:
        reason = _forbidden_address(str(info[4][0]))
        if reason is not None:
            return f"The host {parts.hostname} resolves to a forbidden address: {reason}."
    return None


# -- secrets ------------------------------------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(random_secrets.token_bytes(SECRET_BYTES)).decode()


def _seal(settings_key: str, subscription_id: uuid.UUID, secret: str) -> bytes:
    return crypto.seal(settings_key, subscription_id, {"webhook_secret": secret})


def signing_secrets(secret_key: str, subscription: Any, now: datetime | None = None) -> list[str]:
    """The secrets to sign with: the current one, and the previous one in its grace period."""
    now = now or utcnow()
    opened = [crypto.open_sealed(secret_key, subscription.id, subscription.secret_sealed)]
    if (
        subscription.previous_secret_sealed is not None
        and subscription.previous_secret_expires_at is not None
        and subscription.previous_secret_expires_at > now
    ):
        opened.append(
            crypto.open_sealed(secret_key, subscription.id, subscription.previous_secret_sealed)
        )
    return [str(o["webhook_secret"]) for o in opened]


# -- who owns what ------------------------------------------------------------------------


def _require_manager(actor: Actor) -> None:
    if actor.role not in MANAGERS:
        raise Forbidden("Webhooks are managed by org_admins, coordinators and admins.")


def _owned_clause(actor: Actor) -> Any:
    if actor.is_admin:
        return WebhookSubscription.id.is_not(None)
    if actor.role == Role.ORG_ADMIN and actor.organization_id is not None:
        return WebhookSubscription.owner_organization_id == actor.organization_id
    return and_(
        WebhookSubscription.owner_organization_id.is_(None),
        WebhookSubscription.owner_principal_id == actor.principal_id,
    )


def get_subscription(
    session: Session, *, actor: Actor, subscription_id: uuid.UUID
) -> WebhookSubscription:
    """A subscription the actor manages (404 for any other)."""
    _require_manager(actor)
    subscription = session.scalar(
        select(WebhookSubscription).where(
            WebhookSubscription.id == subscription_id,
            WebhookSubscription.deleted_at.is_(None),
            _owned_clause(actor),
        )
    )
    if subscription is None:
        raise NotFound(f"Webhook subscription {subscription_id} does not exist.")
    return subscription


def list_subscriptions(
    session: Session, *, actor: Actor, page: int, per_page: int
) -> Page[WebhookSubscription]:
    """The subscriptions the actor manages."""
    _require_manager(actor)
    stmt = (
        select(WebhookSubscription)
        .where(WebhookSubscription.deleted_at.is_(None), _owned_clause(actor))
        .order_by(WebhookSubscription.created_at, WebhookSubscription.id)
    )
    return paginate(session, stmt, page=page, per_page=per_page)


def _audit(session: Session, actor: Actor, action: str, subscription: Any, **summary: Any) -> None:
    audit.record(
        session,
        actor=actor,
        action=f"webhook.{action}",
        entity_type="webhook",
        entity_id=subscription.id,
        summary=summary,
    )


def create_subscription(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    url: str,
    event_types: Sequence[str] | None = None,
    description: str | None = None,
) -> tuple[WebhookSubscription, str]:
    """Subscribe an endpoint; return it with its secret, which is shown only this once."""
    _require_manager(actor)
    errors: dict[str, str] = {}
    try:
        types = events.parse_types(event_types or [], field="event_types")
    except ValidationFailed as error:
        errors.update({k: " ".join(v) for k, v in error.errors.items()})
        types = []
    reason = url_refusal(url, allow_private=settings.allow_private)
    if reason is not None:
        errors["url"] = reason
    by_organization = actor.role == Role.ORG_ADMIN
    owner_count = session.scalar(
        select(func.count())
        .select_from(WebhookSubscription)
        .where(WebhookSubscription.deleted_at.is_(None), _owned_clause(actor))
    )
    if not actor.is_admin and (owner_count or 0) >= MAX_PER_OWNER:
        whose = "This organization" if by_organization else "You"
        errors["url"] = (
            f"{whose} already has {MAX_PER_OWNER} webhook subscriptions, the most allowed; "
            "delete one first."
        )
    if errors:
        raise ValidationFailed(errors)
    now = utcnow()
    secret = new_secret()
    subscription = WebhookSubscription(
        id=uuid.uuid4(),
        owner_organization_id=actor.organization_id if by_organization else None,
        owner_principal_id=None if by_organization else actor.principal_id,
        owner_role=Role.ADMIN if actor.is_admin else str(actor.role),
        coverage_code=actor.coverage_code if actor.role == Role.COORDINATOR else None,
        created_by=actor.principal_id,
        url=url,
        description=description,
        event_types=types,
        status="active",
        last_position=_head_position(session),
        last_number=0,
        created_at=now,
        updated_at=now,
    )
    subscription.secret_sealed = _seal(settings.secret_key, subscription.id, secret)
    session.add(subscription)
    session.flush()
    _audit(
        session, actor, "create", subscription, url_host=urlsplit(url).hostname, event_types=types
    )
    return subscription, secret


def _head_position(session: Session) -> int:
    """A new subscription starts with the events committed after it (the feed has the past)."""
    return session.scalar(select(func.max(Event.position))) or 0


def delete_subscription(session: Session, *, actor: Actor, subscription_id: uuid.UUID) -> None:
    """Stop a subscription (kept, marked deleted, for the audit trail and its log)."""
    subscription = get_subscription(session, actor=actor, subscription_id=subscription_id)
    now = utcnow()
    subscription.deleted_at = now
    subscription.status = "disabled"
    subscription.disabled_reason = "deleted by its owner"
    subscription.disabled_at = now
    subscription.updated_at = now
    session.flush()
    _audit(session, actor, "delete", subscription)


def rotate_secret(
    session: Session, *, actor: Actor, settings: Settings, subscription_id: uuid.UUID
) -> tuple[WebhookSubscription, str]:
    """Give the subscription a new secret; the old one still signs during the grace period."""
    subscription = get_subscription(session, actor=actor, subscription_id=subscription_id)
    now = utcnow()
    secret = new_secret()
    subscription.previous_secret_sealed = subscription.secret_sealed
    subscription.previous_secret_expires_at = now + timedelta(hours=settings.rotation_hours)
    subscription.secret_sealed = _seal(settings.secret_key, subscription.id, secret)
    subscription.updated_at = now
    session.flush()
    _audit(
        session,
        actor,
        "rotate_secret",
        subscription,
        previous_valid_until=subscription.previous_secret_expires_at.isoformat(),
    )
    return subscription, secret


def send_test(session: Session, *, actor: Actor, subscription_id: uuid.UUID) -> uuid.UUID:
    """Queue a `webhook.test` event for this subscription only."""
    subscription = get_subscription(session, actor=actor, subscription_id=subscription_id)
    event_id = events.emit(
        session,
        type="webhook.test",
        data={"subscription_id": subscription.id},
        audience="subscription",
        subscription_id=subscription.id,
    )
    _audit(session, actor, "test", subscription, event_id=str(event_id))
    return event_id


@dataclass(frozen=True)
class DeliveryView:
    number: int
    event_id: uuid.UUID
    type: str
    status: str
    attempts: list[WebhookAttempt]
    next_attempt_at: datetime | None
    delivered_at: datetime | None


def list_deliveries(
    session: Session, *, actor: Actor, subscription_id: uuid.UUID, page: int, per_page: int
) -> Page[DeliveryView]:
    """The delivery log, newest number first, each with its attempts."""
    get_subscription(session, actor=actor, subscription_id=subscription_id)
    stmt = (
        select(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == subscription_id)
        .order_by(WebhookDelivery.number.desc())
    )
    found = paginate(session, stmt, page=page, per_page=per_page)
    numbers = [d.number for d in found.items]
    attempts: dict[int, list[WebhookAttempt]] = {n: [] for n in numbers}
    types = {
        event_id: kind
        for event_id, kind in session.execute(
            select(Event.id, Event.type).where(Event.id.in_([d.event_id for d in found.items]))
        )
    }
    if numbers:
        for attempt in session.scalars(
            select(WebhookAttempt)
            .where(
                WebhookAttempt.subscription_id == subscription_id,
                WebhookAttempt.number.in_(numbers),
            )
            .order_by(WebhookAttempt.id)
        ):
            attempts[attempt.number].append(attempt)
    items = [
        DeliveryView(
            number=d.number,
            event_id=d.event_id,
            type=types.get(d.event_id, ""),
            status=d.status,
            attempts=attempts[d.number],
            next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
            delivered_at=d.delivered_at,
        )
        for d in found.items
    ]
    return Page(items=items, page=found.page, per_page=found.per_page, total=found.total)


def redeliver(
    session: Session,
    *,
    actor: Actor,
    subscription_id: uuid.UUID,
    from_number: int,
    to_number: int,
) -> int:
    """Send the deliveries numbered from..to again, in order (re-enabling the
    subscription if it was disabled); return how many were queued."""
    subscription = get_subscription(session, actor=actor, subscription_id=subscription_id)
    errors: dict[str, str] = {}
    if from_number < 1:
        errors["from_number"] = "Numbers start at 1."
    if to_number < from_number:
        errors["to_number"] = "Must not be less than from_number."
    elif to_number > subscription.last_number:
        errors["to_number"] = f"The last number sent so far is {subscription.last_number}."
    if errors:
        raise ValidationFailed(errors)
    now = utcnow()
    queued = (
        session.connection()
        .execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.subscription_id == subscription.id,
                WebhookDelivery.number.between(from_number, to_number),
                or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now),
            )
            .values(status="pending", next_attempt_at=now, locked_until=None, lease=None)
        )
        .rowcount
    )
    if subscription.status == "disabled":
        subscription.status = "active"
        subscription.disabled_reason = None
        subscription.disabled_at = None
    subscription.updated_at = now
    session.flush()
    _audit(session, actor, "redeliver", subscription, from_number=from_number, to_number=to_number)
    return int(queued or 0)


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
    _audit(session, Actor.system(), "disable", subscription, reason=reason)


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
