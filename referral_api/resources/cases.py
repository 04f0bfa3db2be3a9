"""Cases: the client profile and the referral chain."""

from __future__ import annotations

import uuid

from flask.views import MethodView
from flask_smorest import Blueprint

from ..boundary import writes_on_read
from ..db import db
from ..schemas.referral import CaseSchema, ChainSchema
from ..security import current_actor
from ..services.referrals import cases, chains
from .common import authenticated, referral_settings

blp = Blueprint(
    "cases", __name__, url_prefix="/api/v1/cases", description="Cases and their referral chains."
)


@blp.route("/<uuid:case_id>")
class CasesById(MethodView):
    @writes_on_read
    @authenticated(blp)
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, CaseSchema)
    def get(self, case_id: uuid.UUID) -> cases.CaseView:
        """The case with its client profile (parties of the case and admins; audited)."""
        return cases.read_case(
            db.session, actor=current_actor(), settings=referral_settings(), case_id=case_id
        )


@blp.route("/<uuid:case_id>/chain")
class CaseChain(MethodView):
    @authenticated(blp)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, ChainSchema)
    def get(self, case_id: uuid.UUID) -> chains.Chain:
        """The referral tree of the case with per-hop timings (no client profile)."""
        return chains.chain(db.session, actor=current_actor(), case_id=case_id)
