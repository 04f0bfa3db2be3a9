"""Who am I."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from ..models import Principal
from ..schemas.principal import MeSchema
from ..security import current_principal
from .common import authenticated

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The calling principal.")


@blp.route("")
class Me(MethodView):
    @authenticated(blp)
    @blp.response(200, MeSchema)
    def get(self) -> Principal | None:
        """Who am I: principal, organization, role and coverage."""
        return current_principal()
