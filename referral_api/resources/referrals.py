"""Referrals between organizations and their lifecycle."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from flask import Response, json, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from ..db import db
from ..errors import ValidationFailed
from ..models import Role
from ..schemas.referral import (
    ReferralCreateSchema,
    ReferralEventListSchema,
    ReferralPageSchema,
    ReferralQueryArgsSchema,
    ReferralSchema,
    TransitionSchema,
)
from ..security import current_actor
from ..services import referrals
from .common import authenticated, page_body, query_args, referral_settings

blp = Blueprint(
    "referrals",
    __name__,
    url_prefix="/api/v1/referrals",
    description="Referrals between organizations (FHIR Task status codes).",
)
SENDERS = (Role.CASEWORKER, Role.ORG_ADMIN)
_REFERRAL = ReferralSchema()


def _with_etag(view: referrals.ReferralView, status: int = 200) -> tuple[Any, int, dict]:
    return view, status, {"ETag": view.etag}


@blp.route("")
class Referrals(MethodView):
    @authenticated(blp)
    @query_args(blp, ReferralQueryArgsSchema)
    @blp.response(200, ReferralPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Your organization's incoming and/or outgoing referrals (overdue ones: oldest first)."""
        page = referrals.list_referrals(db.session, actor=current_actor(), **args)
        return page_body(replace(page, items=[referrals.view(r) for r in page.items]))

    @authenticated(blp, *SENDERS)
    @blp.arguments(ReferralCreateSchema())
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @blp.response(201, ReferralSchema, headers={"ETag": {"schema": {"type": "string"}}})
    @blp.doc(
        parameters=[
            {
                "in": "header",
                "name": "Idempotency-Key",
                "schema": {"type": "string", "maxLength": 200},
                "description": "A retry with the same key and body returns the first response "
                "and creates nothing; the same key with another body is refused (422).",
            }
        ]
    )
    def post(self, data: dict[str, Any]) -> Any:
        """Send a referral, on an existing case (`case_id`) or with a new `case`."""
        actor = current_actor()
        key = request.headers.get("Idempotency-Key")
        fingerprint = ""
        if key is not None:
            if not 1 <= len(key) <= 200:
                raise ValidationFailed({"Idempotency-Key": "Must be 1 to 200 characters."})
            fingerprint = referrals.request_fingerprint(request.get_json())
            stored = referrals.replay(db.session, actor=actor, key=key, fingerprint=fingerprint)
            if stored is not None:
                return _json(stored.response, stored.status_code)
        referral = referrals.create_referral(
            db.session, actor=actor, settings=referral_settings(), data=data
        )
        body = _REFERRAL.dump(referrals.view(referral))
        if key is not None:
            stored = referrals.remember(
                db.session,
                actor=actor,
                key=key,
                fingerprint=fingerprint,
                status_code=201,
                response=body,
            )
            if stored is not None:  # a retry with this key was first
                return _json(stored.response, stored.status_code)
        return _json(body, 201)


def _json(body: dict[str, Any], status: int) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    response.headers["ETag"] = f'"{body["version"]}"'
    response.headers["Location"] = url_for("referrals.ReferralsById", referral_id=body["id"])
    return response


@blp.route("/<uuid:referral_id>")
class ReferralsById(MethodView):
    @authenticated(blp)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, ReferralSchema, headers={"ETag": {"schema": {"type": "string"}}})
    def get(self, referral_id: uuid.UUID) -> Any:
        """One referral, with its version as ETag (parties of its case only)."""
        referral = referrals.get_referral(
            db.session, actor=current_actor(), referral_id=referral_id
        )
        return _with_etag(referrals.view(referral))


@blp.route("/<uuid:referral_id>/transitions")
class ReferralTransitions(MethodView):
    @authenticated(blp, *SENDERS)
    @blp.arguments(TransitionSchema())
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(412, response="PRECONDITION_FAILED")
    @blp.alt_response(428, response="PRECONDITION_REQUIRED")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @blp.response(200, ReferralSchema, headers={"ETag": {"schema": {"type": "string"}}})
    @blp.doc(
        parameters=[
            {
                "in": "header",
                "name": "If-Match",
                "required": True,
                "schema": {"type": "string"},
                "description": "The ETag of the referral you saw.",
            }
        ]
    )
    def post(self, data: dict[str, Any], referral_id: uuid.UUID) -> Any:
        """Change the status: the sender cancels or marks entered-in-error, the receiver
        does the rest. A forbidden move is 409 naming the allowed ones; a stale If-Match 412."""
        referral = referrals.transition(
            db.session,
            actor=current_actor(),
            referral_id=referral_id,
            if_match=request.headers.get("If-Match"),
            **data,
        )
        return _with_etag(referrals.view(referral))


@blp.route("/<uuid:referral_id>/events")
class ReferralEvents(MethodView):
    @authenticated(blp)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, ReferralEventListSchema)
    def get(self, referral_id: uuid.UUID) -> dict[str, Any]:
        """The status history of a referral, oldest first."""
        events = referrals.list_events(db.session, actor=current_actor(), referral_id=referral_id)
        return {"items": events}
