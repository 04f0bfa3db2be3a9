"""Locations: the sites where services are given."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from ..db import db
from ..models import Role
from ..schemas.directory import (
    LocationCreateSchema,
    LocationPageSchema,
    LocationQueryArgsSchema,
    LocationSchema,
    LocationUpdateSchema,
)
from ..security import current_actor
from ..services import directory
from . import conditional
from .common import authenticated, page_body, query_args

blp = Blueprint(
    "locations",
    __name__,
    url_prefix="/api/v1/locations",
    description="Sites of organizations. Confidential sites (safe houses) are never shown to "
    "public callers; other organizations see only their regency.",
)
WRITERS = (Role.ORG_ADMIN, Role.ADMIN)
_LOCATION = LocationSchema()


@blp.route("")
class Locations(MethodView):
    @query_args(blp, LocationQueryArgsSchema)
    @blp.response(200, LocationPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """List locations by organization, region and status."""
        actor = current_actor()
        page = directory.list_locations(db.session, actor=actor, **args)
        return page_body(page.map(lambda location: directory.view_location(actor, location)))

    @authenticated(blp, *WRITERS)
    @blp.arguments(LocationCreateSchema())
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @blp.response(201, LocationSchema)
    def post(self, data: dict[str, Any]) -> directory.LocationView:
        """Add a location (org_admin of its organization, or admin)."""
        actor = current_actor()
        location = directory.create_location(db.session, actor=actor, data=data)
        return directory.view_location(actor, location)


@blp.route("/<uuid:location_id>")
class LocationsById(MethodView):
    @conditional.conditional_read(blp)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, LocationSchema)
    def get(self, location_id: uuid.UUID) -> Any:
        """One location, as the caller may see it, with an ETag."""
        actor = current_actor()
        location = directory.get_location(db.session, actor=actor, location_id=location_id)
        return conditional.read(_LOCATION, directory.view_location(actor, location))

    @authenticated(blp, *WRITERS)
    @conditional.conditional_change(blp)
    @blp.arguments(LocationUpdateSchema(partial=True))
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @blp.response(200, LocationSchema)
    def patch(self, data: dict[str, Any], location_id: uuid.UUID) -> Any:
        """Change some fields (org_admin of its organization, or admin); If-Match: 412 if stale."""
        return _change(location_id, data)

    @authenticated(blp, *WRITERS)
    @conditional.conditional_change(blp)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, LocationSchema)
    def delete(self, location_id: uuid.UUID) -> Any:
        """Deactivate a location (nothing is deleted); If-Match: 412 if stale."""
        return _change(location_id, {"status": "inactive"})


def _change(location_id: uuid.UUID, data: dict[str, Any]) -> Any:
    """Apply `data` if the caller's If-Match (if any) still names the location."""
    actor = current_actor()
    current = directory.get_location(
        db.session, actor=actor, location_id=location_id, for_update=True
    )
    conditional.require_current(_LOCATION, directory.view_location(actor, current))
    location = directory.update_location(
        db.session, actor=actor, location_id=location_id, data=data
    )
    return conditional.with_etag(_LOCATION, directory.view_location(actor, location))
