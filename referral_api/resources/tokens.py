"""API tokens: an org_admin manages its organization's, an admin everyone's."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from ..db import db
from ..models import Principal, Role
from ..schemas.principal import (
    PrincipalPageSchema,
    PrincipalSchema,
    TokenCreatedSchema,
    TokenCreateSchema,
    TokenQueryArgsSchema,
)
from ..security import current_actor
from ..services import principals
from .common import authenticated, page_body, query_args

blp = Blueprint(
    "tokens", __name__, url_prefix="/api/v1/tokens", description="API tokens (principals)."
)
MANAGERS = (Role.ORG_ADMIN, Role.ADMIN)


@blp.route("")
class Tokens(MethodView):
    @authenticated(blp, *MANAGERS)
    @query_args(blp, TokenQueryArgsSchema)
    @blp.response(200, PrincipalPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """List the principals you manage (never their tokens)."""
        return page_body(principals.list_principals(db.session, actor=current_actor(), **args))

    @authenticated(blp, *MANAGERS)
    @blp.arguments(TokenCreateSchema())
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @blp.response(201, TokenCreatedSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a principal; the response carries its token, shown this once."""
        principal, token = principals.create_token(db.session, actor=current_actor(), **body)
        return {"principal": principal, "token": token}


@blp.route("/<uuid:principal_id>")
class TokensById(MethodView):
    @authenticated(blp, *MANAGERS)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, PrincipalSchema)
    def delete(self, principal_id: uuid.UUID) -> Principal:
        """Revoke a principal's token (the principal stays, for the audit trail)."""
        return principals.revoke_token(db.session, actor=current_actor(), principal_id=principal_id)
