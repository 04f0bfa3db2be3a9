"""flask-smorest blueprints: HTTP only, thin."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from flask_swagger_ui import get_swaggerui_blueprint

from .. import __version__
from ..errors import PROBLEM_JSON
from ..schemas.common import ProblemSchema

API_DESCRIPTION = """\
Directory of the agencies of Indonesia's anti-trafficking (TPPO) service network and the
referrals between them.

Authenticate with `Authorization: Bearer <token>`; calls without a token see only the
public, non-confidential directory. Every error is `application/problem+json`
(RFC 9457) with `errors` (field -> messages) for validation failures.
"""


class ReferralApi(Api):
    """flask-smorest's Api, documenting errors as problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        import http

        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
                prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        default = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(default, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)


api = ReferralApi()


def register_resources(app: Flask) -> None:
    app.config.update(
        API_TITLE="referral-api",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": API_DESCRIPTION},
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "rk_…"}
                }
            },
        },
    )
    api.init_app(app)
    from . import (
        audit,
        cases,
        events,
        locations,
        me,
        ops,
        organizations,
        referrals,
        regions,
        reports,
        services,
        tokens,
        webhooks,
    )

    for module in (
        ops,
        me,
        tokens,
        regions,
        organizations,
        services,
        locations,
        referrals,
        cases,
        reports,
        audit,
        events,
        webhooks,
    ):
        api.register_blueprint(module.blp)
    app.register_blueprint(
        get_swaggerui_blueprint(
            "/docs", "/openapi.json", config={"app_name": "referral-api", "layout": "BaseLayout"}
        )
    )
