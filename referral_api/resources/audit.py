"""The audit trail."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ..boundary import reads_only
from ..db import db
from ..errors import NotConfigured
from ..models import Role
from ..schemas.audit import AuditVerdictSchema, CheckpointVerifySchema
from ..schemas.oversight import AuditEventPageSchema, AuditEventQueryArgsSchema
from ..security import current_actor
from ..services import audit, checkpoints, oversight
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
    @blp.doc(operationId="verify_audit_trail")
    def get(self) -> audit.Verdict:
        """Recompute the audit chain and name the first broken event (admin)."""
        return audit.verify(db.session)

    @reads_only
    @authenticated(blp, Role.ADMIN, Role.COORDINATOR)
    @blp.arguments(CheckpointVerifySchema)
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @blp.alt_response(501, response="NOT_IMPLEMENTED")
    @blp.response(200, AuditVerdictSchema)
    @blp.doc(operationId="verify_audit_checkpoint")
    def post(self, body: dict[str, str]) -> audit.Verdict:
        """Whether the chain still holds a checkpoint taken earlier (admin, coordinator):
        `ok` false naming the reason when its signature fails, the chain is shorter than
        it, or the chain's event at its size hashes differently (the chain was rewritten)."""
        key = _signing_key().public_key()
        return checkpoints.verify_note(db.session, note=body["checkpoint"], key=key)


class PublicKeySchema(Schema):
    origin = fields.String(metadata={"description": "The signer's name in each checkpoint."})
    public_key = fields.String(metadata={"description": "Ed25519 public key, base64."})
    key_id = fields.String(metadata={"description": "signed-note key id, hex."})


def _signing_key() -> Ed25519PrivateKey:
    configured = current_app.config["REFERRAL_API"].audit_signing_key
    if configured is None:
        raise NotConfigured("No audit signing key is configured (REFERRAL_API_AUDIT_SIGNING_KEY).")
    return checkpoints.load_signing_key(configured)


@blp.route("/checkpoint")
class AuditCheckpoint(MethodView):
    @authenticated(blp, Role.ADMIN, Role.COORDINATOR)
    @blp.alt_response(501, response="NOT_IMPLEMENTED")
    @blp.response(200, content_type="text/plain")
    def get(self) -> Response:
        """A signed checkpoint of the chain as it is now (C2SP signed-note checkpoint).
        Keep it away from the database: `referral-api audit verify --checkpoint` fails
        when the chain no longer holds it."""
        note = checkpoints.sign(checkpoints.current(db.session), _signing_key())
        return Response(note, mimetype="text/plain")


@blp.route("/public-key")
class AuditPublicKey(MethodView):
    @blp.alt_response(501, response="NOT_IMPLEMENTED")
    @blp.response(200, PublicKeySchema)
    def get(self) -> dict[str, str]:
        """The public key that verifies audit checkpoints."""
        key = _signing_key().public_key()
        return {
            "origin": checkpoints.ORIGIN,
            "public_key": checkpoints.public_key_text(key),
            "key_id": checkpoints.key_id(key).hex(),
        }
