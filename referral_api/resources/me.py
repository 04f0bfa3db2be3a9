"""Who am I."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from ..db import db
from ..models import Principal
from ..schemas.principal import MeSchema
from ..security import current_actor
from ..services import principals
from .common import authenticated

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The calling principal.")


@blp.route("")
class Me(MethodView):
    @authenticated(blp)
    @blp.response(200, MeSchema)
    def get(self) -> Principal:
        """Who am I: principal, organization, role and coverage."""
        principal_id = current_actor().principal_id
        assert principal_id is not None  # @authenticated
        return principals.get_principal(db.session, principal_id=principal_id)
