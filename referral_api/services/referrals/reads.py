"""Listing referrals: an organization's own, a coordinator's coverage, an admin's all."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from ...errors import Forbidden, ValidationFailed
from ...models import Referral
from ...models.base import utcnow
from ...vocabularies import NATIONAL
from ..actors import Actor
from ..pagination import Page, paginate_rows
from .deadlines import first_unmet_deadline, overdue_clause
from .record import ReferralRecord
from .statements import REFERRAL_COLUMNS
from .visibility import coverage_clause, is_coordinator


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
) -> Page[ReferralRecord]:
    """The referrals the actor's organization sent or received; for a coordinator those in
    its coverage, for an admin all."""
    org = actor.organization_id
    scope: ColumnElement[bool]
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
    filters = [scope]
    if status:
        filters.append(Referral.status.in_(status))
    if service_type:
        filters.append(Referral.service_type == service_type)
    if risk_level:
        filters.append(Referral.risk_level == risk_level)
    if case_id:
        filters.append(Referral.case_id == case_id)
    order: tuple[Any, ...]
    if overdue is not None:
        clause = overdue_clause(utcnow())
        filters.append(clause if overdue else ~clause)
        order = (first_unmet_deadline(), Referral.id)
    else:
        order = (Referral.created_at.desc(), Referral.id)
    stmt = select(*REFERRAL_COLUMNS).where(*filters).order_by(*order)
    return paginate_rows(session, stmt, page=page, per_page=per_page, item=ReferralRecord.from_row)
