"""Service search: filtered lists and the nearest services from a point or a region.

Nearest search is one design for both databases: a bounding box on indexed latitude and
longitude, grown until the circle it is sure to contain holds `limit` results, then exact
WGS-84 geodesic distances (geopy) for the few candidates that can still be in the top k.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from geopy.distance import geodesic
from sqlalchemy import Select, String, and_, cast, false, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ..errors import ValidationFailed
from ..models import (
    Location,
    Organization,
    Service,
    ServiceCoverage,
    ServiceTypeAssignment,
    service_locations,
)
from . import directory, regions
from .actors import Actor
from .pagination import Page, paginate

EARTH_RADIUS_KM = 6371.0088
# Half the circumference: no two points on Earth are farther apart than this.
MAX_DISTANCE_KM = 20_004.0
# A spherical (haversine) distance is within 0.6 % of the WGS-84 geodesic; 1 % is safe.
SPHERE_TOLERANCE = 0.01
# Fewer km per degree than anywhere on the ellipsoid, so boxes are never too small.
KM_PER_DEGREE_MIN = 110.5
FIRST_RADIUS_KM = 30.0
GROWTH = 3.0


@dataclass(frozen=True)
class Filters:
    """The filters shared by the list and the nearest search (all ANDed)."""

    service_types: Sequence[str] = ()
    region: str | None = None
    q: str | None = None
    language: str | None = None
    age: int | None = None
    gender: str | None = None
    has_capacity: bool = False
    organization_type: str | None = None
    verified_since: datetime | None = None


def _json_list_contains(column: Any, value: str) -> ColumnElement[bool]:
    # The JSON text of a list of codes contains `"code"` exactly when the list does;
    # the same expression works on SQLite's JSON text and PostgreSQL's jsonb::text.
    return cast(column, String).contains(f'"{value}"', autoescape=True)


def filter_clauses(session: Session, actor: Actor, filters: Filters) -> list[ColumnElement[bool]]:
    """SQL conditions on Service (joined to its Organization) for the filters."""
    clauses: list[ColumnElement[bool]] = []
    if filters.service_types:
        clauses.append(
            Service.id.in_(
                select(ServiceTypeAssignment.service_id).where(
                    ServiceTypeAssignment.service_type.in_(list(filters.service_types))
                )
            )
        )
    if filters.region:
        clauses.append(serves_region(session, actor, filters.region))
    if filters.q:
        clauses.append(
            directory.text_match(
                filters.q,
                Organization.name,
                Organization.aliases,
                Service.name,
                Service.description,
            )
        )
    if filters.language:
        clauses.append(_json_list_contains(Service.languages, filters.language))
    if filters.age is not None:
        clauses.append(or_(Service.age_min.is_(None), Service.age_min <= filters.age))
        clauses.append(or_(Service.age_max.is_(None), Service.age_max >= filters.age))
    if filters.gender:
        clauses.append(
            or_(
                cast(Service.genders, String).in_(["[]", "null"]),
                _json_list_contains(Service.genders, filters.gender),
            )
        )
    if filters.has_capacity:
        clauses.append(Service.beds_available > 0)
    if filters.organization_type:
        clauses.append(Organization.type == filters.organization_type)
    if filters.verified_since:
        clauses.append(Organization.verified_at >= filters.verified_since)
    return clauses


def serves_region(session: Session, actor: Actor, region: str) -> ColumnElement[bool]:
    """SQL: the service covers the region or one of its ancestors, or is given inside it."""
    regions.require(session, region)
    covered = select(ServiceCoverage.service_id).where(
        ServiceCoverage.region_code.in_(regions.ancestors_of(region))
    )
    given_inside = (
        select(service_locations.c.service_id)
        .join(Location, Location.id == service_locations.c.location_id)
        .where(
            Location.status == "active",
            directory.location_visibility(actor),
            regions.within(directory.visible_region_expr(actor), region),
        )
    )
    return or_(Service.id.in_(covered), Service.id.in_(given_inside))


def list_services(
    session: Session,
    *,
    actor: Actor,
    filters: Filters,
    organization_id: uuid.UUID | None = None,
    status: str | None = "active",
    page: int,
    per_page: int,
) -> Page[directory.ServiceView]:
    """List services matching every filter, as the actor may see them."""
    stmt: Select[tuple[Service]] = (
        select(Service)
        .join(Organization, Organization.id == Service.organization_id)
        .where(*filter_clauses(session, actor, filters))
        .order_by(Service.name, Service.id)
    )
    if organization_id:
        stmt = stmt.where(Service.organization_id == organization_id)
    if status:
        stmt = stmt.where(Service.status == status)
    result = paginate(session, stmt, page=page, per_page=per_page)
    views = [directory.view_service(actor, service) for service in result.items]
    return Page(views, result.page, result.per_page, result.total)


# -- nearest ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    latitude: float
    longitude: float
    # `point`, `regency_centroid` or `province_centroid`.
    source: str


def origin_from(
    session: Session, *, lat: float | None, lng: float | None, region: str | None
) -> Origin:
    """Where distances are measured from: a point, or a region's centroid."""
    if region is not None:
        regions.require(session, region)
        centroid = regions.centroid(session, region)
        if centroid is None or centroid.level not in ("regency", "province"):
            raise ValidationFailed({"region": f"Region {region} has no known centroid."})
        return Origin(centroid.latitude, centroid.longitude, f"{centroid.level}_centroid")
    assert lat is not None and lng is not None
    return Origin(lat, lng, "point")


@dataclass(frozen=True)
class NearestItem:
    distance_km: float
    organization: Organization
    service: directory.ServiceView
    location: directory.LocationView


@dataclass(frozen=True)
class NearestResult:
    origin: Origin
    items: list[NearestItem] = field(default_factory=list)


@dataclass(frozen=True, order=True)
class _Hit:
    distance_km: float
    location_id: str
    service_id: str


def haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def geodesic_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    return float(geodesic((lat1, lng1), (lat2, lng2)).km)


def bounding_box(origin: Origin, radius_km: float) -> tuple[float, float, float, float] | None:
    """A lat/lng box containing every point within `radius_km`; None means the whole Earth."""
    dlat = radius_km / KM_PER_DEGREE_MIN
    lat_min, lat_max = origin.latitude - dlat, origin.latitude + dlat
    if radius_km >= MAX_DISTANCE_KM or lat_max >= 89.0 or lat_min <= -89.0:
        return None
    # Along any path within the box, a degree of longitude is at least this long.
    cos_min = math.cos(math.radians(max(abs(lat_min), abs(lat_max))))
    dlng = radius_km / (KM_PER_DEGREE_MIN * cos_min)
    lng_min, lng_max = origin.longitude - dlng, origin.longitude + dlng
    if lng_min < -180.0 or lng_max > 180.0:
        lng_min, lng_max = -180.0, 180.0  # crossing the antimeridian: take every longitude
    return lat_min, lat_max, lng_min, lng_max


def _candidate_queries(
    session: Session, actor: Actor, filters: Filters
) -> list[tuple[Select[Any], Any, Any]]:
    """(query, latitude column, longitude column) per coordinate system the actor sees."""
    base = (
        select(Location.id, Service.id)
        .select_from(Location)
        .join(service_locations, service_locations.c.location_id == Location.id)
        .join(Service, Service.id == service_locations.c.service_id)
        .join(Organization, Organization.id == Service.organization_id)
        .where(
            Location.status == "active",
            Service.status == "active",
            Organization.status == "active",
            *filter_clauses(session, actor, filters),
        )
    )
    if actor.is_admin:
        return [(base, Location.latitude, Location.longitude)]
    outsider_view = directory.location_visibility(actor)
    own_sites = false()
    if actor.organization_id is not None:
        own_sites = and_(
            Location.confidential.is_(True), Location.organization_id == actor.organization_id
        )
    queries = [
        (
            base.where(outsider_view, ~own_sites),
            Location.masked_latitude,
            Location.masked_longitude,
        )
    ]
    if actor.organization_id is not None:
        queries.append((base.where(own_sites), Location.latitude, Location.longitude))
    return queries


def _candidates(
    session: Session,
    queries: list[tuple[Select[Any], Any, Any]],
    box: tuple[float, float, float, float] | None,
) -> list[tuple[str, str, float, float]]:
    rows: list[tuple[str, str, float, float]] = []
    for query, lat, lng in queries:
        stmt = query.add_columns(lat, lng).where(lat.is_not(None))
        if box is not None:
            stmt = stmt.where(lat.between(box[0], box[1]), lng.between(box[2], box[3]))
        rows += [(str(a), str(b), c, d) for a, b, c, d in session.execute(stmt)]
    return rows


def _top_k(
    origin: Origin, rows: list[tuple[str, str, float, float]], k: int, within_km: float
) -> tuple[list[_Hit], bool]:
    """Exact top k within `within_km`; the bool says whether k were found there."""
    approx = sorted(
        (haversine_km(origin.latitude, origin.longitude, lat, lng), loc, svc, lat, lng)
        for loc, svc, lat, lng in rows
    )
    hits: list[_Hit] = []
    for h, loc, svc, lat, lng in approx:
        lower_bound = h / (1 + SPHERE_TOLERANCE)
        if lower_bound > within_km:
            break
        if len(hits) >= k and lower_bound > hits[k - 1].distance_km:
            break
        distance = geodesic_km(origin.latitude, origin.longitude, lat, lng)
        if distance <= within_km:
            hits.append(_Hit(distance, loc, svc))
            hits.sort()
    return hits[:k], len(hits) >= k


def nearest(
    session: Session,
    *,
    actor: Actor,
    origin: Origin,
    filters: Filters,
    limit: int,
    radius_km: float | None,
) -> NearestResult:
    """The `limit` nearest service-at-location entries, nearest first."""
    queries = _candidate_queries(session, actor, filters)
    ceiling = min(radius_km, MAX_DISTANCE_KM) if radius_km is not None else MAX_DISTANCE_KM
    radius = min(FIRST_RADIUS_KM, ceiling)
    while True:
        rows = _candidates(session, queries, bounding_box(origin, radius))
        hits, enough = _top_k(origin, rows, limit, radius)
        if enough or radius >= ceiling:
            break
        radius = min(radius * GROWTH, ceiling)
    return NearestResult(origin, _present(session, actor, hits))


def _by_id(session: Session, model: Any, ids: set[str]) -> dict[str, Any]:
    rows = session.scalars(select(model).where(model.id.in_([uuid.UUID(i) for i in ids])))
    return {str(row.id): row for row in rows}


def _present(session: Session, actor: Actor, hits: list[_Hit]) -> list[NearestItem]:
    services = _by_id(session, Service, {h.service_id for h in hits})
    locations = _by_id(session, Location, {h.location_id for h in hits})
    return [
        NearestItem(
            distance_km=round(hit.distance_km, 1),
            organization=services[hit.service_id].organization,
            service=directory.view_service(actor, services[hit.service_id]),
            location=directory.view_location(actor, locations[hit.location_id]),
        )
        for hit in hits
    ]
