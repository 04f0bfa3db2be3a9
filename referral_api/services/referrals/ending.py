"""The client's consent withdrawn, and the case closed: both by the case's owner, both
ending open referrals through the lifecycle (so each cancellation has its status event,
audit event and partner event), all or nothing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ...errors import Conflict, Forbidden, ValidationFailed
from ...models import Case, ConsentWithdrawal, Organization, Referral
from ...models.base import utcnow
from ...vocabularies import CASE_CLOSED, CONSENT_WITHDRAWN
from .. import audit
from ..actors import Actor
from .lifecycle import cancel_for_owner
from .rules import TERMINAL, WRITERS
from .visibility import readable_case

ALL = "all"


@dataclass(frozen=True)
class Withdrawal:
    case_id: uuid.UUID
    withdrawn_at: datetime
    # None: every organization but the owner.
    organization_ids: list[uuid.UUID] | None
    cancelled_referral_ids: list[uuid.UUID]


@dataclass(frozen=True)
class Closure:
    case_id: uuid.UUID
    status: str
    closed_at: datetime
    outcome: str
    cancelled_referral_ids: list[uuid.UUID]


def withdraw_consent(
    session: Session,
    *,
    actor: Actor,
    case_id: uuid.UUID,
    scope: str | Sequence[uuid.UUID],
    note: str | None,
) -> Withdrawal:
    """Record that the client withdrew consent for the organizations in `scope` (`all`,
    or their ids): their open referrals in the case are cancelled (`consent_withdrawn`)
    and their access to the profile ends now."""
    case = _owned_open_case(session, actor, case_id)
    organization_ids = (
        None if isinstance(scope, str) else _scope_organizations(session, case, scope)
    )
    now = utcnow()
    # One row per organization; one row with no organization for `all`.
    targets: list[uuid.UUID | None] = [None] if organization_ids is None else [*organization_ids]
    for organization_id in targets:
        session.add(
            ConsentWithdrawal(
                case_id=case.id,
                organization_id=organization_id,
                withdrawn_at=now,
                principal_id=actor.principal_id,
                note=note,
            )
        )
    session.flush()
    cancelled = _cancel(
        session, actor, _open_referrals(session, case, organization_ids), CONSENT_WITHDRAWN
    )
    audit.record(
        session,
        actor=actor,
        action="case.consent_withdrawal",
        entity_type="case",
        entity_id=case.id,
        summary={
            "scope": ALL if organization_ids is None else [str(o) for o in organization_ids],
            "cancelled": [str(r) for r in cancelled],
        },
    )
    return Withdrawal(case.id, now, organization_ids, cancelled)


def close_case(
    session: Session,
    *,
    actor: Actor,
    case_id: uuid.UUID,
    outcome: str,
    note: str | None,
    cancel_open: bool,
) -> Closure:
    """Close the case with its outcome. Open referrals must have ended (409 naming them),
    unless `cancel_open`: then they are cancelled (`case_closed`)."""
    case = _owned_open_case(session, actor, case_id)
    if outcome == "other" and not (note or "").strip():
        raise ValidationFailed({"note": "Describe the outcome when it is `other`."})
    open_ids = _open_referrals(session, case, None)
    if open_ids and not cancel_open:
        raise Conflict(
            f"The case has {len(open_ids)} open referral(s): end them first, or send "
            "cancel_open: true to cancel them.",
            extra={"open_referrals": [str(r) for r in open_ids]},
        )
    cancelled = _cancel(session, actor, open_ids, CASE_CLOSED)
    now = utcnow()
    session.execute(
        update(Case)
        .where(Case.id == case.id)
        .values(
            status="closed", closed_at=now, closed_outcome=outcome, closed_note=note, updated_at=now
        )
    )
    audit.record(
        session,
        actor=actor,
        action="case.close",
        entity_type="case",
        entity_id=case.id,
        summary={"outcome": outcome, "cancelled": [str(r) for r in cancelled]},
    )
    return Closure(case.id, "closed", now, outcome, cancelled)


def _owned_open_case(session: Session, actor: Actor, case_id: uuid.UUID) -> Case:
    """The case, locked, if the actor's organization owns it and it is still open."""
    if actor.role not in WRITERS or actor.organization_id is None:
        raise Forbidden("Only caseworkers and org_admins of the case's owner act for the client.")
    case = readable_case(session, actor=actor, case_id=case_id)
    # Withdrawals and closures of one case (and transfers, which change its owner) queue.
    session.refresh(case, with_for_update=True)
    if case.owner_organization_id != actor.organization_id:
        raise Forbidden("Only the case's owner acts for the client on consent and closure.")
    if case.closed_at is not None:
        raise Conflict(f"The case was closed on {case.closed_at:%Y-%m-%d}; nothing is open.")
    return case


def _scope_organizations(
    session: Session, case: Case, scope: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    wanted = list(dict.fromkeys(scope))
    known = set(session.scalars(select(Organization.id).where(Organization.id.in_(wanted))))
    unknown = [str(o) for o in wanted if o not in known]
    if unknown:
        raise ValidationFailed({"scope": f"No such organization: {', '.join(unknown)}."})
    if case.owner_organization_id in known:
        raise ValidationFailed(
            {"scope": "The case's owner holds the case; consent is withdrawn from others."}
        )
    return wanted


def _open_referrals(
    session: Session, case: Case, organization_ids: list[uuid.UUID] | None
) -> list[uuid.UUID]:
    query = select(Referral.id).where(Referral.case_id == case.id, Referral.status.not_in(TERMINAL))
    if organization_ids is not None:
        query = query.where(Referral.to_organization_id.in_(organization_ids))
    return list(session.scalars(query.order_by(Referral.created_at, Referral.id)))


def _cancel(
    session: Session, actor: Actor, referral_ids: list[uuid.UUID], reason: str
) -> list[uuid.UUID]:
    """Cancel these open referrals of the case as its owner; return their ids."""
    for referral_id in referral_ids:
        cancel_for_owner(session, actor=actor, referral_id=referral_id, reason=reason, note=None)
    return referral_ids
