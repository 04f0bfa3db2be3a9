"""The referral chain of a case: the tree of hops, per-hop timings, and the gaps an
auditor looks for."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...models import Case, Organization
from ...models.base import utcnow
from ..actors import Actor
from .deadlines import overdue_reasons
from .record import ReferralRecord
from .rules import TERMINAL
from .statements import REFERRAL_COLUMNS, REFERRALS
from .visibility import readable_case


@dataclass
class Hop:
    referral: ReferralRecord
    from_organization: Organization
    to_organization: Organization
    overdue_reasons: list[str]
    gaps: list[str] = field(default_factory=list)
    children: list[Hop] = field(default_factory=list)

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


def chain(session: Session, *, actor: Actor, case_id: uuid.UUID) -> Chain:
    """The referral tree of a case (parent -> children), with per-hop timings."""
    case = readable_case(session, actor=actor, case_id=case_id)
    rows = session.connection().execute(
        select(*REFERRAL_COLUMNS)
        .where(REFERRALS.c.case_id == case_id)
        .order_by(REFERRALS.c.created_at, REFERRALS.c.id)
    )
    referrals = [ReferralRecord.from_row(row) for row in rows]
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


def _hop_gaps(
    referral: ReferralRecord, referrals: list[ReferralRecord], now: datetime
) -> list[str]:
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


def _case_gaps(referrals: list[ReferralRecord]) -> list[str]:
    live = [r for r in referrals if r.status != "entered-in-error"]
    if all(r.status in TERMINAL for r in live) and not any(r.status == "completed" for r in live):
        return ["no_open_referral_and_no_completion"]
    return []
