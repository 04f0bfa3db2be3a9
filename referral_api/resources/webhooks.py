"""Webhook subscriptions (Standard Webhooks 1.0)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from ..db import db
from ..models import Role
from ..schemas.events import (
    RedeliveredSchema,
    RedeliverSchema,
    WebhookCreatedSchema,
    WebhookCreateSchema,
    WebhookDeliveryPageSchema,
    WebhookDeliveryQueryArgsSchema,
    WebhookPageSchema,
    WebhookQueryArgsSchema,
    WebhookSchema,
    WebhookTestSentSchema,
)
from ..security import current_actor
from ..services.webhooks import subscriptions
from .common import authenticated, page_body, query_args

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/api/v1/webhooks",
    description="Webhook subscriptions: signed, numbered, retried deliveries of events.",
)
MANAGERS = (Role.ORG_ADMIN, Role.COORDINATOR, Role.ADMIN)


def _settings() -> subscriptions.Settings:
    config = current_app.config["REFERRAL_API"]
    return subscriptions.Settings(
        secret_key=config.secret_key,
        allow_private=config.webhook_allow_private,
        rotation_hours=config.webhook_rotation_hours,
    )


def _with_secret(subscription: Any, secret: str) -> dict[str, Any]:
    body = {name: getattr(subscription, name) for name in WebhookSchema().fields}
    body["secret"] = secret
    return body


@blp.route("")
class Webhooks(MethodView):
    @authenticated(blp, *MANAGERS)
    @query_args(blp, WebhookQueryArgsSchema)
    @blp.response(200, WebhookPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """List the webhook subscriptions you manage (never their secrets)."""
        return page_body(
            subscriptions.list_subscriptions(db.session, actor=current_actor(), **args)
        )

    @authenticated(blp, *MANAGERS)
    @blp.arguments(WebhookCreateSchema())
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @blp.response(201, WebhookCreatedSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Subscribe an https endpoint; the response carries its `whsec_` secret, shown
        this once."""
        subscription, secret = subscriptions.create_subscription(
            db.session, actor=current_actor(), settings=_settings(), **body
        )
        return _with_secret(subscription, secret)


@blp.route("/<uuid:subscription_id>")
class WebhooksById(MethodView):
    @authenticated(blp, *MANAGERS)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, WebhookSchema)
    def get(self, subscription_id: uuid.UUID) -> Any:
        """A webhook subscription, with why it was disabled if it was."""
        return subscriptions.get_subscription(
            db.session, actor=current_actor(), subscription_id=subscription_id
        )

    @authenticated(blp, *MANAGERS)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(204)
    def delete(self, subscription_id: uuid.UUID) -> None:
        """Stop a webhook subscription."""
        subscriptions.delete_subscription(
            db.session, actor=current_actor(), subscription_id=subscription_id
        )


@blp.route("/<uuid:subscription_id>/rotate-secret")
class WebhookRotateSecret(MethodView):
    @authenticated(blp, *MANAGERS)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, WebhookCreatedSchema)
    @blp.doc(operationId="rotate_webhook_secret")
    def post(self, subscription_id: uuid.UUID) -> dict[str, Any]:
        """Issue a new secret, shown this once; deliveries carry signatures by the old and
        the new one during the grace period."""
        subscription, secret = subscriptions.rotate_secret(
            db.session,
            actor=current_actor(),
            settings=_settings(),
            subscription_id=subscription_id,
        )
        return _with_secret(subscription, secret)


@blp.route("/<uuid:subscription_id>/test")
class WebhookTest(MethodView):
    @authenticated(blp, *MANAGERS)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(202, WebhookTestSentSchema)
    def post(self, subscription_id: uuid.UUID) -> dict[str, Any]:
        """Send a `webhook.test` event to this subscription only."""
        event_id = subscriptions.send_test(
            db.session, actor=current_actor(), subscription_id=subscription_id
        )
        return {"event_id": event_id}


@blp.route("/<uuid:subscription_id>/deliveries")
class WebhookDeliveries(MethodView):
    @authenticated(blp, *MANAGERS)
    @query_args(blp, WebhookDeliveryQueryArgsSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, WebhookDeliveryPageSchema)
    def get(self, args: dict[str, Any], subscription_id: uuid.UUID) -> Any:
        """The delivery log, newest first: each attempt's time, status code or error,
        duration and next retry."""
        return page_body(
            subscriptions.list_deliveries(
                db.session, actor=current_actor(), subscription_id=subscription_id, **args
            )
        )


@blp.route("/<uuid:subscription_id>/redeliver")
class WebhookRedeliver(MethodView):
    @authenticated(blp, *MANAGERS)
    @blp.arguments(RedeliverSchema())
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @blp.response(202, RedeliveredSchema)
    def post(self, body: dict[str, Any], subscription_id: uuid.UUID) -> dict[str, Any]:
        """Send the deliveries numbered from_number..to_number again, in order (this also
        re-enables a disabled subscription)."""
        queued = subscriptions.redeliver(
            db.session, actor=current_actor(), subscription_id=subscription_id, **body
        )
        return {"queued": queued}
