"""Cases and referrals: creation with consent, the FHIR Task lifecycle, deadlines, chains."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy import case as sql_case
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from ..errors import (
    Forbidden,
    InvalidTransition,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    ValidationFailed,
)
from ..models import (
    Case,
    IdempotencyKey,
    Location,
    Organization,
    Referral,
    ReferralEvent,
    Role,
    Service,
    service_locations,
)
from ..models.base import utcnow
from ..vocabularies import CHILD_CONSENT_BASES, NATIONAL, START_DEADLINE_TYPES
from . import audit, crypto, directory, events, regions
from .actors import Actor
from .pagination import Page, paginate

SENDER_STATUSES = frozenset({"cancelled", "entered-in-error"})
RECEIVER_STATUSES = frozenset(
    {"received", "accepted", "rejected", "in-progress", "on-hold", "completed", "failed"}
)
TERMINAL = frozenset({"rejected", "completed", "failed", "cancelled", "entered-in-error"})
_ANY_ACTIVE = frozenset({"cancelled", "entered-in-error"})
NEXT: dict[str, frozenset[str]] = {
    "requested": frozenset({"received", "accepted", "rejected"}) | _ANY_ACTIVE,
    "received": frozenset({"accepted", "rejected"}) | _ANY_ACTIVE,
    "accepted": frozenset({"in-progress", "failed"}) | _ANY_ACTIVE,
    "in-progress": frozenset({"on-hold", "completed", "failed"}) | _ANY_ACTIVE,
    "on-hold": frozenset({"in-progress"}) | _ANY_ACTIVE,
    "rejected": frozenset({"entered-in-error"}),
    "completed": frozenset({"entered-in-error"}),
    "failed": frozenset({"entered-in-error"}),
    "cancelled": frozenset({"entered-in-error"}),
    "entered-in-error": frozenset(),
}
NEEDS_REASON = frozenset({"rejected", "failed"})
ACKNOWLEDGED = RECEIVER_STATUSES
DECIDED = frozenset({"accepted", "rejected"})
WRITERS = (Role.CASEWORKER, Role.ORG_ADMIN)

# Referrals are written by statements built once and run on the session's connection,
# rows in and rows out: for these one-row changes the ORM's unit of work cost more
# than the database did.
_REFERRALS = Referral.__table__
_LOCK = select(_REFERRALS).where(_REFERRALS.c.id == bindparam("referral_id")).with_for_update()
_INSERT_REFERRAL = insert(_REFERRALS)
_INSERT_EVENT = insert(ReferralEvent.__table__)
_COLUMNS = tuple(column.name for column in _REFERRALS.c)


# What the views read a referral from: the ORM object, a row, or the values just written.
ReferralRecord = Referral | SimpleNamespace | Row[Any]


def _as_written(values: Mapping[str, Any]) -> SimpleNamespace:
    """A referral as just written: each column the value it was given (None if none)."""
    return SimpleNamespace(**{name: values.get(name) for name in _COLUMNS})


@dataclass(frozen=True)
class Settings:
    """What the referral rules need from the configuration."""

    secret_key: str
    ack_hours: Mapping[str, float]
    start_days: float


# -- who may see what -----------------------------------------------------------------------


def _party_clause(organization_id: uuid.UUID) -> ColumnElement[bool]:
    """SQL on Case: the organization owns the case or sent/received one of its referrals."""
    return or_(
        Case.owner_organization_id == organization_id,
        exists().where(
            Referral.case_id == Case.id,
            # A referral sent by mistake gives the wrong receiver nothing to keep.
            Referral.status != "entered-in-error",
            or_(
                Referral.from_organization_id == organization_id,
                Referral.to_organization_id == organization_id,
            ),
        ),
    )


def coverage_clause(coverage: str) -> ColumnElement[bool]:
    """SQL on Referral: its sender or receiver lies in the region (by home region, or by
    the locations of the referral's service). `ID` covers everything."""
    if coverage == NATIONAL:
        return true()
    sender, receiver = aliased(Organization), aliased(Organization)
    return or_(
        exists().where(
            sender.id == Referral.from_organization_id,
            regions.within(sender.region_code, coverage),
        ),
        exists().where(
            receiver.id == Referral.to_organization_id,
            regions.within(receiver.region_code, coverage),
        ),
        exists().where(
            service_locations.c.service_id == Referral.to_service_id,
            Location.id == service_locations.c.location_id,
            # A safe house counts at regency level only, as for every outsider: a
            # district-wide coordinator or report must not learn its district.
            regions.within(directory.redacted_region(), coverage),
        ),
    )


def is_coordinator(actor: Actor) -> bool:
    return actor.role == Role.COORDINATOR and actor.coverage_code is not None


def _readable_case(session: Session, actor: Actor, case_id: uuid.UUID) -> Case:
    """The case, if the actor may see it: admins; organizations party to it; coordinators
    whose coverage holds one of its referrals. Otherwise it does not exist (404)."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"Case {case_id} does not exist.")
    if actor.is_admin:
        return case
    if is_coordinator(actor):
        visible = exists().where(
            Referral.case_id == case_id, coverage_clause(actor.coverage_code or "")
        )
    elif actor.organization_id is not None:
        visible = _party_clause(actor.organization_id)
    else:
        raise NotFound(f"Case {case_id} does not exist.")
    if not session.scalar(select(visible).select_from(Case).where(Case.id == case_id)):
        raise NotFound(f"Case {case_id} does not exist.")
    return case


def get_referral(session: Session, *, actor: Actor, referral_id: uuid.UUID) -> Referral:
    """A referral the actor may see (party to its case, or in a coordinator's coverage)."""
    referral = session.get(Referral, referral_id)
    if referral is None:
        raise NotFound(f"Referral {referral_id} does not exist.")
    if is_coordinator(actor):
        in_coverage = session.scalar(
            select(coverage_clause(actor.coverage_code or "")).where(Referral.id == referral_id)
        )
        if not in_coverage:
            raise NotFound(f"Referral {referral_id} does not exist.")
        return referral
    try:
        _readable_case(session, actor, referral.case_id)
    except NotFound:
        raise NotFound(f"Referral {referral_id} does not exist.") from None
    return referral


# -- deadlines ------------------------------------------------------------------------------


def overdue_reasons(referral: ReferralRecord, now: datetime | None = None) -> list[str]:
    """Which deadlines have passed unmet: `acknowledge`, `start`."""
    now = now or utcnow()
    if referral.status in TERMINAL:
        return []
    reasons = []
    if referral.acknowledged_at is None and referral.ack_due_at < now:
        reasons.append("acknowledge")
    due = referral.start_due_at
    if due is not None and referral.started_at is None and due < now:
        reasons.append("start")
    return reasons


def first_unmet_deadline() -> ColumnElement[datetime]:
    """SQL: the deadline a referral has been waiting on longest."""
    return sql_case(
        (Referral.acknowledged_at.is_(None), Referral.ack_due_at), else_=Referral.start_due_at
    )


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """SQL: the referral has a deadline that passed unmet."""
    return and_(
        Referral.status.not_in(TERMINAL),
        or_(
            and_(Referral.acknowledged_at.is_(None), Referral.ack_due_at < now),
            and_(
                Referral.start_due_at.is_not(None),
                Referral.started_at.is_(None),
                Referral.start_due_at < now,
            ),
        ),
    )


# -- creation -------------------------------------------------------------------------------


def _possibly_minor(client: Mapping[str, Any], today: date) -> bool:
    if client.get("age") is not None:
        return int(client["age"]) < 18
    # Born in a year that makes 18 or less this year: not yet known to be an adult.
    return today.year - int(client["birth_year"]) <= 18


def _check_consent(consent: Mapping[str, Any], client: Mapping[str, Any], now: datetime) -> None:
    errors: dict[str, str] = {}
    basis = consent["basis"]
    if _possibly_minor(client, now.date()) and basis not in CHILD_CONSENT_BASES:
        errors["consent.basis"] = (
            "The client is (or may be) under 18: the basis must be guardian_consent, "
            "legal_obligation or vital_interest."
        )
    if basis == "vital_interest" and not (consent.get("justification") or "").strip():
        errors["consent.justification"] = "vital_interest needs a written justification."
    if consent["obtained_at"] > now + timedelta(minutes=5):
        errors["consent.obtained_at"] = "Must not be in the future."
    if errors:
        raise ValidationFailed(errors)


def _may_transfer(session: Session, actor: Actor, case: Case) -> bool:
    """The owner, or a receiver whose referral in the case is accepted and not ended."""
    if case.owner_organization_id == actor.organization_id:
        return True
    serving = select(Referral.id).where(
        Referral.case_id == case.id,
        Referral.to_organization_id == actor.organization_id,
        Referral.status.in_(("accepted", "in-progress", "on-hold")),
    )
    return session.scalar(serving.limit(1)) is not None


def _client_profile(settings: Settings, case: Case) -> dict[str, Any]:
    return crypto.open_sealed(settings.secret_key, case.id, case.client_ciphertext)


_TARGET = select(Organization.id, Organization.status).where(
    Organization.id == bindparam("organization_id")
)


def _target(
    session: Session, actor: Actor, data: Mapping[str, Any], errors: dict[str, str]
) -> tuple[Row[Any] | None, Service | None]:
    target = (
        session.connection()
        .execute(_TARGET, {"organization_id": data["to_organization_id"]})
        .first()
    )
    if target is None or target.status != "active":
        errors["to_organization_id"] = "No such active organization."
        return None, None
    if target.id == actor.organization_id:
        errors["to_organization_id"] = "An organization cannot refer to itself."
    service = None
    if data.get("to_service_id") is not None:
        service = session.get(Service, data["to_service_id"])
        if service is None or service.status != "active":
            errors["to_service_id"] = "No such active service."
            return target, None
        if service.organization_id != target.id:
            errors["to_service_id"] = "This service belongs to another organization."
        elif data["service_type"] not in service.service_types:
            errors["service_type"] = (
                f"The service does not offer {data['service_type']} "
                f"(it offers {', '.join(service.service_types)})."
            )
        elif (
            data["service_type"] == "temporary_shelter"
            and service.beds_available == 0
            and not (data.get("capacity_override") or "").strip()
        ):
            errors["capacity_override"] = (
                "The shelter reports no free bed; give the reason for referring anyway."
            )
    return target, service


def create_referral(
    session: Session, *, actor: Actor, settings: Settings, data: Mapping[str, Any]
) -> SimpleNamespace:
    """Send a referral, on an existing case or with a new one owned by the sender."""
    if actor.role not in WRITERS or actor.organization_id is None:
        raise Forbidden("Only caseworkers and org_admins of an organization send referrals.")
    now = utcnow()
    errors: dict[str, str] = {}
    if (data.get("case_id") is None) == (data.get("case") is None):
        raise ValidationFailed({"case_id": "Give either case_id or an inline new case."})

    case: Case | None = None
    client: Mapping[str, Any]
    if data.get("case_id") is not None:
        try:
            case = _readable_case(session, actor, data["case_id"])
        except NotFound:
            raise ValidationFailed({"case_id": "No such case."}) from None
        client = _client_profile(settings, case)
        if data["kind"] == "transfer" and not _may_transfer(session, actor, case):
            raise Forbidden(
                "Only the case owner, or an organization now serving the client (an accepted "
                "referral in the case), transfers the case."
            )
    else:
        client = data["case"]["client"]
    _check_consent(data["consent"], client, now)

    target, _service = _target(session, actor, data, errors)
    parent = None
    if data.get("parent_referral_id") is not None:
        parent = session.get(Referral, data["parent_referral_id"])
        if parent is None or case is None or parent.case_id != case.id:
            errors["parent_referral_id"] = "The parent referral must belong to the same case."
    if errors:
        raise ValidationFailed(errors)
    assert target is not None

    connection = session.connection()
    if case is None:
        case_id = uuid.uuid4()
        connection.execute(
            insert(Case),
            {
                "id": case_id,
                "reference": data["case"].get("reference"),
                "owner_organization_id": actor.organization_id,
                "client_ciphertext": crypto.seal(settings.secret_key, case_id, dict(client)),
                "created_by": actor.principal_id,
            },
        )
        audit.record(
            session,
            actor=actor,
            action="case.create",
            entity_type="case",
            entity_id=case_id,
            summary={"owner_organization_id": str(actor.organization_id)},
        )
    else:
        case_id = case.id

    service_type = data["service_type"]
    values = {
        "id": uuid.uuid4(),
        "case_id": case_id,
        "parent_referral_id": parent.id if parent else None,
        "kind": data["kind"],
        "from_organization_id": actor.organization_id,
        "from_principal_id": actor.principal_id,
        "to_organization_id": target.id,
        "to_service_id": data.get("to_service_id"),
        "service_type": service_type,
        "risk_level": data["risk_level"],
        "reason": data["reason"],
        "worker_role": data["worker_role"],
        "consent": _consent_json(data["consent"]),
        "capacity_override": data.get("capacity_override"),
        "status": "requested",
        "created_at": now,
        "updated_at": now,
        "ack_due_at": now + timedelta(hours=settings.ack_hours[data["risk_level"]]),
        "start_due_at": now + timedelta(days=settings.start_days)
        if service_type in START_DEADLINE_TYPES
        else None,
        "version": 1,
    }
    connection.execute(_INSERT_REFERRAL, values)
    referral = _as_written(values)
    _record_event(connection, actor, referral, None, role="sender", reason=None, note=None)
    audit.record(
        session,
        actor=actor,
        action="referral.create",
        entity_type="referral",
        entity_id=referral.id,
        summary={
            "case_id": str(case_id),
            "kind": referral.kind,
            "to_organization_id": str(target.id),
            "service_type": service_type,
            "risk_level": referral.risk_level,
        },
    )
    events.referral_created(session, referral=referral)  # partner events (issue 12)
    return referral


def _consent_json(consent: Mapping[str, Any]) -> dict[str, Any]:
    stored = dict(consent)
    stored["obtained_at"] = consent["obtained_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return stored


def _record_event(
    connection: Connection,
    actor: Actor,
    referral: ReferralRecord,
    from_status: str | None,
    *,
    role: str,
    reason: str | None,
    note: str | None,
) -> None:
    """The ReferralEvent of the referral's current version."""
    assert actor.principal_id is not None and actor.organization_id is not None
    connection.execute(
        _INSERT_EVENT,
        {
            "id": uuid.uuid4(),
            "referral_id": referral.id,
            "version": referral.version,
            "from_status": from_status,
            "to_status": referral.status,
            "occurred_at": referral.updated_at,
            "principal_id": actor.principal_id,
            "organization_id": actor.organization_id,
            "role": role,
            "reason": reason,
            "note": note,
        },
    )


# -- idempotency ----------------------------------------------------------------------------


def request_fingerprint(body: Any) -> str:
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()


_IDEMPOTENCY = IdempotencyKey.__table__
_STORED = select(_IDEMPOTENCY).where(
    _IDEMPOTENCY.c.principal_id == bindparam("principal_id"),
    _IDEMPOTENCY.c.key == bindparam("key"),
)


def replay(session: Session, *, actor: Actor, key: str, fingerprint: str) -> Row[Any] | None:
    """The stored response for this key, if any; a different body under it is refused."""
    if actor.principal_id is None:
        return None
    stored = (
        session.connection()
        .execute(_STORED, {"principal_id": actor.principal_id, "key": key})
        .first()
    )
    if stored is not None and stored.request_hash != fingerprint:
        raise ValidationFailed(
            {"Idempotency-Key": "Already used for a different request body by you."}
        )
    return stored


def remember(
    session: Session,
    *,
    actor: Actor,
    key: str,
    fingerprint: str,
    status_code: int,
    response: dict[str, Any],
) -> Row[Any] | None:
    """Store the response under the key, or, if a retry with the same key committed
    first (both found nothing stored), roll this request back and return that one's."""
    assert actor.principal_id is not None
    try:
        session.connection().execute(
            insert(_IDEMPOTENCY),
            {
                "principal_id": actor.principal_id,
                "key": key,
                "request_hash": fingerprint,
                "status_code": status_code,
                "response": response,
            },
        )
    except IntegrityError:
        session.rollback()  # nothing this request wrote is kept
        return replay(session, actor=actor, key=key, fingerprint=fingerprint)
    return None


# -- the lifecycle --------------------------------------------------------------------------


def parse_if_match(header: str | None) -> int | None:
    """The version an If-Match names: `"3"`, `W/"3"` or `*` (any: returns None)."""
    if header is None or not header.strip():
        raise PreconditionRequired("Send If-Match with the referral's ETag (its version).")
    value = header.strip()
    if value == "*":
        return None
    value = value.removeprefix("W/").strip('"')
    if not re.fullmatch(r"[0-9]{1,18}", value):
        raise PreconditionFailed(f"If-Match {header!r} is not an ETag of this resource.")
    return int(value)


def transition(
    session: Session,
    *,
    actor: Actor,
    referral_id: uuid.UUID,
    if_match: str | None,
    status: str,
    reason: str | None = None,
    note: str | None = None,
    outcome: str | None = None,
) -> Row[Any]:
    """Move a referral to a new status, as its sender or its receiver.

    Usually one UPDATE does it: it matches only if the move is allowed (the version, a
    status it may leave for this one, the caller's side), so it checks and takes the row
    lock in one round trip. If it matches nothing, the referral is locked and read to say
    why, in the order of the rules below (or, if it changed in between, moved after all).
    """
    expected = parse_if_match(if_match)
    connection = session.connection()
    # No key names a column of `referrals`: for an UPDATE, such a key would be SET too.
    values = {
        "referral_id": referral_id,
        "new_status": status,
        "new_reason": reason,
        "new_note": note,
        "new_outcome": outcome,
        "now": utcnow(),
        "organization_id": actor.organization_id,
        "expected": expected,
    }
    errors = _transition_errors(status, reason, note, outcome)
    updated = None
    if not errors and actor.role in WRITERS and actor.organization_id is not None:
        guard = "version" if expected is not None else "status"
        updated = connection.execute(_move(status, outcome is not None, guard), values).first()
    if updated is None:
        _refuse_transition(session, actor, referral_id, expected, status, errors)
        updated = connection.execute(_move(status, outcome is not None, None), values).one()
    if updated.previous_status is None:
        raise RuntimeError(f"referral {updated.id} has no event for version {updated.version - 1}")
    if status == "accepted" and updated.kind == "transfer":
        connection.execute(
            update(Case)
            .where(Case.id == updated.case_id)
            .values(owner_organization_id=updated.to_organization_id, updated_at=values["now"])
        )
    side = "sender" if status in SENDER_STATUSES else "receiver"
    _record_event(
        connection, actor, updated, updated.previous_status, role=side, reason=reason, note=note
    )
    audit.record(
        session,
        actor=actor,
        action="referral.transition",
        entity_type="referral",
        entity_id=updated.id,
        summary={
            "from": updated.previous_status,
            "to": status,
            "reason": reason,
            "version": updated.version,
        },
    )
    # partner events (issue 12)
    events.referral_status_changed(
        session, referral=updated, from_status=updated.previous_status, reason=reason
    )
    if status == "accepted" and updated.kind == "transfer":
        events.case_owner_changed(session, referral=updated)
    return updated


def _transition_errors(
    status: str, reason: str | None, note: str | None, outcome: str | None
) -> dict[str, str]:
    """What the request itself lacks for this status (422)."""
    errors: dict[str, str] = {}
    if status in NEEDS_REASON and reason is None:
        errors["reason"] = f"A reason code is needed to set {status}."
    if reason == "other" and not (note or "").strip():
        errors["note"] = "Describe the reason when it is `other`."
    if status == "completed" and not (outcome or "").strip():
        errors["outcome"] = "Record the outcome of the completed referral."
    return errors


def _refuse_transition(
    session: Session,
    actor: Actor,
    referral_id: uuid.UUID,
    expected: int | None,
    status: str,
    errors: Mapping[str, str],
) -> None:
    """Lock the referral and raise why this move is refused; return if it is allowed."""
    referral = session.connection().execute(_LOCK, {"referral_id": referral_id}).first()
    if referral is None:
        raise NotFound(f"Referral {referral_id} does not exist.")
    side = None
    if actor.organization_id == referral.from_organization_id:
        side = "sender"
    elif actor.organization_id == referral.to_organization_id:
        side = "receiver"
    if side is None or actor.role not in WRITERS:
        get_referral(session, actor=actor, referral_id=referral_id)  # 404 unless party
        raise Forbidden("Only the sending or the receiving organization changes a referral.")
    if expected is not None and referral.version != expected:
        raise PreconditionFailed(
            f"The referral is at version {referral.version}, not {expected}: reload it."
        )
    mine = SENDER_STATUSES if side == "sender" else RECEIVER_STATUSES
    if status not in NEXT[referral.status]:
        raise InvalidTransition(
            f"A {referral.status} referral cannot become {status}.",
            allowed=NEXT[referral.status] & mine,
        )
    if status not in mine:
        other = "receiver" if side == "sender" else "sender"
        raise Forbidden(f"Only the {other} sets a referral to {status}.")
    if errors:
        raise ValidationFailed(dict(errors))


@cache
def _move(status: str, with_outcome: bool, guard: str | None) -> Any:
    """The UPDATE that moves a referral to `status`, returning the new row and the status
    it left (the previous event's). `guard`: None (already checked under lock),
    `status` (the caller's side, and a status it may leave for this one) or `version`
    (that and the If-Match version)."""
    c = _REFERRALS.c
    now = bindparam("now", type_=c.updated_at.type)
    values: dict[str, Any] = {
        "status": bindparam("new_status"),
        "status_reason": bindparam("new_reason"),
        "status_note": bindparam("new_note"),
        "updated_at": now,
        "version": c.version + 1,
    }
    if with_outcome:
        values["outcome"] = bindparam("new_outcome")
    if status in ACKNOWLEDGED:
        values["acknowledged_at"] = func.coalesce(c.acknowledged_at, now)
    if status in DECIDED:
        values["decided_at"] = func.coalesce(c.decided_at, now)
    if status == "in-progress":
        values["started_at"] = func.coalesce(c.started_at, now)
    if status == "completed":
        values["completed_at"] = now
    if status in TERMINAL:
        values["closed_at"] = now
    conditions = [c.id == bindparam("referral_id")]
    if guard is not None:
        party = c.from_organization_id if status in SENDER_STATUSES else c.to_organization_id
        leaving = sorted(before for before, after in NEXT.items() if status in after)
        conditions += [party == bindparam("organization_id"), c.status.in_(leaving)]
    if guard == "version":
        conditions.append(c.version == bindparam("expected"))
    events = ReferralEvent.__table__.c
    # Spelled out: RETURNING renders its columns unqualified, and inside the subquery a
    # bare `id` or `version` would be the event's own.
    moved_id, moved_version = literal_column("referrals.id"), literal_column("referrals.version")
    previous = (
        select(events.to_status)
        .where(events.referral_id == moved_id, events.version == moved_version - 1)
        .scalar_subquery()
        .label("previous_status")
    )
    return update(_REFERRALS).where(*conditions).values(values).returning(*c, previous)


# -- reading --------------------------------------------------------------------------------


def list_referrals(
    session: Session,
    *,
    actor: Actor,
    direction: str | None = None,
    status: list[str] | None = None,
    service_type: str | None = None,
    risk_level: str | None = None,
    overdue: bool | None = None,
    case_id: uuid.UUID | None = None,
    page: int,
    per_page: int,
) -> Page[Referral]:
    """The referrals the actor's organization sent or received; for a coordinator those in
    its coverage, for an admin all."""
    org = actor.organization_id
    if is_coordinator(actor) or actor.is_admin:
        if direction:
            raise ValidationFailed({"direction": "Only for organizations' own referrals."})
        scope = coverage_clause(actor.coverage_code or NATIONAL)
    elif org is None:
        raise Forbidden("Listing referrals needs a token of an organization.")
    else:
        sides = {
            "incoming": Referral.to_organization_id == org,
            "outgoing": Referral.from_organization_id == org,
        }
        scope = sides[direction] if direction else or_(*sides.values())
    stmt = select(Referral).where(scope)
    if status:
        stmt = stmt.where(Referral.status.in_(status))
    if service_type:
        stmt = stmt.where(Referral.service_type == service_type)
    if risk_level:
        stmt = stmt.where(Referral.risk_level == risk_level)
    if case_id:
        stmt = stmt.where(Referral.case_id == case_id)
    if overdue is not None:
        clause = overdue_clause(utcnow())
        stmt = stmt.where(clause if overdue else ~clause)
        stmt = stmt.order_by(first_unmet_deadline(), Referral.id)
    else:
        stmt = stmt.order_by(Referral.created_at.desc(), Referral.id)
    return paginate(session, stmt, page=page, per_page=per_page)


def list_events(session: Session, *, actor: Actor, referral_id: uuid.UUID) -> list[ReferralEvent]:
    """The status history of a referral, oldest first."""
    get_referral(session, actor=actor, referral_id=referral_id)
    return list(
        session.scalars(
            select(ReferralEvent)
            .where(ReferralEvent.referral_id == referral_id)
            .order_by(ReferralEvent.version)
        )
    )


@dataclass
class CaseView:
    case: Case
    client: dict[str, Any] | None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.case, name)


def read_case(
    session: Session, *, actor: Actor, settings: Settings, case_id: uuid.UUID
) -> CaseView:
    """The case with its client profile, for parties and admins; every read is audited.

    A coordinator never sees the profile: 403 inside its coverage (the attempt is
    audited and the trace kept), 404 outside it.
    """
    case = _readable_case(session, actor, case_id)
    if is_coordinator(actor):
        audit.record(
            session,
            actor=actor,
            action="case.read_client_denied",
            entity_type="case",
            entity_id=case.id,
            summary={"role": actor.role},
            durable=True,
        )
        raise Forbidden("Coordinators oversee referrals; the client profile is not theirs to see.")
    profile = _client_profile(settings, case)
    audit.record(
        session,
        actor=actor,
        action="case.read_client",
        entity_type="case",
        entity_id=case.id,
        summary={},
    )
    return CaseView(case, profile)


@dataclass
class Hop:
    referral: Referral
    from_organization: Organization
    to_organization: Organization
    overdue_reasons: list[str]
    gaps: list[str] = field(default_factory=list)
    children: list[Hop] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.referral, name)

    def _seconds(self, end: datetime | None) -> float | None:
        return None if end is None else (end - self.referral.created_at).total_seconds()

    @property
    def timings(self) -> dict[str, float | None]:
        r = self.referral
        return {
            "to_acknowledge_s": self._seconds(r.acknowledged_at),
            "to_decide_s": self._seconds(r.decided_at),
            "to_start_s": self._seconds(r.started_at),
            "to_complete_s": self._seconds(r.completed_at),
        }


@dataclass
class Chain:
    case: Case
    roots: list[Hop]
    gaps: list[str] = field(default_factory=list)


def _hop_gaps(referral: Referral, referrals: list[Referral], now: datetime) -> list[str]:
    """What an auditor looks for on one hop."""
    gaps = []
    if referral.status == "rejected":
        rejected_at = referral.decided_at or referral.updated_at
        onward = any(
            r.from_organization_id == referral.from_organization_id
            and r.created_at >= rejected_at
            and r.status != "entered-in-error"
            for r in referrals
        )
        if not onward:
            gaps.append("rejected_without_onward_referral")
    if (
        referral.kind == "transfer"
        and referral.status in ("requested", "received")
        and referral.ack_due_at < now
    ):
        gaps.append("transfer_not_accepted_by_deadline")
    return gaps


def _case_gaps(referrals: list[Referral]) -> list[str]:
    live = [r for r in referrals if r.status != "entered-in-error"]
    if all(r.status in TERMINAL for r in live) and not any(r.status == "completed" for r in live):
        return ["no_open_referral_and_no_completion"]
    return []


def chain(session: Session, *, actor: Actor, case_id: uuid.UUID) -> Chain:
    """The referral tree of a case (parent -> children), with per-hop timings."""
    case = _readable_case(session, actor, case_id)
    referrals = list(
        session.scalars(
            select(Referral)
            .where(Referral.case_id == case_id)
            .order_by(Referral.created_at, Referral.id)
        )
    )
    org_ids = {r.from_organization_id for r in referrals} | {
        r.to_organization_id for r in referrals
    }
    orgs = {
        o.id: o for o in session.scalars(select(Organization).where(Organization.id.in_(org_ids)))
    }
    now = utcnow()
    hops = {
        r.id: Hop(
            r,
            orgs[r.from_organization_id],
            orgs[r.to_organization_id],
            overdue_reasons(r, now),
            _hop_gaps(r, referrals, now),
        )
        for r in referrals
    }
    roots = []
    for r in referrals:
        if r.parent_referral_id is None:
            roots.append(hops[r.id])
        else:
            hops[r.parent_referral_id].children.append(hops[r.id])
    return Chain(case, roots, _case_gaps(referrals))


@dataclass
class ReferralView:
    """A referral with its deadline state as of now."""

    referral: ReferralRecord
    overdue_reasons: list[str]
    now: datetime

    @property
    def overdue(self) -> bool:
        return bool(self.overdue_reasons)

    @property
    def overdue_since(self) -> datetime | None:
        """The earliest deadline passed unmet."""
        r = self.referral
        due = {"acknowledge": r.ack_due_at, "start": r.start_due_at}
        return min((due[reason] for reason in self.overdue_reasons), default=None)  # type: ignore[type-var]

    @property
    def overdue_by_s(self) -> float | None:
        since = self.overdue_since
        return None if since is None else round((self.now - since).total_seconds())

    @property
    def must_act_organization_id(self) -> uuid.UUID | None:
        """Who must act on an overdue referral: its receiver (acknowledge, start)."""
        return self.referral.to_organization_id if self.overdue_reasons else None

    @property
    def etag(self) -> str:
        return f'"{self.referral.version}"'

    def __getattr__(self, name: str) -> Any:
        return getattr(self.referral, name)


def view(referral: ReferralRecord, now: datetime | None = None) -> ReferralView:
    now = now or utcnow()
    return ReferralView(referral, overdue_reasons(referral, now), now)
