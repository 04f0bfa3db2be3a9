"""Principals and their bearer tokens."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ..config import SQLITE_BUSY_TIMEOUT_MS
from ..errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from ..models import Organization, Principal, Region, Role
from ..models.base import update_params, utcnow
from . import audit
from .actors import Actor
from .pagination import Page, paginate

log = logging.getLogger(__name__)
TOKEN_PREFIX = "rk_"  # noqa: S105 - a prefix, not a secret
# last_used_at is a hint for operators, not an audit record: writing it at most once a
# minute keeps every authenticated read from becoming a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_EXPIRES_DAYS = 3650
COVERAGE_PATTERN = re.compile(r"^(ID|\d{2}(\.\d{2}(\.\d{2})?)?)$")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_token(
    session: Session,
    *,
    actor: Actor,
    role: str,
    name: str,
    organization_id: uuid.UUID | None = None,
    coverage_code: str | None = None,
    expires_days: float | None = None,
) -> tuple[Principal, str]:
    """Create a principal and return it with its token (shown once, stored hashed)."""
    errors: dict[str, str] = {}
    if role not in {r.value for r in Role}:
        errors["role"] = f"Must be one of {', '.join(r.value for r in Role)}."
    if not name.strip():
        errors["name"] = "Must not be empty."
    if role in (Role.CASEWORKER, Role.ORG_ADMIN) and organization_id is None:
        errors["organization_id"] = f"A {role} must belong to an organization."
    if organization_id is not None and session.get(Organization, organization_id) is None:
        errors["organization_id"] = "No such organization."
    if role == Role.COORDINATOR:
        if not coverage_code:
            errors["coverage_code"] = "A coordinator needs a coverage region (ID = national)."
    elif coverage_code:
        errors["coverage_code"] = "Only a coordinator has a coverage region."
    if coverage_code and not COVERAGE_PATTERN.match(coverage_code):
        errors["coverage_code"] = "Must be ID or a Kemendagri region code such as 53 or 53.71."
    elif coverage_code and session.get(Region, coverage_code) is None:
        errors["coverage_code"] = f"Unknown region code {coverage_code}."
    if expires_days is not None and not 0 < expires_days <= MAX_EXPIRES_DAYS:
        errors["expires_days"] = f"Must be more than 0 and at most {MAX_EXPIRES_DAYS} days."
    if errors:
        raise ValidationFailed(errors)
    _authorize_management(actor, role=role, organization_id=organization_id)

    token = generate_token()
    now = utcnow()
    principal = Principal(
        name=name.strip(),
        role=role,
        organization_id=organization_id,
        coverage_code=coverage_code,
        token_hash=hash_token(token),
        created_at=now,
        expires_at=now + timedelta(days=expires_days) if expires_days else None,
    )
    session.add(principal)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="token.create",
        entity_type="principal",
        entity_id=principal.id,
        summary={"role": role, "organization_id": _str(organization_id), "coverage": coverage_code},
    )
    return principal, token


def revoke_token(session: Session, *, actor: Actor, principal_id: uuid.UUID) -> Principal:
    """Revoke a principal's token; revoking twice changes nothing more."""
    principal = get_principal(session, principal_id=principal_id)
    try:
        _authorize_management(actor, role=principal.role, organization_id=principal.organization_id)
    except Forbidden:
        # An org_admin does not learn that another organization's principal exists.
        raise NotFound(f"Principal {principal_id} does not exist.") from None
    if principal.revoked_at is None:
        principal.revoked_at = utcnow()
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="token.revoke",
            entity_type="principal",
            entity_id=principal.id,
            summary={"role": principal.role},
        )
    return principal


_AUTHENTICATE = select(
    Principal.id,
    Principal.organization_id,
    Principal.role,
    Principal.coverage_code,
    Principal.token_hash,
    Principal.revoked_at,
    Principal.expires_at,
    Principal.last_used_at,
).where(Principal.token_hash == bindparam("digest"))
# The hint is best effort: a request never waits for another one that holds the row
# (PostgreSQL: SKIP LOCKED; SQLite serializes writers anyway). A plain UPDATE would
# make every concurrent request with the same token queue behind the first one's commit.
_PRINCIPALS = Principal.__table__
_LOCKABLE = _PRINCIPALS.alias("lockable")
_TOUCH = (
    update(Principal)
    .where(
        Principal.id.in_(
            select(_LOCKABLE.c.id)
            .where(
                _LOCKABLE.c.id == bindparam("principal_id"),
                or_(
                    _LOCKABLE.c.last_used_at.is_(None),
                    _LOCKABLE.c.last_used_at
                    < bindparam("stale_before", type_=_LOCKABLE.c.last_used_at.type),
                ),
            )
            # NO KEY UPDATE, as a plain UPDATE of this column would take: FOR UPDATE would
            # block (and deadlock with) foreign-key checks on the principal by other writers.
            .with_for_update(skip_locked=True, key_share=True)
        )
    )
    .values(last_used_at=bindparam("now"))
)


def authenticate(session: Session, *, token: str, now: datetime | None = None) -> Actor:
    """Return who a bearer token belongs to, or raise Unauthorized.

    Every authenticated request runs this, so it reads only the columns it needs, in
    statements built once, as plain rows.
    """
    now = now or utcnow()
    digest = hash_token(token)
    connection = session.connection()
    row = connection.execute(_AUTHENTICATE, {"digest": digest}).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        raise Unauthorized("The bearer token is not valid.")
    if row.revoked_at is not None:
        raise Unauthorized("The bearer token has been revoked.")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthorized("The bearer token has expired.")
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        _touch(session, principal_id=row.id, now=now)
    return Actor(
        principal_id=row.id,
        organization_id=row.organization_id,
        role=row.role,
        coverage_code=row.coverage_code,
    )


def _touch(session: Session, *, principal_id: uuid.UUID, now: datetime) -> None:
    """Record that the token was used, if nothing stands in the way.

    On SQLite a read that meets a concurrent writer cannot take the write lock: it does
    not wait for it either (busy timeout 0), and the savepoint keeps the rest of the
    transaction. A hint must not fail, or hold up, the request it rides on.
    """
    params = update_params(
        _PRINCIPALS, principal_id=principal_id, now=now, stale_before=now - LAST_USED_RESOLUTION
    )
    connection = session.connection()
    on_sqlite = connection.dialect.name == "sqlite"
    try:
        with session.begin_nested():
            if on_sqlite:
                connection.exec_driver_sql("PRAGMA busy_timeout = 0")
            connection.execute(_TOUCH, params)
    except OperationalError as error:
        log.info("last_used_at not recorded: %s", type(error.orig).__name__)
    finally:
        if on_sqlite:
            connection.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")


def get_principal(session: Session, *, principal_id: uuid.UUID) -> Principal:
    """A principal by id, or NotFound."""
    principal = session.get(Principal, principal_id)
    if principal is None:
        raise NotFound(f"Principal {principal_id} does not exist.")
    return principal


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _authorize_management(actor: Actor, *, role: str, organization_id: uuid.UUID | None) -> None:
    """Admins manage every token; an org_admin only its own organization's members."""
    if actor.is_admin:
        return
    if actor.role != Role.ORG_ADMIN:
        raise Forbidden("Only an org_admin or an admin manages tokens.")
    if role not in (Role.CASEWORKER, Role.ORG_ADMIN) or organization_id != actor.organization_id:
        raise Forbidden(
            "An org_admin manages only caseworker and org_admin tokens of its own organization."
        )


def list_principals(
    session: Session,
    *,
    actor: Actor,
    organization_id: uuid.UUID | None,
    include_revoked: bool,
    page: int,
    per_page: int,
) -> Page[Principal]:
    """List principals the actor may manage."""
    if not actor.is_admin:
        if actor.role != Role.ORG_ADMIN:
            raise Forbidden("Only an org_admin or an admin lists tokens.")
        if organization_id not in (None, actor.organization_id):
            raise Forbidden("An org_admin lists only its own organization's tokens.")
        organization_id = actor.organization_id
    stmt = select(Principal).order_by(Principal.created_at, Principal.id)
    if organization_id is not None:
        stmt = stmt.where(Principal.organization_id == organization_id)
    if not include_revoked:
        stmt = stmt.where(Principal.revoked_at.is_(None))
    return paginate(session, stmt, page=page, per_page=per_page)
