"""Shelter offers: one request to several services at once, the first acceptance wins."""

from __future__ import annotations

from typing import Any

from flask import Response, json, request
from flask.views import MethodView
from flask_smorest import Blueprint

from ..db import db
from ..schemas.referral import ReferralOfferCreateSchema, ReferralOfferSchema
from ..security import current_actor
from ..services import idempotency
from ..services.referrals import offers
from ..services.referrals.deadlines import view
from ..services.referrals.rules import WRITERS
from .common import authenticated, referral_settings
from .referrals import IDEMPOTENCY_KEY

blp = Blueprint(
    "referral_offers",
    __name__,
    url_prefix="/api/v1/referral-offers",
    description="Shelter offers: the same referral to 2-5 services, the first to accept wins.",
)
_OFFER = ReferralOfferSchema()


@blp.route("")
class ReferralOffers(MethodView):
    @authenticated(blp, *WRITERS)
    @blp.arguments(ReferralOfferCreateSchema())
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @blp.response(201, ReferralOfferSchema)
    @blp.doc(parameters=[IDEMPOTENCY_KEY])
    def post(self, data: dict[str, Any]) -> Response:
        """Send one referral to each of 2-5 services of different organizations at once.
        Receivers see a de-identified client summary until one accepts; that acceptance
        cancels the others (filled_elsewhere); unaccepted by `expires_at`, all are
        cancelled (expired)."""

        def send() -> idempotency.Outcome:
            offer = offers.create_offer(
                db.session, actor=current_actor(), settings=referral_settings(), data=data
            )
            body = {
                "offer_id": offer.offer_id,
                "expires_at": offer.expires_at,
                "referrals": [view(referral) for referral in offer.referrals],
            }
            return idempotency.Outcome(201, _OFFER.dump(body))

        outcome = idempotency.once(
            db.session,
            actor=current_actor(),
            key=request.headers.get("Idempotency-Key"),
            request_body=request.get_json(),
            act=send,
        )
        return Response(json.dumps(outcome.body), outcome.status_code, mimetype="application/json")
