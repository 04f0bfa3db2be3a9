"""flask-smorest blueprints: HTTP only, thin."""

from __future__ import annotations

import http
from typing import Any

from flask import Flask
from flask_smorest import Api
from flask_swagger_ui import get_swaggerui_blueprint

from .. import __version__
from ..problems import PROBLEM_JSON
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

    def init_app(self, app: Flask, *, spec_kwargs: dict[str, Any] | None = None) -> None:
        super().init_app(app, spec_kwargs=spec_kwargs)
        # flask-smorest has registered a lazy response per status (and DEFAULT_ERROR),
        # its error ones as DEFAULT_RESPONSE_CONTENT_TYPE, application/json, which our
        # successes need too. Register them again, lazily, under the same names: until
        # a view refers to one (api.register_blueprint, which comes after this), apispec
        # keeps a lazy component as a draft that the latest registration replaces (it
        # raises DuplicateComponentNameError only for referenced ones). This relies on no
        # private flask-smorest method; tests/test_openapi.py fails if it stops working.
        # The spec is OpenAPI 3 (OPENAPI_VERSION below), hence `content`.
        problem = {"content": {PROBLEM_JSON: {"schema": self.ERROR_SCHEMA}}}
        for status in http.HTTPStatus:
            error = problem if status >= 400 else {}
            self.spec.components.response(
                status.name, {"description": status.phrase, **error}, lazy=True
            )
        self.spec.components.response(
            self.DEFAULT_ERROR_RESPONSE_NAME,
            {"description": "Default error response", **problem},
            lazy=True,
        )


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
        locations,
        me,
        ops,
        organizations,
        referrals,
        regions,
        reports,
        services,
        tokens,
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
    ):
        api.register_blueprint(module.blp)
    app.register_blueprint(
        get_swaggerui_blueprint(
            "/docs", "/openapi.json", config={"app_name": "referral-api", "layout": "BaseLayout"}
        )
    )
