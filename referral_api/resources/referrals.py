"""Referrals between organizations and their lifecycle."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from flask import Response, json, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from ..boundary import writes_on_read
from ..db import db
from ..errors import PreconditionFailed, PreconditionRequired
from ..schemas.referral import (
    ClientSummarySchema,
    ReferralCreateSchema,
    ReferralEventListSchema,
    ReferralPageSchema,
    ReferralQueryArgsSchema,
    ReferralSchema,
    TransitionSchema,
)
from ..security import current_actor
from ..services import idempotency
from ..services.referrals import cases, create, history, lifecycle, reads, visibility
from ..services.referrals.deadlines import ReferralView, view
from ..services.referrals.rules import WRITERS
from .common import authenticated, page_body, query_args, referral_settings

blp = Blueprint(
    "referrals",
    __name__,
    url_prefix="/api/v1/referrals",
    description="Referrals between organizations (FHIR Task status codes).",
)
SENDERS = WRITERS
_REFERRAL = ReferralSchema()


def _with_etag(referral: ReferralView) -> tuple[ReferralView, int, dict[str, str]]:
    return referral, 200, {"ETag": referral.etag}


IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "schema": {"type": "string", "maxLength": 200},
    "description": "A retry with the same key and request returns the first response and "
    "changes nothing more; the same key with another request is refused (422).",
}


def _once(act: Callable[[], idempotency.Outcome], request_body: Any) -> Response:
    """Run `act` under the request's Idempotency-Key (if any); answer with its outcome:
    the referral, its ETag, and where it lives if it was created."""
    outcome = idempotency.once(
        db.session,
        actor=current_actor(),
        key=request.headers.get("Idempotency-Key"),
        request_body=request_body,
        act=act,
    )
    response = Response(json.dumps(outcome.body), outcome.status_code, mimetype="application/json")
    response.headers["ETag"] = f'"{outcome.body["version"]}"'
    if outcome.status_code == 201:
        response.headers["Location"] = url_for(
            "referrals.ReferralsById", referral_id=outcome.body["id"]
        )
    return response


def expected_version(header: str | None) -> int | None:
    """The version an If-Match names: `"3"`, `W/"3"` or `*` (any: returns None)."""
    if header is None or not header.strip():
        raise PreconditionRequired("Send If-Match with the referral's ETag (its version).")
    value = header.strip()
    if value == "*":
        return None
    value = value.removeprefix("W/").strip('"')
    if not re.fullmatch(r"[0-9]{1,18}", value):
        raise PreconditionFailed(f"If-Match {header!r} is not an ETag of this resource.")
    return int(value)


@blp.route("")
class Referrals(MethodView):
    @authenticated(blp)
    @blp.alt_response(403, response="FORBIDDEN")
    @query_args(blp, ReferralQueryArgsSchema)
    @blp.response(200, ReferralPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Your organization's incoming and/or outgoing referrals (overdue ones: oldest first)."""
        page = reads.list_referrals(db.session, actor=current_actor(), **args)
        return page_body(page.map(view))

    @authenticated(blp, *SENDERS)
    @blp.arguments(ReferralCreateSchema())
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @blp.response(201, ReferralSchema, headers={"ETag": {"schema": {"type": "string"}}})
    @blp.doc(parameters=[IDEMPOTENCY_KEY])
    def post(self, data: dict[str, Any]) -> Response:
        """Send a referral, on an existing case (`case_id`) or with a new `case`."""

        def send() -> idempotency.Outcome:
            referral = create.create_referral(
                db.session, actor=current_actor(), settings=referral_settings(), data=data
            )
            return idempotency.Outcome(201, _REFERRAL.dump(view(referral)))

        return _once(send, request.get_json())


@blp.route("/<uuid:referral_id>")
class ReferralsById(MethodView):
    @authenticated(blp)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, ReferralSchema, headers={"ETag": {"schema": {"type": "string"}}})
    def get(self, referral_id: uuid.UUID) -> Any:
        """One referral, with its version as ETag (parties of its case only)."""
        referral = visibility.get_referral(
            db.session, actor=current_actor(), referral_id=referral_id
        )
        return _with_etag(view(referral))


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
        operationId="transition_referral",
        parameters=[
            {
                "in": "header",
                "name": "If-Match",
                "required": True,
                "schema": {"type": "string", "maxLength": 40},
                "description": "The ETag of the referral you saw.",
            },
            IDEMPOTENCY_KEY,
        ],
    )
    def post(self, data: dict[str, Any], referral_id: uuid.UUID) -> Response:
        """Change the status: the sender cancels or marks entered-in-error, the receiver
        does the rest. A forbidden move is 409 naming the allowed ones; a stale If-Match 412."""
        if_match = request.headers.get("If-Match")

        def move() -> idempotency.Outcome:
            referral = lifecycle.transition(
                db.session,
                actor=current_actor(),
                referral_id=referral_id,
                expected_version=expected_version(if_match),
                **data,
            )
            return idempotency.Outcome(200, _REFERRAL.dump(view(referral)))

        # The same body moves another referral, or the same one from another version.
        return _once(move, {"referral_id": str(referral_id), "if_match": if_match, **data})


@blp.route("/<uuid:referral_id>/client-summary")
class ReferralClientSummary(MethodView):
    @writes_on_read  # an audited read
    @authenticated(blp)
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, ClientSummarySchema)
    def get(self, referral_id: uuid.UUID) -> cases.ClientSummary:
        """The referral's client, de-identified (age band, gender, needs, languages): what
        a receiver of a shelter offer sees before it accepts. Sender and receiver only."""
        return cases.client_summary(
            db.session, actor=current_actor(), settings=referral_settings(), referral_id=referral_id
        )


@blp.route("/<uuid:referral_id>/events")
class ReferralEvents(MethodView):
    @authenticated(blp)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, ReferralEventListSchema)
    def get(self, referral_id: uuid.UUID) -> dict[str, Any]:
        """The status history of a referral, oldest first."""
        events = history.list_events(db.session, actor=current_actor(), referral_id=referral_id)
        return {"items": events}
