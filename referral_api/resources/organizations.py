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
from . import conditional
from .common import authenticated, page_body, query_args

blp = Blueprint(
    "organizations",
    __name__,
    url_prefix="/api/v1/organizations",
    description="Agencies of the network (public, except where noted).",
)
WRITERS = (Role.ORG_ADMIN, Role.ADMIN)
_ORGANIZATION = OrganizationSchema()


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
    @conditional.conditional_read(blp)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, OrganizationSchema)
    def get(self, organization_id: uuid.UUID) -> Any:
        """One organization, with an ETag."""
        organization = directory.get_organization(db.session, organization_id=organization_id)
        return conditional.read(_ORGANIZATION, organization)

    @authenticated(blp, *WRITERS)
    @conditional.conditional_change(blp)
    @blp.arguments(OrganizationUpdateSchema(partial=True))
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @blp.response(200, OrganizationSchema)
    def patch(self, data: dict[str, Any], organization_id: uuid.UUID) -> Any:
        """Change some fields (org_admin of this organization, or admin); If-Match: 412 if stale."""
        return _change(organization_id, data)

    @authenticated(blp, *WRITERS)
    @conditional.conditional_change(blp)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, OrganizationSchema)
    def delete(self, organization_id: uuid.UUID) -> Any:
        """Deactivate (nothing is deleted: referrals point at organizations); If-Match: 412 if
        stale."""
        return _change(organization_id, {"status": "inactive"})


def _change(organization_id: uuid.UUID, data: dict[str, Any]) -> Any:
    """Apply `data` if the caller's If-Match (if any) still names the organization."""
    current = directory.get_organization(
        db.session, organization_id=organization_id, for_update=True
    )
    conditional.require_current(_ORGANIZATION, current)
    organization = directory.update_organization(
        db.session, actor=current_actor(), organization_id=organization_id, data=data
    )
    return conditional.with_etag(_ORGANIZATION, organization)


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
