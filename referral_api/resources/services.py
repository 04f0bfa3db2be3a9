"""Services of organizations."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from ..db import db
from ..models import Role
from ..models.base import utcnow
from ..schemas.directory import (
    NearestQueryArgsSchema,
    NearestSchema,
    ServiceCreateSchema,
    ServicePageSchema,
    ServiceQueryArgsSchema,
    ServiceSchema,
    ServiceUpdateSchema,
)
from ..security import current_actor
from ..services import directory, search
from . import conditional
from .common import authenticated, capacity_stale_before, page_body, query_args, search_geocoder

blp = Blueprint(
    "services", __name__, url_prefix="/api/v1/services", description="Services of organizations."
)
WRITERS = (Role.ORG_ADMIN, Role.ADMIN)
_SERVICE = ServiceSchema()


@blp.route("")
class Services(MethodView):
    @query_args(blp, ServiceQueryArgsSchema)
    @blp.response(200, ServicePageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Search services: every filter given must hold (service types: any of)."""
        filters = search.Filters(**_filter_args(args))
        return page_body(
            search.list_services(
                db.session,
                actor=current_actor(),
                filters=filters,
                stale_before=capacity_stale_before(),
                **args,
            )
        )

    @authenticated(blp, *WRITERS)
    @blp.arguments(ServiceCreateSchema())
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @blp.response(201, ServiceSchema)
    def post(self, data: dict[str, Any]) -> directory.ServiceView:
        """Add a service (org_admin of its organization, or admin)."""
        actor = current_actor()
        service = directory.create_service(db.session, actor=actor, data=data)
        return directory.view_service(actor, service, stale_before=capacity_stale_before())


@blp.route("/nearest")
class NearestServices(MethodView):
    @query_args(blp, NearestQueryArgsSchema)
    @blp.response(200, NearestSchema)
    @blp.doc(operationId="list_nearest_services")
    def get(self, args: dict[str, Any]) -> search.NearestResult:
        """The nearest service-at-location entries to a point, a region's centroid or a
        place named in words (`near`), with phones, capacity and whether open now.

        Confidential sites: never for public callers; for other organizations placed at
        their regency's centroid (`distance_approximate`), without street or coordinates.
        """
        origin = search.origin_from(
            db.session,
            lat=args.pop("lat", None),
            lng=args.pop("lng", None),
            region=args.pop("region", None),
            near=args.pop("near", None),
            geocoder=search_geocoder(),
        )
        if "within_region" in args:
            args["region"] = args.pop("within_region")
        filters = search.Filters(**_filter_args(args))
        return search.nearest(
            db.session,
            actor=current_actor(),
            origin=origin,
            filters=filters,
            limit=args["limit"],
            radius_km=args.get("radius_km"),
            open_now=args.pop("open_now"),
            at=utcnow(),
            stale_before=capacity_stale_before(),
        )


def _filter_args(args: dict[str, Any]) -> dict[str, Any]:
    """Move the search filters out of the parsed query arguments."""
    names = {
        "region",
        "q",
        "language",
        "age",
        "gender",
        "has_capacity",
        "organization_type",
        "verified_since",
    }
    filters = {name: args.pop(name) for name in names & set(args)}
    filters["service_types"] = args.pop("service_type", [])
    return filters


@blp.route("/<uuid:service_id>")
class ServicesById(MethodView):
    @conditional.conditional_read(blp)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, ServiceSchema)
    def get(self, service_id: uuid.UUID) -> Any:
        """One service, with an ETag."""
        actor = current_actor()
        service = directory.get_service(db.session, service_id=service_id)
        return conditional.read(
            _SERVICE, directory.view_service(actor, service, stale_before=capacity_stale_before())
        )

    @authenticated(blp, *WRITERS)
    @conditional.conditional_change(blp)
    @blp.arguments(ServiceUpdateSchema(partial=True))
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @blp.response(200, ServiceSchema)
    def patch(self, data: dict[str, Any], service_id: uuid.UUID) -> Any:
        """Change some fields (org_admin of its organization, or admin); If-Match: 412 if stale."""
        return _change(service_id, data)

    @authenticated(blp, *WRITERS)
    @conditional.conditional_change(blp)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, ServiceSchema)
    def delete(self, service_id: uuid.UUID) -> Any:
        """Deactivate a service (nothing is deleted); If-Match: 412 if stale."""
        return _change(service_id, {"status": "inactive"})


def _change(service_id: uuid.UUID, data: dict[str, Any]) -> Any:
    """Apply `data` if the caller's If-Match (if any) still names the service."""
    actor = current_actor()
    current = directory.get_service(db.session, service_id=service_id, for_update=True)
    conditional.require_current(
        _SERVICE, directory.view_service(actor, current, stale_before=capacity_stale_before())
    )
    service = directory.update_service(db.session, actor=actor, service_id=service_id, data=data)
    return conditional.with_etag(
        _SERVICE, directory.view_service(actor, service, stale_before=capacity_stale_before())
    )
