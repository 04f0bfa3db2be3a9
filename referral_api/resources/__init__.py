"""flask-smorest blueprints: HTTP only, thin."""

from __future__ import annotations

import http
from typing import Any

from flask import Flask, current_app, json
from flask_cors import CORS
from flask_smorest import Api
from flask_swagger_ui import get_swaggerui_blueprint
from marshmallow import fields

from .. import __version__
from ..contract import finish
from ..input_guard import TEXT_PATTERN
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
        self.ma_plugin.converter.add_attribute_function(_text_pattern)
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

    def _openapi_json(self) -> Any:
        # flask-smorest's view of /openapi.json (what Swagger UI at /docs reads), serving
        # the document with the house rules applied, as `referral-api openapi` writes it.
        # tests/test_contract.py fails if this override stops being called.
        return current_app.response_class(
            json.dumps(finish(self.spec.to_dict()), indent=2, sort_keys=False),
            mimetype="application/json",
        )


def _text_pattern(_converter: Any, field: fields.Field[Any], **kwargs: Any) -> dict[str, Any]:
    """State the input guard's rule (no control characters) on every free string a
    request may carry: those the schemas bound with a maxLength and no other shape."""
    properties = kwargs["ret"]
    free = "enum" not in properties and "pattern" not in properties
    if isinstance(field, fields.String) and "maxLength" in properties and free:
        return {"pattern": TEXT_PATTERN}
    return {}


api = ReferralApi()


# The public directory, readable from any web page; nothing else is offered cross-origin.
PUBLIC_READS = (
    r"^/api/v1/(organizations|services|locations|regions|service-types|organization-types)(/.*)?$"
    r"|^/api/hsds/.*$"
)


def register_resources(app: Flask, *, cors_origins: tuple[str, ...] = ("*",)) -> None:
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
    # Only GET, and no Authorization header (a browser must preflight it, and the
    # preflight does not allow it): a web page sees the public directory, never a token's.
    CORS(
        app,
        resources={PUBLIC_READS: {"origins": list(cors_origins)}},
        methods=["GET"],
        allow_headers=[],
        expose_headers=["Link", "X-Total-Count", "ETag"],
        supports_credentials=False,
    )
    from . import (
        audit,
        cases,
        events,
        hsds,
        imports,
        locations,
        me,
        offers,
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
        offers,
        cases,
        reports,
        audit,
        events,
        webhooks,
        hsds,
        imports,
    ):
        api.register_blueprint(module.blp)
    app.register_blueprint(
        get_swaggerui_blueprint(
            "/docs", "/openapi.json", config={"app_name": "referral-api", "layout": "BaseLayout"}
        )
    )
