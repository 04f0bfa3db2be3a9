"""The audit trail."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from ..db import db
from ..models import Role
from ..schemas.audit import AuditVerdictSchema
from ..schemas.oversight import AuditEventPageSchema, AuditEventQueryArgsSchema
from ..security import current_actor
from ..services import audit, oversight
from .common import authenticated, page_body, query_args

blp = Blueprint(
    "audit", __name__, url_prefix="/api/v1/audit", description="Hash-chained audit trail."
)


@blp.route("/events")
class AuditEvents(MethodView):
    @authenticated(blp, Role.ADMIN, Role.COORDINATOR)
    @query_args(blp, AuditEventQueryArgsSchema)
    @blp.response(200, AuditEventPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Audit events, oldest first: all (admin), or about the referrals and cases in
        your coverage (coordinator). Summaries never hold personal data."""
        return page_body(oversight.list_audit_events(db.session, actor=current_actor(), **args))


@blp.route("/verify")
class AuditVerify(MethodView):
    @authenticated(blp, Role.ADMIN)
    @blp.response(200, AuditVerdictSchema)
    def get(self) -> audit.Verdict:
        """Recompute the audit chain and name the first broken event (admin)."""
        return audit.verify(db.session)
