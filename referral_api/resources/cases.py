"""Cases: the client profile, the referral chain, and the client's data lifecycle."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from ..boundary import writes_on_read
from ..db import db
from ..schemas.referral import (
    CaseCloseSchema,
    CaseClosureSchema,
    CaseSchema,
    ChainSchema,
    ConsentWithdrawalResultSchema,
    ConsentWithdrawalSchema,
    SubjectExportSchema,
)
from ..security import current_actor
from ..services.referrals import cases, chains, ending, export
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
    @blp.alt_response(410, response="GONE")
    @blp.response(200, CaseSchema)
    def get(self, case_id: uuid.UUID) -> cases.CaseView:
        """The case with its client profile (the owner, parties whose access is open, and
        admins; audited)."""
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


@blp.route("/<uuid:case_id>/consent-withdrawal")
class ConsentWithdrawal(MethodView):
    @authenticated(blp)
    @blp.arguments(ConsentWithdrawalSchema)
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @blp.response(200, ConsentWithdrawalResultSchema)
    @blp.doc(operationId="withdraw_consent")
    def post(self, data: dict[str, Any], case_id: uuid.UUID) -> ending.Withdrawal:
        """The client withdraws consent (case owner): open referrals to the organizations
        in scope are cancelled and their access to the profile ends now."""
        return ending.withdraw_consent(
            db.session,
            actor=current_actor(),
            case_id=case_id,
            scope=data["scope"],
            note=data.get("note"),
        )


@blp.route("/<uuid:case_id>/close")
class CaseClose(MethodView):
    @authenticated(blp)
    @blp.arguments(CaseCloseSchema)
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @blp.response(200, CaseClosureSchema)
    def post(self, data: dict[str, Any], case_id: uuid.UUID) -> ending.Closure:
        """Close the case with its outcome (case owner); open referrals must have ended,
        or be cancelled with `cancel_open: true`."""
        return ending.close_case(
            db.session,
            actor=current_actor(),
            case_id=case_id,
            outcome=data["outcome"],
            note=data.get("note"),
            cancel_open=data["cancel_open"],
        )


@blp.route("/<uuid:case_id>/subject-export")
class SubjectExport(MethodView):
    @writes_on_read
    @authenticated(blp)
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(410, response="GONE")
    @blp.response(200, SubjectExportSchema)
    def get(self, case_id: uuid.UUID) -> export.SubjectExport:
        """Everything held about the case's client, with every audited read of the
        profile, for a subject-access request (the owner's org_admin; audited)."""
        return export.subject_export(
            db.session, actor=current_actor(), settings=referral_settings(), case_id=case_id
        )
