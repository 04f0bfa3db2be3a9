"""Liveness and readiness."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ..db import db
from ..problems import problem
from ..services import health

blp = Blueprint("ops", __name__, url_prefix="/", description="Operations probes.")


class HealthSchema(Schema):
    status = fields.String(required=True)  # always sent; `revision` only by /readyz
    revision = fields.String(allow_none=True)


@blp.route("healthz")
class Healthz(MethodView):
    @blp.response(200, HealthSchema)
    def get(self) -> dict[str, str]:
        """Process is up."""
        return {"status": "ok"}


@blp.route("readyz")
class Readyz(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    def get(self):  # type: ignore[no-untyped-def]
        """Database reachable and migrated to the newest revision."""
        config = current_app.config["REFERRAL_API"]
        state = health.readiness(db.engine, timeout_s=config.db_connect_timeout_s + 1)
        if not state.ready:
            return problem(503, "Not ready", state.detail, headers={"Retry-After": "5"})
        return {"status": "ready", "revision": state.revision}
