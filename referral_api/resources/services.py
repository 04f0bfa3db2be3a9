"""Services of organizations."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from ..db import db
from ..models import Role
from ..schemas.directory import (
    ServiceCreateSchema,
    ServicePageSchema,
    ServiceQueryArgsSchema,
    ServiceSchema,
    ServiceUpdateSchema,
)
from ..security import current_actor
from ..services import directory
from .common import authenticated, page_body, query_args

blp = Blueprint(
    "services", __name__, url_prefix="/api/v1/services", description="Services of organizations."
)
WRITERS = (Role.ORG_ADMIN, Role.ADMIN)


@blp.route("")
class Services(MethodView):
    @query_args(blp, ServiceQueryArgsSchema)
    @blp.response(200, ServicePageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """List services by organization, service type (any of), region and status."""
        actor = current_actor()
        page = directory.list_services(db.session, actor=actor, **args)
        views = [directory.view_service(actor, service) for service in page.items]
        return page_body(replace(page, items=views))

    @authenticated(blp, *WRITERS)
    @blp.arguments(ServiceCreateSchema)
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @blp.response(201, ServiceSchema)
    def post(self, data: dict[str, Any]) -> directory.ServiceView:
        """Add a service (org_admin of its organization, or admin)."""
        actor = current_actor()
        return directory.view_service(
            actor, directory.create_service(db.session, actor=actor, data=data)
        )


@blp.route("/<uuid:service_id>")
class ServicesById(MethodView):
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, ServiceSchema)
    def get(self, service_id: uuid.UUID) -> directory.ServiceView:
        """One service."""
        actor = current_actor()
        return directory.view_service(
            actor, directory.get_service(db.session, service_id=service_id)
        )

    @authenticated(blp, *WRITERS)
    @blp.arguments(ServiceUpdateSchema(partial=True))
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @blp.response(200, ServiceSchema)
    def patch(self, data: dict[str, Any], service_id: uuid.UUID) -> directory.ServiceView:
        """Change some fields (org_admin of its organization, or admin)."""
        actor = current_actor()
        service = directory.update_service(
            db.session, actor=actor, service_id=service_id, data=data
        )
        return directory.view_service(actor, service)

    @authenticated(blp, *WRITERS)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, ServiceSchema)
    def delete(self, service_id: uuid.UUID) -> directory.ServiceView:
        """Deactivate a service (nothing is deleted)."""
        actor = current_actor()
        service = directory.update_service(
            db.session, actor=actor, service_id=service_id, data={"status": "inactive"}
        )
        return directory.view_service(actor, service)
