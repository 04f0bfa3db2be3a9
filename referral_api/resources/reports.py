"""Referral reports for coordinators and admins."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from ..db import db
from ..models.referral import REFERRAL_STATUSES
from ..schemas.oversight import ReportQueryArgsSchema, ReportSchema
from ..security import current_actor
from ..services import oversight
from .common import authenticated, query_args

blp = Blueprint("reports", __name__, url_prefix="/api/v1/reports", description="Oversight reports.")


@blp.route("/referrals")
class ReferralReport(MethodView):
    @authenticated(blp)
    @query_args(blp, ReportQueryArgsSchema)
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.response(200, ReportSchema, content_type="application/json")
    @blp.doc(
        operationId="get_referral_report",
        description="Send `Accept: text/csv` for the same table as CSV (one row per group, "
        "a header row first).",
        # contract.py declares the CSV beside the JSON on the 200 response.
        **{"x-also-served-as": ["text/csv"]},
    )
    def get(self, args: dict[str, Any]) -> Any:
        """Referral figures per group, within your coverage (coordinators) or anywhere
        (admins): counts by status, acceptance rate, rejection reasons, median and 90th
        percentile times to acknowledge, decide, start and complete, and overdue counts."""
        report = oversight.referral_report(db.session, actor=current_actor(), **args)
        if request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv":
            return Response(_csv(report.rows), mimetype="text/csv")
        return {
            "group_by": report.group_by,
            "region": report.region,
            "generated_at": report.generated_at,
            "groups": [{"key": r.key, "label": r.label, **r.figures} for r in report.rows],
        }


def _csv(rows: list[oversight.ReportRow]) -> str:
    """One line per group; nested figures flattened into columns."""
    statuses = [s for s in REFERRAL_STATUSES if s != "entered-in-error"]
    reasons = sorted({reason for r in rows for reason in r.figures["rejection_reasons"]})
    header = ["key", "label", "total", "entered_in_error"]
    header += [f"count_{s}" for s in statuses] + ["acceptance_rate"]
    header += [f"rejected_{reason}" for reason in reasons]
    for name in oversight.DURATIONS:
        header += [f"{name}_count", f"{name}_median", f"{name}_p90"]
    header.append("overdue")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        f = row.figures
        line = [row.key, row.label, f["total"], f["entered_in_error"]]
        line += [f["counts"][s] for s in statuses] + [f["acceptance_rate"]]
        line += [f["rejection_reasons"].get(reason, 0) for reason in reasons]
        for name in oversight.DURATIONS:
            d = f[name]
            line += [d["count"], d["median"], d["p90"]]
        line.append(f["overdue"])
        writer.writerow(["" if v is None else v for v in line])
    return out.getvalue()
