"""Referral reports for coordinators and admins."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields

from ..boundary import writes_on_read
from ..db import db
from ..models.referral import REFERRAL_STATUSES
from ..schemas.oversight import ReportQueryArgsSchema, ReportSchema
from ..security import current_actor
from ..services import oversight
from .common import authenticated, query_args

# What marshmallow's Boolean reads as false: such a request is an audited read.
FALSE_WORDS = {str(word).lower() for word in fields.Boolean.falsy}

blp = Blueprint("reports", __name__, url_prefix="/api/v1/reports", description="Oversight reports.")


@blp.route("/referrals")
class ReferralReport(MethodView):
    @writes_on_read(when=lambda: request.args.get("suppress", "").lower() in FALSE_WORDS)
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
        percentile times to acknowledge, decide, start and complete, and overdue counts.
        Counts below the minimum cell size, and those they could be worked out from, are
        null in a group marked `suppressed`."""
        report = oversight.referral_report(
            db.session,
            actor=current_actor(),
            min_cell=current_app.config["REFERRAL_API"].min_cell,
            **args,
        )
        if request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv":
            return Response(_csv([*report.rows, report.totals]), mimetype="text/csv")
        return {
            "group_by": report.group_by,
            "region": report.region,
            "date_from": report.date_from,
            "date_to": report.date_to,
            "min_cell": report.min_cell,
            "generated_at": report.generated_at,
            "groups": [_row(r) for r in report.rows],
            "totals": _row(report.totals),
        }


def _row(row: oversight.ReportRow) -> dict[str, Any]:
    return {"key": row.key, "label": row.label, "suppressed": row.suppressed, **row.figures}


def _csv(rows: list[oversight.ReportRow]) -> str:
    """One line per group; nested figures flattened into columns."""
    statuses = [s for s in REFERRAL_STATUSES if s != "entered-in-error"]
    reasons = sorted({reason for r in rows for reason in r.figures["rejection_reasons"]})
    header = ["key", "label", "suppressed", "total", "entered_in_error"]
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
        line = [row.key, row.label, row.suppressed, f["total"], f["entered_in_error"]]
        line += [f["counts"][s] for s in statuses] + [f["acceptance_rate"]]
        line += [f["rejection_reasons"].get(reason, 0) for reason in reasons]
        for name in oversight.DURATIONS:
            d = f[name]
            line += [d["count"], d["median"], d["p90"]]
        line.append(f["overdue"])
        writer.writerow(["" if v is None else v for v in line])
    return out.getvalue()
