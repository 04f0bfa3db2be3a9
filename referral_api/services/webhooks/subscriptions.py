"""Webhook subscriptions, as their owners manage them: sealed secrets and their rotation,
who owns what, the test ping, the delivery log and redelivery."""

from __future__ import annotations

import base64
import secrets as random_secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from ...errors import Forbidden, NotFound, ValidationFailed
from ...models import Event, Role, WebhookAttempt, WebhookDelivery, WebhookSubscription
from ...models.base import utcnow
from .. import audit, crypto, events
from ..actors import Actor
from ..pagination import Page, paginate
from .addresses import url_refusal

MAX_PER_OWNER = 20
SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32
MANAGERS = (Role.ORG_ADMIN, Role.COORDINATOR, Role.ADMIN)


@dataclass(frozen=True)
class Settings:
    """What the subscription rules need from the configuration."""

    secret_key: str
    allow_private: bool = False
    rotation_hours: float = 24.0


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


def audit_change(
    session: Session, actor: Actor, action: str, subscription: Any, **summary: Any
) -> None:
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
    audit_change(
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
    audit_change(session, actor, "delete", subscription)


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
    audit_change(
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
    audit_change(session, actor, "test", subscription, event_id=str(event_id))
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
    audit_change(
        session, actor, "redeliver", subscription, from_number=from_number, to_number=to_number
    )
    return int(queued or 0)
