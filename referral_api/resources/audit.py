"""The audit trail."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from ..db import db
from ..models import Role
from ..schemas.audit import AuditVerdictSchema
from ..services import audit
from .common import authenticated

blp = Blueprint(
    "audit", __name__, url_prefix="/api/v1/audit", description="Hash-chained audit trail."
)


@blp.route("/verify")
class AuditVerify(MethodView):
    @authenticated(blp, Role.ADMIN)
    @blp.response(200, AuditVerdictSchema)
    def get(self) -> audit.Verdict:
        """Recompute the audit chain and name the first broken event (admin)."""
        return audit.verify(db.session)
