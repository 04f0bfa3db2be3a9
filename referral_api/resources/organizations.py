"""Organizations of the directory."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from ..db import db
from ..models import Organization, Role
from ..schemas.directory import (
    OrganizationCreateSchema,
    OrganizationPageSchema,
    OrganizationQueryArgsSchema,
    OrganizationSchema,
    OrganizationUpdateSchema,
)
from ..security import current_actor
from ..services import directory
from .common import authenticated, page_body, query_args

blp = Blueprint(
    "organizations",
    __name__,
    url_prefix="/api/v1/organizations",
    description="Agencies of the network (public, except where noted).",
)
WRITERS = (Role.ORG_ADMIN, Role.ADMIN)


@blp.route("")
class Organizations(MethodView):
    @query_args(blp, OrganizationQueryArgsSchema)
    @blp.response(200, OrganizationPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """List organizations by type, region (home region inside it), status, verification."""
        return page_body(directory.list_organizations(db.session, **args))

    @authenticated(blp, Role.ADMIN)
    @blp.arguments(OrganizationCreateSchema())
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @blp.response(201, OrganizationSchema)
    def post(self, data: dict[str, Any]) -> Organization:
        """Add an organization (admin)."""
        return directory.create_organization(db.session, actor=current_actor(), data=data)


@blp.route("/<uuid:organization_id>")
class OrganizationsById(MethodView):
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, OrganizationSchema)
    def get(self, organization_id: uuid.UUID) -> Organization:
        """One organization."""
        return directory.get_organization(db.session, organization_id=organization_id)

    @authenticated(blp, *WRITERS)
    @blp.arguments(OrganizationUpdateSchema(partial=True))
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @blp.response(200, OrganizationSchema)
    def patch(self, data: dict[str, Any], organization_id: uuid.UUID) -> Organization:
        """Change some fields (org_admin of this organization, or admin)."""
        return directory.update_organization(
            db.session, actor=current_actor(), organization_id=organization_id, data=data
        )

    @authenticated(blp, *WRITERS)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, OrganizationSchema)
    def delete(self, organization_id: uuid.UUID) -> Organization:
        """Deactivate (nothing is deleted: referrals point at organizations)."""
        return directory.deactivate_organization(
            db.session, actor=current_actor(), organization_id=organization_id
        )


@blp.route("/<uuid:organization_id>/verify")
class OrganizationVerify(MethodView):
    @authenticated(blp, Role.ADMIN, Role.COORDINATOR)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, OrganizationSchema)
    def post(self, organization_id: uuid.UUID) -> Organization:
        """Record that someone else checked this entry now (sets verified_at / verified_by):
        an admin, or a coordinator whose coverage includes the organization."""
        return directory.verify_organization(
            db.session, actor=current_actor(), organization_id=organization_id
        )
