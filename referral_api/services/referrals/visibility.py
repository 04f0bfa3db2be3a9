"""Who may see which case and referral: parties, coordinators by coverage, admins; and
whose access to the client profile is still open (the access window of UU PDP 27/2022)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, or_, select, true
from sqlalchemy.orm import Session

from ...errors import NotFound
from ...models import Case, ConsentWithdrawal, Referral, ReferralRegion, Role
from ...vocabularies import NATIONAL
from .. import regions
from ..actors import Actor
from .record import ReferralRecord
from .rules import ENDED_WITH_SERVICE, TAKEN_ON, TERMINAL
from .statements import SELECT_REFERRAL


def is_coordinator(actor: Actor) -> bool:
    return actor.role == Role.COORDINATOR and actor.coverage_code is not None


def party_clause(organization_id: uuid.UUID) -> ColumnElement[bool]:
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
    """SQL on Referral: its sender or receiver lay in the region when it was sent (by
    home region, or by the sites of the referral's service; a safe house at regency level
    only, so a district-wide coordinator or report does not learn its district). `ID`
    covers everything."""
    if coverage == NATIONAL:
        return true()
    return exists().where(
        ReferralRegion.referral_id == Referral.id,
        regions.within(ReferralRegion.region_code, coverage),
    )


def readable_case(session: Session, *, actor: Actor, case_id: uuid.UUID) -> Case:
    """The case, if the actor may see it: admins; organizations party to it; coordinators
    whose coverage holds one of its referrals. Otherwise it does not exist (404)."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"Case {case_id} does not exist.")
    if actor.is_admin:
        return case
    visible: ColumnElement[bool]
    if is_coordinator(actor):
        visible = exists().where(
            Referral.case_id == case_id, coverage_clause(actor.coverage_code or "")
        )
    elif actor.organization_id is not None:
        visible = party_clause(actor.organization_id)
    else:
        raise NotFound(f"Case {case_id} does not exist.")
    if not session.scalar(select(visible).select_from(Case).where(Case.id == case_id)):
        raise NotFound(f"Case {case_id} does not exist.")
    return case


def profile_access_clause(
    organization_id: uuid.UUID, *, now: datetime, closed_access_days: float
) -> ColumnElement[bool]:
    """SQL on Case: the organization may read the client profile now.

    The owner always. Any other organization on the strength of a referral in the case
    that it sent or received: while the referral is open, and for `closed_access_days`
    after it was completed or failed; never once it was rejected, cancelled or entered in
    error; never after the consent it was sent under expired, or was withdrawn for this
    organization (a referral sent after a withdrawal carries consent obtained after it).
    A receiver of a shelter offer's referral only once it has taken the client on: until
    then it reads the de-identified summary, and the receivers the offer cancelled never.
    """
    withdrawn = exists().where(
        ConsentWithdrawal.case_id == Referral.case_id,
        or_(
            ConsentWithdrawal.organization_id.is_(None),
            ConsentWithdrawal.organization_id == organization_id,
        ),
        ConsentWithdrawal.withdrawn_at >= Referral.created_at,
    )
    window_open = or_(
        Referral.status.not_in(TERMINAL),
        and_(
            Referral.status.in_(ENDED_WITH_SERVICE),
            Referral.closed_at >= now - timedelta(days=closed_access_days),
        ),
    )
    return or_(
        Case.owner_organization_id == organization_id,
        exists().where(
            Referral.case_id == Case.id,
            or_(
                Referral.from_organization_id == organization_id,
                and_(
                    Referral.to_organization_id == organization_id,
                    or_(Referral.offer_id.is_(None), Referral.status.in_(TAKEN_ON)),
                ),
            ),
            window_open,
            or_(Referral.consent_expires_at.is_(None), Referral.consent_expires_at > now),
            ~withdrawn,
        ),
    )


def may_read_profile(
    session: Session, *, actor: Actor, case: Case, now: datetime, closed_access_days: float
) -> bool:
    """Whether the actor's access to this case's client profile is open (admins: always;
    coordinators: never)."""
    if actor.is_admin:
        return True
    if actor.organization_id is None or is_coordinator(actor):
        return False
    clause = profile_access_clause(
        actor.organization_id, now=now, closed_access_days=closed_access_days
    )
    return bool(session.scalar(select(clause).select_from(Case).where(Case.id == case.id)))


def profile_case(
    session: Session,
    *,
    actor: Actor,
    case_id: uuid.UUID,
    now: datetime,
    closed_access_days: float,
) -> Case:
    """The case, if the actor may read its client profile now (and so refer the client
    onward); otherwise it does not exist (404), as for any non-party.

    The case row is read FOR SHARE (PostgreSQL): a referral made in the case and a
    consent withdrawal or closure of it (which lock the row FOR UPDATE) take turns, so
    the withdrawal cancels the new referral or the new referral sees the withdrawal.
    """
    # Access implies being party to the case, so one query answers both.
    case = session.get(Case, case_id, with_for_update={"read": True}, populate_existing=True)
    if case is None or not may_read_profile(
        session, actor=actor, case=case, now=now, closed_access_days=closed_access_days
    ):
        raise NotFound(f"Case {case_id} does not exist.")
    return case


def get_referral(session: Session, *, actor: Actor, referral_id: uuid.UUID) -> ReferralRecord:
    """A referral the actor may see (party to its case, or in a coordinator's coverage)."""
    row = session.connection().execute(SELECT_REFERRAL, {"referral_id": referral_id}).first()
    if row is None:
        raise NotFound(f"Referral {referral_id} does not exist.")
    referral = ReferralRecord.from_row(row)
    if is_coordinator(actor):
        in_coverage = session.scalar(
            select(coverage_clause(actor.coverage_code or "")).where(Referral.id == referral_id)
        )
        if not in_coverage:
            raise NotFound(f"Referral {referral_id} does not exist.")
        return referral
    try:
        readable_case(session, actor=actor, case_id=referral.case_id)
    except NotFound:
        raise NotFound(f"Referral {referral_id} does not exist.") from None
    return referral
