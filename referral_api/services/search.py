"""Service search: filtered lists and the nearest services from a point or a region.

Nearest search is one design for both databases: a bounding box on indexed latitude and
longitude, first sized from the density of the index around the origin, grown until the
circle it is sure to contain holds `limit` results, and the exact WGS-84 geodesic
distance (Karney's algorithm, as geopy's `geodesic`) to every candidate in the box.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from geopy.distance import ELLIPSOIDS
from pyproj import Geod
from sqlalchemy import (
    BindParameter,
    Select,
    String,
    and_,
    bindparam,
    cast,
    func,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ..errors import ValidationFailed
from ..models import (
    Location,
    Organization,
    SearchEntry,
    Service,
    ServiceCoverage,
    ServiceTypeAssignment,
    service_locations,
)
from . import directory, gazetteer, hours, regions, search_index
from .actors import Actor
from .pagination import Page, paginate

# geopy's WGS-84 (semi-major axis in km, flattening), solved by PROJ's C implementation
# of the same algorithm as geopy's `geodesic(...).km`: equal to 1e-9 m, fifty times faster.
_SEMI_MAJOR_KM, _, _FLATTENING = ELLIPSOIDS["WGS-84"]
_WGS84 = Geod(a=_SEMI_MAJOR_KM * 1000, f=_FLATTENING)
# Half the circumference: no two points on Earth are farther apart than this.
MAX_DISTANCE_KM = 20_004.0
# Fewer km per degree than anywhere on the ellipsoid, so boxes are never too small.
KM_PER_DEGREE_MIN = 110.5
FIRST_RADIUS_KM = 10.0
GROWTH = 3.0
# The first circle is sized to hold this many times `limit` entries at the density of
# the origin's grid cell: a margin for filters the count does not apply and uneven spread.
FIRST_CIRCLE_MARGIN = 2.0
MIN_FIRST_RADIUS_KM = 0.5


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
    # Correlated EXISTS rather than IN (subquery): planners then start from the
    # services already narrowed down (by location, in the nearest search).
    if filters.service_types:
        clauses.append(
            select(ServiceTypeAssignment.service_id)
            .where(
                ServiceTypeAssignment.service_id == Service.id,
                ServiceTypeAssignment.service_type.in_(list(filters.service_types)),
            )
            .exists()
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
        ServiceCoverage.service_id == Service.id,
        ServiceCoverage.region_code.in_(regions.ancestors_of(region)),
    )
    given_inside = (
        select(service_locations.c.service_id)
        .join(Location, Location.id == service_locations.c.location_id)
        .where(
            service_locations.c.service_id == Service.id,
            Location.status == "active",
            directory.location_visibility(actor),
            regions.within(directory.visible_region_expr(actor), region),
        )
    )
    return or_(covered.exists(), given_inside.exists())


def list_services(
    session: Session,
    *,
    actor: Actor,
    filters: Filters,
    organization_id: uuid.UUID | None = None,
    status: str | None = "active",
    page: int,
    per_page: int,
    stale_before: datetime,
) -> Page[directory.ServiceView]:
    """List services matching every filter, as the actor may see them."""
    stmt = (
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
    return result.map(
        lambda service: directory.view_service(actor, service, stale_before=stale_before)
    )


# -- nearest ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    latitude: float
    longitude: float
    # `point`, `geocoder`, `regency_centroid` or `province_centroid`.
    source: str
    # For `near=`: the place matched (None for a geocoded address) and the runners-up.
    place: gazetteer.Place | None = None
    alternatives: list[gazetteer.Place] = field(default_factory=list)


def _centroid_origin(session: Session, code: str, field_name: str) -> Origin:
    centroid = regions.centroid(session, code)
    if centroid is None or centroid.level not in ("regency", "province"):
        raise ValidationFailed({field_name: f"Region {code} has no known centroid."})
    return Origin(centroid.latitude, centroid.longitude, f"{centroid.level}_centroid")


def origin_from(
    session: Session,
    *,
    lat: float | None,
    lng: float | None,
    region: str | None,
    near: str | None = None,
    geocoder: gazetteer.Geocoder | None = None,
) -> Origin:
    """Where distances are measured from: a point, a region's centroid, or a place named
    in words (a gazetteer place's centroid, or an address the geocoder found)."""
    if region is not None:
        regions.require(session, region)
        return _centroid_origin(session, region, "region")
    if near is not None:
        resolved = gazetteer.resolve(session, text=near, geocoder=geocoder)
        if resolved.point is not None:
            latitude, longitude, _ = resolved.point
            return Origin(latitude, longitude, "geocoder", alternatives=resolved.alternatives)
        assert resolved.place is not None
        origin = _centroid_origin(session, resolved.place.code, "near")
        return replace(origin, place=resolved.place, alternatives=resolved.alternatives)
    assert lat is not None and lng is not None
    return Origin(lat, lng, "point")


@dataclass(frozen=True)
class OrganizationSummary:
    id: uuid.UUID
    name: str
    type: str
    phones: list[str]
    hotlines: list[str]


@dataclass(frozen=True)
class NearestItem:
    distance_km: float
    # The distance is to the regency's centroid standing in for a confidential site.
    distance_approximate: bool
    # At the request's time in the site's zone; None when the hours are not known.
    open_now: bool | None
    organization: OrganizationSummary
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


def geodesic_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """WGS-84 geodesic distance: what geopy's `geodesic(...).km` computes."""
    return float(_WGS84.inv(lng1, lat1, lng2, lat2)[2]) / 1000


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


@dataclass(frozen=True)
class _Scope:
    """Which index entries a search looks at, and in which coordinates."""

    where: ColumnElement[bool]
    row: Any
    col: Any
    latitude: Any
    longitude: Any


_REAL = (SearchEntry.real_row, SearchEntry.real_col, SearchEntry.latitude, SearchEntry.longitude)
_MASKED = (
    SearchEntry.cell_row,
    SearchEntry.cell_col,
    SearchEntry.masked_latitude,
    SearchEntry.masked_longitude,
)


def _scopes(actor: Actor) -> list[_Scope]:
    """Admins see real sites; everyone else the masked ones, except their own org's."""
    if actor.is_admin:
        return [_Scope(true(), *_REAL)]
    if not directory.may_know_confidential(actor):
        return [_Scope(SearchEntry.confidential.is_(False), *_MASKED)]
    if actor.organization_id is None:
        return [_Scope(true(), *_MASKED)]
    own_sites = and_(
        SearchEntry.confidential.is_(True), SearchEntry.organization_id == actor.organization_id
    )
    return [_Scope(~own_sites, *_MASKED), _Scope(own_sites, *_REAL)]


def _filter_conditions(
    session: Session, actor: Actor, filters: Filters
) -> list[ColumnElement[bool]]:
    """Index conditions: the type bit mask, then the other filters on the service."""
    conditions: list[ColumnElement[bool]] = []
    if filters.service_types:
        mask = search_index.type_mask(filters.service_types)
        conditions.append(SearchEntry.type_mask.op("&")(mask) != 0)
    other = filter_clauses(session, actor, replace(filters, service_types=()))
    if other:
        conditions.append(
            select(Service.id)
            .join(Organization, Organization.id == Service.organization_id)
            .where(Service.id == SearchEntry.service_id, *other)
            .exists()
        )
    return conditions


def _in_box(scope: _Scope) -> ColumnElement[bool]:
    """`row IN (...) AND col BETWEEN ...`: one index range per grid row, then the box."""
    return and_(
        scope.row.in_(bindparam("rows", expanding=True)),
        scope.col.between(bindparam("first_col"), bindparam("last_col")),
        scope.latitude.between(bindparam("lat_min"), bindparam("lat_max")),
        scope.longitude.between(bindparam("lng_min"), bindparam("lng_max")),
    )


# What deciding `open_now` for a candidate needs: the hours and the site's zone.
_HOURS = (Service.schedule, Service.open_24_7, Location.region_code, Location.country)


def _open_at(at: datetime, schedule: Any, open_24_7: bool, region: Any, country: str) -> bool:
    zone = hours.zone_name(region, country)
    return hours.is_open(schedule, open_24_7=open_24_7, zone=zone, at=at) is True


class _Candidates:
    """The candidate queries of one search: built once, run for each box it grows to.
    With `open_at`, only the entries open at that instant."""

    def __init__(
        self,
        session: Session,
        scopes: list[_Scope],
        conditions: list[ColumnElement[bool]],
        open_at: datetime | None = None,
    ) -> None:
        self.connection = session.connection()
        self.scopes, self.conditions, self.open_at = scopes, conditions, open_at
        self.statements: dict[bool, list[Select[Any]]] = {}

    def _statements(self, whole_earth: bool) -> list[Select[Any]]:
        if whole_earth not in self.statements:
            hours_columns = _HOURS if self.open_at else ()
            statements = [
                select(
                    type_coerce(SearchEntry.location_id, String),
                    type_coerce(SearchEntry.service_id, String),
                    scope.latitude,
                    scope.longitude,
                    *hours_columns,
                ).where(
                    scope.where,
                    scope.row.is_not(None) if whole_earth else _in_box(scope),
                    *self.conditions,
                )
                for scope in self.scopes
            ]
            if self.open_at:
                statements = [
                    stmt.join(Service, Service.id == SearchEntry.service_id).join(
                        Location, Location.id == SearchEntry.location_id
                    )
                    for stmt in statements
                ]
            self.statements[whole_earth] = statements
        return self.statements[whole_earth]

    def first_radius(self, origin: Origin, limit: int, filters: Filters) -> float:
        """The radius of the first box, from how many entries share the origin's grid cell
        (with the type filter, which the index holds): about FIRST_CIRCLE_MARGIN x limit
        entries at that density, so a box holds tens of candidates in a city of a million
        sites as in a sparse regency. An empty cell says nothing: FIRST_RADIUS_KM."""
        row, col = search_index.cell_of(origin.latitude, origin.longitude)
        type_filter = (
            [SearchEntry.type_mask.op("&")(search_index.type_mask(filters.service_types)) != 0]
            if filters.service_types
            else []
        )
        # One statement however many scopes: a count per scope, added up.
        counts = [
            select(func.count())
            .where(scope.where, scope.row == row, scope.col == col, *type_filter)
            .scalar_subquery()
            for scope in self.scopes
        ]
        total: ColumnElement[int] = counts[0]
        for count in counts[1:]:
            total = total + count
        entries = self.connection.execute(select(total)).scalar_one()
        if not entries:
            return FIRST_RADIUS_KM
        side_km = search_index.CELL_DEGREES * KM_PER_DEGREE_MIN
        area_km2 = side_km * side_km * max(math.cos(math.radians(origin.latitude)), 0.01)
        wanted = FIRST_CIRCLE_MARGIN * limit
        return max(MIN_FIRST_RADIUS_KM, math.sqrt(wanted * area_km2 / (math.pi * entries)))

    def __call__(
        self, box: tuple[float, float, float, float] | None
    ) -> list[tuple[str, str, float, float]]:
        """Service-at-location entries inside the box, with the coordinates the actor sees."""
        params: dict[str, Any] = {}
        if box is not None:
            rows, first, last = search_index.box_cells(box)
            params = dict(zip(("lat_min", "lat_max", "lng_min", "lng_max"), box, strict=True))
            params.update(rows=rows, first_col=first, last_col=last)
        # Ids as text: SQLite gives them so already, and no UUID objects are built for
        # rows that will not make the top k (PostgreSQL's driver still returns UUIDs).
        found: Iterable[Any] = (
            row
            for stmt in self._statements(box is None)
            for row in self.connection.execute(stmt, params)
        )
        if self.open_at is not None:
            at = self.open_at
            found = (row for row in found if _open_at(at, *row[4:]))
        return [(str(row[0]), str(row[1]), row[2], row[3]) for row in found]


def _top_k(
    origin: Origin, rows: list[tuple[str, str, float, float]], k: int, within_km: float
) -> tuple[list[_Hit], bool]:
    """Exact top k within `within_km`; the bool says whether k were found there."""
    if not rows:
        return [], False
    n = len(rows)
    metres = _WGS84.inv(
        [origin.longitude] * n, [origin.latitude] * n, [r[3] for r in rows], [r[2] for r in rows]
    )[2]
    hits = sorted(
        _Hit(m / 1000, loc, svc)
        for m, (loc, svc, _, _) in zip(metres, rows, strict=True)
        if m / 1000 <= within_km
    )
    return hits[:k], len(hits) >= k


def nearest(
    session: Session,
    *,
    actor: Actor,
    origin: Origin,
    filters: Filters,
    limit: int,
    radius_km: float | None,
    at: datetime,
    open_now: bool = False,
    stale_before: datetime,
) -> NearestResult:
    """The `limit` nearest service-at-location entries, nearest first (with `open_now`:
    only those open at `at`, each site in its own time zone)."""
    candidates = _Candidates(
        session,
        _scopes(actor),
        _filter_conditions(session, actor, filters),
        open_at=at if open_now else None,
    )
    ceiling = min(radius_km, MAX_DISTANCE_KM) if radius_km is not None else MAX_DISTANCE_KM
    radius = min(candidates.first_radius(origin, limit, filters), ceiling)
    while True:
        rows = candidates(bounding_box(origin, radius))
        hits, enough = _top_k(origin, rows, limit, radius)
        if enough or radius >= ceiling:
            break
        radius = min(radius * GROWTH, ceiling)
    return NearestResult(origin, _present(session, actor, hits, at=at, stale_before=stale_before))


_IDS: BindParameter[list[uuid.UUID]] = bindparam("ids", expanding=True)
# The rows a nearest answer is made of, built once: plain rows, not ORM objects, which
# cost several times more to load.
_SERVICES = (
    select(
        *Service.__table__.c,
        Organization.name.label("organization_name"),
        Organization.type.label("organization_type"),
        Organization.phones.label("organization_phones"),
        Organization.hotlines.label("organization_hotlines"),
    )
    .join(Organization, Organization.id == Service.organization_id)
    .where(Service.id.in_(_IDS))
)
_LOCATIONS = (
    select(service_locations.c.service_id, *Location.__table__.c)
    .join(Location, Location.id == service_locations.c.location_id)
    .where(service_locations.c.service_id.in_(_IDS))
    .order_by(Location.id)
)
_TYPES = (
    select(ServiceTypeAssignment.service_id, ServiceTypeAssignment.service_type)
    .where(ServiceTypeAssignment.service_id.in_(_IDS))
    .order_by(ServiceTypeAssignment.service_type)
)
_COVERAGE = (
    select(ServiceCoverage.service_id, ServiceCoverage.region_code)
    .where(ServiceCoverage.service_id.in_(_IDS))
    .order_by(ServiceCoverage.region_code)
)


def _present(
    session: Session, actor: Actor, hits: list[_Hit], *, at: datetime, stale_before: datetime
) -> list[NearestItem]:
    """The hits with their services, organizations and locations."""
    ids = list({uuid.UUID(hit.service_id) for hit in hits})
    if not ids:
        return []
    params = {"ids": ids}
    connection = session.connection()
    services = {row.id: row for row in connection.execute(_SERVICES, params)}
    locations, types, coverage = (
        _by_service(connection.execute(stmt, params), ids)
        for stmt in (_LOCATIONS, _TYPES, _COVERAGE)
    )
    views = {
        service_id: directory.service_view_of(
            actor,
            row,
            service_types=[value for _, value in types[service_id]],
            coverage=[value for _, value in coverage[service_id]],
            locations=locations[service_id],
            stale_before=stale_before,
        )
        for service_id, row in services.items()
    }
    items = []
    for hit in hits:
        service_id, location_id = uuid.UUID(hit.service_id), uuid.UUID(hit.location_id)
        row = services[service_id]
        location = next(loc for loc in locations[service_id] if loc.id == location_id)
        zone = hours.zone_name(location.region_code, location.country)
        items.append(
            NearestItem(
                distance_km=round(hit.distance_km, 1),
                distance_approximate=not directory.sees_site(actor, location),
                open_now=hours.is_open(row.schedule, open_24_7=row.open_24_7, zone=zone, at=at),
                organization=OrganizationSummary(
                    row.organization_id,
                    row.organization_name,
                    row.organization_type,
                    list(row.organization_phones or []),
                    list(row.organization_hotlines or []),
                ),
                service=views[service_id],
                location=directory.view_location(actor, location),
            )
        )
    return items


def _by_service(rows: Iterable[Any], ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
    """Rows whose first column is a service id, grouped by it (in their order)."""
    grouped: dict[uuid.UUID, list[Any]] = {service_id: [] for service_id in ids}
    for row in rows:
        grouped[row[0]].append(row)
    return grouped
