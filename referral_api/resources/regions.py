"""Regions and the vocabularies."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from ..db import db
from ..models import OrganizationType, ServiceType
from ..schemas.directory import (
    OrganizationTypeListSchema,
    RegionDetailSchema,
    RegionPageSchema,
    RegionQueryArgsSchema,
    ServiceTypeListSchema,
)
from ..services import regions
from .common import page_body, query_args

blp = Blueprint(
    "regions", __name__, url_prefix="/api/v1", description="Kemendagri regions and vocabularies."
)


@blp.route("/regions")
class Regions(MethodView):
    @query_args(blp, RegionQueryArgsSchema)
    @blp.response(200, RegionPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """List regions (country, provinces, regencies, districts) by level, parent or name."""
        return page_body(regions.list_regions(db.session, **args))


@blp.route("/regions/<string:code>")
class RegionsByCode(MethodView):
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, RegionDetailSchema)
    def get(self, code: str) -> dict[str, Any]:
        """One region with its ancestors and its (or its nearest ancestor's) centroid."""
        region = regions.get(db.session, code=code)
        return {
            **RegionDetailSchema().dump(region),
            "ancestors": regions.lineage(db.session, code=code),
            "centroid": regions.centroid(db.session, code),
        }


@blp.route("/service-types")
class ServiceTypes(MethodView):
    @blp.response(200, ServiceTypeListSchema)
    def get(self) -> dict[str, Any]:
        """The service taxonomy: code, pillar and labels in Indonesian and English."""
        return {"items": db.session.scalars(select(ServiceType).order_by(ServiceType.code))}


@blp.route("/organization-types")
class OrganizationTypes(MethodView):
    @blp.response(200, OrganizationTypeListSchema)
    def get(self) -> dict[str, Any]:
        """Organization types (HTCDS, extended) with labels in Indonesian and English."""
        return {
            "items": db.session.scalars(select(OrganizationType).order_by(OrganizationType.code))
        }
