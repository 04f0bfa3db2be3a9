"""Oversight for coordinators and admins: referral reports and the audit trail."""

from __future__ import annotations

import math
import statistics
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, and_, func, literal, or_, select, type_coerce
from sqlalchemy.orm import Session

from ..errors import Forbidden, ValidationFailed
from ..models import AuditEvent, Organization, Referral, Region
from ..models.base import utcnow, uuid_text
from ..models.referral import REFERRAL_STATUSES
from ..vocabularies import NATIONAL
from . import audit, regions, report_suppression
from .actors import Actor
from .pagination import Page, paginate
from .referrals.deadlines import overdue_clause
from .referrals.visibility import coverage_clause, is_coordinator

GROUPINGS = (
    "organization",
    "receiving_organization",
    "service_type",
    "region",
    "worker_role",
    "risk_level",
    "month",
)
DURATIONS = {
    "time_to_acknowledge_s": "acknowledged_at",
    "time_to_decide_s": "decided_at",
    "time_to_start_s": "started_at",
    "time_to_complete_s": "completed_at",
}


def oversight_scope(session: Session, actor: Actor, region: str | None) -> str:
    """The region a coordinator or an admin may look at: `region`, inside the coverage."""
    if not (actor.is_admin or is_coordinator(actor)):
        raise Forbidden("Oversight is for coordinators and admins.")
    coverage = NATIONAL if actor.is_admin else (actor.coverage_code or "")
    if region is None:
        return coverage
    regions.require(session, region)
    if coverage != NATIONAL and coverage not in regions.ancestors_of(region):
        raise Forbidden(f"Region {region} lies outside your coverage ({coverage}).")
    return region


# -- reports --------------------------------------------------------------------------------


def percentile_nearest_rank(values: list[float], p: float) -> float | None:
    """The p-th percentile by the nearest-rank method (the ceil(p/100 * n)-th value)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass(frozen=True)
class ReportRow:
    key: str | None
    label: str | None
    figures: dict[str, Any]
    # Some figure of the row is hidden (null) by small-cell suppression.
    suppressed: bool = False


@dataclass(frozen=True)
class Report:
    region: str
    group_by: str
    generated_at: datetime
    date_from: datetime | None
    date_to: datetime | None
    rows: list[ReportRow]
    totals: ReportRow
    # The smallest count published; None when an admin asked for no suppression.
    min_cell: int | None


Fact = tuple[str, str | None, bool, float | None, float | None, float | None, float | None]


def _fact(status: str, reason: str | None, overdue: bool, created: Any, *moments: Any) -> Fact:
    """A referral as the report counts it: status, reason, overdue and the seconds from
    creation to each milestone of DURATIONS (None if not reached). Worked out once per
    referral, for its group and again for the totals."""
    ack, decided, started, completed = (
        None if moment is None else (moment - created).total_seconds() for moment in moments
    )
    return status, reason, overdue, ack, decided, started, completed


def _summarize(facts: list[Fact]) -> dict[str, Any]:
    """One pass over the facts of a group."""
    counts: Counter[str] = Counter()
    reasons: Counter[str | None] = Counter()
    durations: list[list[float]] = [[] for _ in DURATIONS]
    accepted = overdue = entered_in_error = 0
    for status, reason, is_overdue, *elapsed in facts:
        if status == "entered-in-error":
            entered_in_error += 1
            continue
        counts[status] += 1
        if status == "rejected":
            reasons[reason] += 1
        elif elapsed[1] is not None:  # decided, and not rejected: accepted
            accepted += 1
        if is_overdue:
            overdue += 1
        for values, value in zip(durations, elapsed, strict=True):
            if value is not None:
                values.append(value)
    rejected = counts["rejected"]
    figures: dict[str, Any] = {
        "total": len(facts) - entered_in_error,
        "entered_in_error": entered_in_error,
        "counts": {status: counts[status] for status in REFERRAL_STATUSES[:-1]},
        "accepted": accepted,  # behind acceptance_rate; not published itself
        "acceptance_rate": round(accepted / (accepted + rejected), 4)
        if accepted + rejected
        else None,
        "rejection_reasons": dict(sorted(reasons.items(), key=lambda kv: str(kv[0]))),
        "overdue": overdue,
    }
    for name, seconds in zip(DURATIONS, durations, strict=True):
        figures[name] = {
            "count": len(seconds),
            "median": statistics.median(seconds) if seconds else None,
            "p90": percentile_nearest_rank(seconds, 90),
        }
    return figures


def whole_months(
    date_from: datetime | None, date_to: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """Widen a period to whole calendar months (UTC): `from` back to the first of its
    month, `to` on to the first of the next month unless it is one already."""

    def month_start(moment: datetime) -> datetime:
        return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)

    start = None if date_from is None else month_start(date_from)
    end = None
    if date_to is not None:
        end = month_start(date_to)
        if end != date_to:
            end = (end + timedelta(days=32)).replace(day=1)
    return start, end


def referral_report(
    session: Session,
    *,
    actor: Actor,
    region: str | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    group_by: str = "service_type",
    suppress: bool = True,
    min_cell: int = 5,
    now: datetime | None = None,
) -> Report:
    """Counts, acceptance, rejection reasons, response times and overdue, per group,
    with small counts suppressed (an admin may ask for them unsuppressed, audited)."""
    now = now or utcnow()
    scope = oversight_scope(session, actor, region)
    if group_by not in GROUPINGS:
        raise ValidationFailed({"group_by": f"Must be one of {', '.join(GROUPINGS)}."})
    if not suppress and not actor.is_admin:
        raise Forbidden("suppress=false is for admins: a coordinator's reports hide small counts.")
    if not actor.is_admin:
        # Two reports whose periods differ by a day would publish that day's referrals.
        date_from, date_to = whole_months(date_from, date_to)
    # Plain (naive UTC) timestamps: the report reads every row in scope, and only the
    # differences between them matter.
    times = [
        type_coerce(getattr(Referral, column), DateTime).label(column)
        for column in ("created_at", *DURATIONS.values())
    ]
    stmt = (
        select(
            _group_key(group_by).label("key"),
            Referral.status,
            Referral.status_reason,
            overdue_clause(now).label("overdue"),
            *times,
        )
        .join(Organization, Organization.id == Referral.to_organization_id)
        .where(coverage_clause(scope))
    )
    if date_from is not None:
        stmt = stmt.where(Referral.created_at >= date_from)
    if date_to is not None:
        stmt = stmt.where(Referral.created_at < date_to)
    groups: dict[str | None, list[Fact]] = defaultdict(list)
    everything: list[Fact] = []
    for key, *row in session.connection().execute(stmt).all():
        if group_by == "month":
            key = row[3].strftime("%Y-%m")  # created_at
        fact = _fact(*row)
        groups[None if key is None else str(key)].append(fact)
        everything.append(fact)
    labels = _labels(session, group_by, groups.keys())
    ordered = sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
    rows = [ReportRow(key, labels.get(key, key), _summarize(members)) for key, members in ordered]
    totals = ReportRow(None, "All groups", _summarize(everything))
    if suppress:
        masked, (hidden_totals, totals_suppressed) = report_suppression.apply(
            [row.figures for row in rows], totals.figures, min_cell=min_cell
        )
        rows = [
            ReportRow(row.key, row.label, figures, suppressed)
            for row, (figures, suppressed) in zip(rows, masked, strict=True)
        ]
        totals = ReportRow(None, totals.label, hidden_totals, totals_suppressed)
    else:
        audit.record(
            session,
            actor=actor,
            action="report.unsuppressed",
            entity_type="report",
            entity_id=None,
            summary={
                "report": "referrals",
                "region": scope,
                "group_by": group_by,
                "from": None if date_from is None else date_from.isoformat(),
                "to": None if date_to is None else date_to.isoformat(),
            },
        )
    return Report(
        scope, group_by, now, date_from, date_to, rows, totals, min_cell if suppress else None
    )


def _group_key(group_by: str) -> Any:
    return {
        "organization": Referral.from_organization_id,
        "receiving_organization": Referral.to_organization_id,
        "service_type": Referral.service_type,
        # The receiving organization's province: where the service is given.
        "region": func.substr(Organization.region_code, 1, 2),
        "worker_role": Referral.worker_role,
        "risk_level": Referral.risk_level,
        "month": literal(None),
    }[group_by]


def _labels(session: Session, group_by: str, keys: Iterable[str | None]) -> dict[Any, str]:
    wanted = [k for k in keys if k is not None]
    if group_by in ("organization", "receiving_organization") and wanted:
        ids = [uuid.UUID(k) for k in wanted]
        names = select(Organization.id, Organization.name).where(Organization.id.in_(ids))
        return {str(i): name for i, name in session.execute(names)}
    if group_by == "region" and wanted:
        regions_ = select(Region.code, Region.name).where(Region.code.in_(wanted))
        return {code: name for code, name in session.execute(regions_)}
    return {}


# -- the audit trail ------------------------------------------------------------------------


def list_audit_events(
    session: Session,
    *,
    actor: Actor,
    entity_type: str | None = None,
    entity_id: str | None = None,
    principal_id: uuid.UUID | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: int,
    per_page: int,
) -> Page[AuditEvent]:
    """Audit events: all for admins; for a coordinator those about referrals and cases
    in its coverage."""
    stmt = select(AuditEvent).order_by(AuditEvent.seq)
    if not actor.is_admin:
        if not is_coordinator(actor):
            raise Forbidden("The audit trail is for coordinators and admins.")
        covered = coverage_clause(actor.coverage_code or "")
        dialect = session.get_bind().dialect.name
        stmt = stmt.where(
            or_(
                and_(
                    AuditEvent.entity_type == "referral",
                    AuditEvent.entity_id.in_(
                        select(uuid_text(dialect, Referral.id)).where(covered)
                    ),
                ),
                and_(
                    AuditEvent.entity_type == "case",
                    AuditEvent.entity_id.in_(
                        select(uuid_text(dialect, Referral.case_id)).where(covered)
                    ),
                ),
            )
        )
    if entity_type:
        stmt = stmt.where(AuditEvent.entity_type == entity_type)
    if entity_id:
        stmt = stmt.where(AuditEvent.entity_id == entity_id)
    if principal_id:
        stmt = stmt.where(AuditEvent.actor_principal_id == principal_id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if since:
        stmt = stmt.where(AuditEvent.occurred_at >= since)
    if until:
        stmt = stmt.where(AuditEvent.occurred_at < until)
    return paginate(session, stmt, page=page, per_page=per_page)
