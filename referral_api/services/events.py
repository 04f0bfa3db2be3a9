"""Partner events: written in the changing transaction (the outbox), read by the change
feed and the webhook worker with the API's visibility."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, exists, false, func, insert, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ..errors import Forbidden, ValidationFailed
from ..models import AuditHead, Event, Location, OverdueNotice, Referral
from ..models.base import utcnow
from ..models.organization import capacity_of
from . import regions
from .actors import Actor

if TYPE_CHECKING:  # the referral core emits events, so it is imported only for types
    from .referrals.record import ReferralRecord

EVENT_TYPES = (
    "referral.created",
    "referral.status_changed",
    "referral.overdue",
    "case.owner_changed",
    "organization.updated",
    "service.updated",
    "location.updated",
    "webhook.test",
)
# What a subscription may ask for and the feed may filter on (a test ping is not a change).
SUBSCRIBABLE_TYPES = tuple(t for t in EVENT_TYPES if t != "webhook.test")
DEFAULT_FEED_LIMIT = 100
MAX_FEED_LIMIT = 1000

_EVENTS = Event.__table__
_INSERT = insert(_EVENTS).values(
    id=bindparam("id"),
    type=bindparam("type"),
    occurred_at=bindparam("occurred_at"),
    data=bindparam("data"),
    audience=bindparam("audience"),
    referral_id=bindparam("referral_id"),
    organization_id=bindparam("organization_id"),
    subscription_id=bindparam("subscription_id"),
)


def _plain(value: Any) -> Any:
    """JSON-ready: ids and times as the strings of the wire format."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value


def emit(
    session: Session,
    *,
    type: str,
    data: Mapping[str, Any],
    audience: str,
    referral_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
    subscription_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
) -> uuid.UUID:
    """Write one event in the caller's transaction; it gets its position at COMMIT."""
    event_id = uuid.uuid4()
    session.connection().execute(
        _INSERT,
        {
            "id": event_id,
            "type": type,
            "occurred_at": occurred_at or utcnow(),
            "data": _plain(data),
            "audience": audience,
            "referral_id": referral_id,
            "organization_id": organization_id,
            "subscription_id": subscription_id,
        },
    )
    return event_id


# -- what is emitted ----------------------------------------------------------------------
# Thin payloads: ids, statuses, versions, organizations, service type, risk level. Never a
# client-profile field, a free-text note or outcome, or a confidential site's address.


def _referral_data(referral: ReferralRecord) -> dict[str, Any]:
    return {
        "referral_id": referral.id,
        "case_id": referral.case_id,
        "offer_id": referral.offer_id,
        "kind": referral.kind,
        "from_organization_id": referral.from_organization_id,
        "to_organization_id": referral.to_organization_id,
        "to_service_id": referral.to_service_id,
        "service_type": referral.service_type,
        "risk_level": referral.risk_level,
        "status": referral.status,
        "version": referral.version,
    }


def referral_created(session: Session, *, referral: ReferralRecord) -> None:
    """`referral.created`, for a referral just written."""
    emit(
        session,
        type="referral.created",
        data={
            **_referral_data(referral),
            "parent_referral_id": referral.parent_referral_id,
            "ack_due_at": referral.ack_due_at,
            "start_due_at": referral.start_due_at,
        },
        audience="referral",
        referral_id=referral.id,
        occurred_at=referral.created_at,
    )


def referral_status_changed(
    session: Session, *, referral: ReferralRecord, from_status: str, reason: str | None
) -> None:
    """`referral.status_changed`, for a referral just moved (its new row)."""
    emit(
        session,
        type="referral.status_changed",
        data={
            **_referral_data(referral),
            "from": from_status,
            "to": referral.status,
            "reason": reason,
        },
        audience="referral",
        referral_id=referral.id,
        occurred_at=referral.updated_at,
    )


def case_owner_changed(session: Session, *, referral: ReferralRecord) -> None:
    """`case.owner_changed`: an accepted transfer made its receiver the case owner."""
    emit(
        session,
        type="case.owner_changed",
        data={
            "case_id": referral.case_id,
            "referral_id": referral.id,
            "owner_organization_id": referral.to_organization_id,
            "transferred_by_organization_id": referral.from_organization_id,
        },
        audience="referral",
        referral_id=referral.id,
        occurred_at=referral.updated_at,
    )


def organization_updated(
    session: Session, *, organization: Any, change: str, fields: Iterable[str] = ()
) -> None:
    """`organization.updated` (change: created | updated | verified)."""
    emit(
        session,
        type="organization.updated",
        data={
            "organization_id": organization.id,
            "change": change,
            "fields": sorted(fields),
            "type": organization.type,
            "region_code": organization.region_code,
            "status": organization.status,
        },
        audience="directory",
        organization_id=organization.id,
    )


def service_updated(
    session: Session, *, service: Any, change: str, fields: Iterable[str] = ()
) -> None:
    """`service.updated` (change: created | updated), with its capacity."""
    emit(
        session,
        type="service.updated",
        data={
            "service_id": service.id,
            "organization_id": service.organization_id,
            "change": change,
            "fields": sorted(fields),
            "service_types": sorted(service.service_types),
            "status": service.status,
            "capacity": capacity_of(service),
        },
        audience="directory",
        organization_id=service.organization_id,
    )


def location_updated(
    session: Session, *, location: Location, change: str, fields: Iterable[str] = ()
) -> None:
    """`location.updated`: a confidential site only as outsiders may see it (its regency,
    no name, address or coordinates), whoever reads the event."""
    region = location.region_code
    changed = sorted(fields)
    if location.confidential:
        region = regions.regency_of(region) if region else None
        # Naming a changed address would tell outsiders the site moved.
        changed = [f for f in changed if f not in ("name", "address", "latitude", "longitude")]
    emit(
        session,
        type="location.updated",
        data={
            "location_id": location.id,
            "organization_id": location.organization_id,
            "change": change,
            "fields": changed,
            "region_code": region,
            "country": location.country,
            "confidential": bool(location.confidential),
            "status": location.status,
        },
        audience="directory",
        organization_id=location.organization_id,
    )


# -- who may see what ---------------------------------------------------------------------


def visible_clause(actor: Actor) -> ColumnElement[bool]:
    """SQL on Event: the events this caller may see (the API's visibility)."""
    from .referrals.visibility import coverage_clause, is_coordinator

    directory = Event.audience == "directory"
    if actor.is_admin:
        return Event.audience != "subscription"
    if is_coordinator(actor):
        covered = exists().where(
            Referral.id == Event.referral_id, coverage_clause(actor.coverage_code or "")
        )
        return or_(directory, and_(Event.audience == "referral", covered))
    if actor.organization_id is not None:
        org = actor.organization_id
        party = exists().where(
            Referral.id == Event.referral_id,
            or_(Referral.from_organization_id == org, Referral.to_organization_id == org),
        )
        return or_(directory, and_(Event.audience == "referral", party))
    if actor.is_authenticated:
        return directory
    return false()


# -- the change feed ----------------------------------------------------------------------


@dataclass(frozen=True)
class FeedItem:
    cursor: str
    id: uuid.UUID
    type: str
    occurred_at: datetime
    data: dict[str, Any]


@dataclass(frozen=True)
class FeedPage:
    items: list[FeedItem]
    next_cursor: str


def parse_types(types: Sequence[str] | None, *, field: str = "types") -> list[str]:
    """Event type names, each known (a 422 naming the field otherwise)."""
    wanted: list[str] = []
    for raw in types or ():
        wanted += [t.strip() for t in raw.split(",") if t.strip()]
    unknown = sorted(set(wanted) - set(SUBSCRIBABLE_TYPES))
    if unknown:
        raise ValidationFailed(
            {
                field: f"Unknown event type(s): {', '.join(unknown)}. Known: "
                + ", ".join(SUBSCRIBABLE_TYPES)
                + "."
            }
        )
    return sorted(set(wanted))


def parse_cursor(raw: str | None) -> int:
    if raw is None or raw == "":
        return 0
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise ValidationFailed(
            {"after": "Not a cursor: give a next_cursor or cursor from this feed."}
        )
    return int(raw)


_HEAD = select(AuditHead.last_event_position).where(AuditHead.id == 1)
_MAX_POSITION = select(func.max(Event.position))


def feed(
    session: Session,
    *,
    actor: Actor,
    after: str | None = None,
    limit: int = DEFAULT_FEED_LIMIT,
    types: Sequence[str] | None = None,
) -> FeedPage:
    """The events after a cursor, in commit order, that the caller may see.

    `next_cursor` moves past events the caller may not see too, so a reader never scans
    them twice. It never moves past an event that has not committed: the scan stops at
    the largest position committed when it began, and positions are handed out in commit
    order, so every smaller one has committed as well.
    """
    if not actor.is_authenticated:
        raise Forbidden("The change feed needs a token.")
    position = parse_cursor(after)
    wanted = parse_types(types)
    limit = max(1, min(int(limit), MAX_FEED_LIMIT))
    top = session.scalar(_MAX_POSITION) or 0
    if position > max(top, session.scalar(_HEAD) or 0):
        raise ValidationFailed(
            {"after": "No such cursor in this feed (it is past the newest event)."}
        )
    stmt = (
        select(Event.position, Event.id, Event.type, Event.occurred_at, Event.data)
        .where(Event.position > position, Event.position <= top, visible_clause(actor))
        .order_by(Event.position)
        .limit(limit)
    )
    if wanted:
        stmt = stmt.where(Event.type.in_(wanted))
    rows = session.execute(stmt).all()
    items = [FeedItem(str(r.position), r.id, r.type, r.occurred_at, dict(r.data)) for r in rows]
    next_position = rows[-1].position if len(rows) == limit else max(position, top)
    return FeedPage(items, str(next_position))


# -- deadlines ----------------------------------------------------------------------------

DEADLINES = ("acknowledge", "start")


def _missed(deadline: str, now: datetime) -> tuple[ColumnElement[bool], Any]:
    """SQL: the referral missed this deadline (and has no notice of it yet); its due time."""
    from .referrals.deadlines import missed_clause
    from .referrals.rules import TERMINAL

    missed = missed_clause(deadline, now)
    due = Referral.ack_due_at if deadline == "acknowledge" else Referral.start_due_at
    noticed = exists().where(
        OverdueNotice.referral_id == Referral.id, OverdueNotice.deadline == deadline
    )
    return and_(Referral.status.not_in(TERMINAL), missed, ~noticed), due


def overdue_pending(session: Session, *, now: datetime | None = None) -> bool:
    """Whether a deadline was missed that has no `referral.overdue` yet (a read only)."""
    now = now or utcnow()
    return any(
        session.scalar(select(exists().where(_missed(deadline, now)[0]))) for deadline in DEADLINES
    )


def emit_overdue(session: Session, *, now: datetime | None = None, batch: int = 500) -> int:
    """Emit `referral.overdue` once for each deadline missed so far; return how many.

    The notice row (referral, deadline) is the once-only guarantee: it is written in the
    event's transaction, and its primary key refuses a second one.
    """
    now = now or utcnow()
    emitted = 0
    for deadline in DEADLINES:
        missed, due = _missed(deadline, now)
        rows = session.execute(
            select(Referral, due.label("due_at")).where(missed).order_by(due).limit(batch)
        ).all()
        for referral, due_at in rows:
            event_id = emit(
                session,
                type="referral.overdue",
                data={**_referral_data(referral), "deadline": deadline, "due_at": due_at},
                audience="referral",
                referral_id=referral.id,
                occurred_at=now,
            )
            session.connection().execute(
                insert(OverdueNotice.__table__),
                {
                    "referral_id": referral.id,
                    "deadline": deadline,
                    "event_id": event_id,
                    "created_at": now,
                },
            )
            emitted += 1
    return emitted
