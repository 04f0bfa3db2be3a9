"""The directory: organizations, locations and services, and who may see and change them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import SQLColumnExpression, String, and_, case, cast, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ..errors import Forbidden, NotFound, ValidationFailed
from ..models import (
    Location,
    Organization,
    Role,
    Service,
    ServiceCoverage,
    ServiceTypeAssignment,
)
from ..models.base import utcnow
from ..models.organization import capacity_of, eligibility_of
from ..vocabularies import NATIONAL
from . import audit, events, regions, search_index
from .actors import Actor
from .pagination import Page, paginate

CONFIDENTIAL_NAME = "Lokasi rahasia (confidential location)"

# -- who may see and change what ----------------------------------------------------------


def can_manage(actor: Actor, organization_id: uuid.UUID) -> bool:
    return actor.is_admin or (actor.role == Role.ORG_ADMIN and actor.is_member_of(organization_id))


def authorize_write(actor: Actor, organization_id: uuid.UUID) -> None:
    """Only an org_admin of the organization, or an admin, changes its entries."""
    if not actor.is_authenticated and not actor.is_admin:
        raise Forbidden("Changing the directory needs a token.")
    if not can_manage(actor, organization_id):
        raise Forbidden(
            "Only an org_admin of this organization, or an admin, may change its entries."
        )


def sees_site(actor: Actor, location: Location) -> bool:
    """Whether the actor may see the real site (address, coordinates) of a location."""
    return (
        not location.confidential or actor.is_admin or actor.is_member_of(location.organization_id)
    )


def _hidden(actor: Actor) -> ColumnElement[bool]:
    """SQL: the location is a confidential site this actor sees only redacted."""
    hidden: ColumnElement[bool] = Location.confidential.is_(True)
    if actor.organization_id is not None:
        hidden = and_(hidden, Location.organization_id != actor.organization_id)
    return hidden


def _regency_when(condition: ColumnElement[bool]) -> ColumnElement[str | None]:
    """SQL: a location's region, cut to its regency where `condition` holds."""
    regency = func.substr(Location.region_code, 1, 5)
    return case((condition, regency), else_=Location.region_code)


def redacted_region() -> ColumnElement[str | None]:
    """SQL: a location's region as outsiders see it (a confidential site: its regency)."""
    return _regency_when(Location.confidential.is_(True))


def visible_region_expr(actor: Actor) -> SQLColumnExpression[str | None]:
    """SQL: the region code of a location as this actor may see it.

    Outsiders see a confidential location only at regency level, so a filter on a
    district must not match it either (that would reveal the district).
    """
    if actor.is_admin:
        return Location.region_code
    return _regency_when(_hidden(actor))


def visible_name_expr(actor: Actor) -> SQLColumnExpression[str]:
    """SQL: a location's name as this actor sees it (lists sort by it, so it must not be
    the real name of a site the actor may not see)."""
    if actor.is_admin:
        return Location.name
    return case((_hidden(actor), literal(CONFIDENTIAL_NAME)), else_=Location.name)


def may_know_confidential(actor: Actor) -> bool:
    """Public callers never learn that a confidential location exists."""
    return actor.is_authenticated or actor.is_admin


def location_visibility(actor: Actor) -> ColumnElement[bool]:
    """SQL: the locations this actor may know exist."""
    if may_know_confidential(actor):
        return Location.id.is_not(None)
    return Location.confidential.is_(False)


@dataclass(frozen=True)
class LocationView:
    """A location as one caller may see it."""

    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    address: str | None
    region_code: str | None
    country: str
    latitude: float | None
    longitude: float | None
    confidential: bool
    status: str
    demo: bool
    created_at: datetime | None
    updated_at: datetime | None


def view_location(actor: Actor, location: Location) -> LocationView:
    """Redact a confidential site for callers outside its organization."""
    if sees_site(actor, location):
        return LocationView(
            id=location.id,
            organization_id=location.organization_id,
            name=location.name,
            address=location.address,
            region_code=location.region_code,
            country=location.country,
            latitude=location.latitude,
            longitude=location.longitude,
            confidential=location.confidential,
            status=location.status,
            demo=location.demo,
            created_at=location.created_at,
            updated_at=location.updated_at,
        )
    return LocationView(
        id=location.id,
        organization_id=location.organization_id,
        name=CONFIDENTIAL_NAME,
        address=None,
        region_code=regions.regency_of(location.region_code) if location.region_code else None,
        country=location.country,
        latitude=None,
        longitude=None,
        confidential=True,
        status=location.status,
        demo=location.demo,
        created_at=None,
        updated_at=None,
    )


@dataclass(frozen=True)
class ServiceView:
    """A service as one caller may see it: only the locations they may know exist."""

    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    description: str | None
    service_types: list[str]
    eligibility: dict[str, Any]
    languages: list[str]
    fees: str
    hours: str | None
    schedule: list[dict[str, Any]] | None
    open_24_7: bool
    capacity: dict[str, Any] | None
    coverage: list[str]
    status: str
    location_ids: list[uuid.UUID]
    demo: bool
    created_at: datetime
    updated_at: datetime


def view_service(actor: Actor, service: Service, *, stale_before: datetime) -> ServiceView:
    """A service with only the locations this actor may know exist."""
    return service_view_of(
        actor,
        service,
        service_types=service.service_types,
        coverage=service.coverage,
        locations=service.locations,
        stale_before=stale_before,
    )


# For readers that publish a capacity's `updated_at` rather than our staleness (HSDS).
NEVER_STALE = datetime.min.replace(tzinfo=UTC)


def capacity_view(service: Any, *, stale_before: datetime) -> dict[str, Any] | None:
    """Its capacity, `stale` when not updated since `stale_before`."""
    capacity = capacity_of(service)
    if capacity is not None:
        updated_at = capacity["updated_at"]
        capacity["stale"] = updated_at is None or updated_at < stale_before
    return capacity


def service_view_of(
    actor: Actor,
    service: Any,
    *,
    service_types: list[str],
    coverage: list[str],
    locations: Iterable[Any],
    stale_before: datetime,
) -> ServiceView:
    """The view of a Service, or of a row of the services table with its related rows."""
    known = may_know_confidential(actor)
    return ServiceView(
        id=service.id,
        organization_id=service.organization_id,
        name=service.name,
        description=service.description,
        service_types=service_types,
        eligibility=eligibility_of(service),
        languages=list(service.languages or []),
        fees=service.fees,
        hours=service.hours,
        schedule=service.schedule,
        open_24_7=service.open_24_7,
        capacity=capacity_view(service, stale_before=stale_before),
        coverage=coverage,
        status=service.status,
        location_ids=[loc.id for loc in locations if known or not loc.confidential],
        demo=service.demo,
        created_at=service.created_at,
        updated_at=service.updated_at,
    )


# -- validation helpers -------------------------------------------------------------------


def _check_regions(
    session: Session, errors: dict[str, str], fields: Mapping[str, Iterable[str] | str | None]
) -> None:
    for field, codes in fields.items():
        if codes is None:
            continue
        wanted = [codes] if isinstance(codes, str) else list(codes)
        missing = sorted(set(wanted) - regions.existing_codes(session, wanted))
        if missing:
            errors[field] = f"Unknown region code(s): {', '.join(missing)}."


def _raise_if(errors: Mapping[str, str]) -> None:
    if errors:
        raise ValidationFailed(dict(errors))


def _audit_update(
    session: Session, actor: Actor, kind: str, entity_id: uuid.UUID, changed: list[str]
) -> None:
    """Record which fields an update changed (nothing when it changed nothing)."""
    if changed:
        session.flush()
        audit.record(
            session,
            actor=actor,
            action=f"{kind}.update",
            entity_type=kind,
            entity_id=entity_id,
            summary={"fields": sorted(changed)},
        )


def _apply(entity: Any, values: Mapping[str, Any]) -> list[str]:
    changed = []
    for key, value in values.items():
        if getattr(entity, key) != value:
            setattr(entity, key, value)
            changed.append(key)
    return changed


# -- organizations ------------------------------------------------------------------------


def get_organization(
    session: Session, *, organization_id: uuid.UUID, for_update: bool = False
) -> Organization:
    """Return an organization (locked for this transaction if `for_update`) or raise NotFound."""
    organization = session.get(Organization, organization_id, with_for_update=for_update)
    if organization is None:
        raise NotFound(f"Organization {organization_id} does not exist.")
    return organization


def _validate_organization(session: Session, organization: Organization) -> None:
    errors: dict[str, str] = {}
    _check_regions(session, errors, {"region_code": organization.region_code})
    if organization.region_code == NATIONAL:
        errors["region_code"] = "Give the home province or regency, not the nation."
    if organization.level != "international" and organization.region_code is None:
        errors["region_code"] = "Required unless the organization's level is international."
    _raise_if(errors)


def create_organization(
    session: Session, *, actor: Actor, data: Mapping[str, Any], demo: bool = False
) -> Organization:
    """Add an organization to the directory (admins only)."""
    if not actor.is_admin:
        raise Forbidden("Only an admin adds organizations to the directory.")
    organization = Organization(**data, demo=demo, status="active")
    _validate_organization(session, organization)
    session.add(organization)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="organization.create",
        entity_type="organization",
        entity_id=organization.id,
        summary={"type": organization.type, "region_code": organization.region_code},
    )
    events.organization_updated(session, organization=organization, change="created")
    return organization


def update_organization(
    session: Session, *, actor: Actor, organization_id: uuid.UUID, data: Mapping[str, Any]
) -> Organization:
    """Change some fields of an organization."""
    organization = get_organization(session, organization_id=organization_id)
    authorize_write(actor, organization.id)
    moving = "region_code" in data and data["region_code"] != organization.region_code
    if moving and not actor.is_admin:
        # The home region decides which coordinators oversee the organization's future
        # referrals: an organization does not move itself out of its coordinator's sight.
        raise Forbidden("Only an admin changes an organization's home region (region_code).")
    changed = _apply(organization, data)
    _validate_organization(session, organization)
    if "status" in changed:
        search_index.reindex(
            session, service_ids=search_index.services_of(session, organization_id=organization.id)
        )
    _audit_update(session, actor, "organization", organization.id, changed)
    if changed:
        events.organization_updated(
            session, organization=organization, change="updated", fields=changed
        )
    return organization


def verify_organization(
    session: Session, *, actor: Actor, organization_id: uuid.UUID
) -> Organization:
    """Record that someone else checked the entry today: an admin, or a coordinator whose
    coverage includes the organization (never the organization itself)."""
    organization = get_organization(session, organization_id=organization_id)
    oversees = (
        actor.role == Role.COORDINATOR
        and actor.coverage_code is not None
        and regions.contains(actor.coverage_code, organization.region_code)
    )
    if not (actor.is_admin or oversees):
        raise Forbidden(
            "An entry is verified by someone else: an admin, or a coordinator whose "
            "coverage includes the organization."
        )
    organization.verified_at = utcnow()
    organization.verified_by = actor.principal_id
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="organization.verify",
        entity_type="organization",
        entity_id=organization.id,
    )
    events.organization_updated(
        session, organization=organization, change="verified", fields=["verified_at"]
    )
    return organization


def list_organizations(
    session: Session,
    *,
    type: str | None = None,
    region: str | None = None,
    status: str | None = "active",
    verified_since: datetime | None = None,
    q: str | None = None,
    page: int,
    per_page: int,
) -> Page[Organization]:
    """List organizations, filtered."""
    stmt = select(Organization).order_by(Organization.name, Organization.id)
    if type:
        stmt = stmt.where(Organization.type == type)
    if region:
        regions.require(session, region)
        stmt = stmt.where(regions.within(Organization.region_code, region))
    if status:
        stmt = stmt.where(Organization.status == status)
    if verified_since:
        stmt = stmt.where(Organization.verified_at >= verified_since)
    if q:
        stmt = stmt.where(text_match(q, Organization.name, Organization.aliases))
    return paginate(session, stmt, page=page, per_page=per_page)


def text_match(q: str, *columns: SQLColumnExpression[object]) -> ColumnElement[bool]:
    """SQL: every word of `q` occurs, case-insensitively, in one of the columns."""
    parts = [func.coalesce(cast(column, String), "") for column in columns]
    joined: ColumnElement[str] = parts[0]
    for part in parts[1:]:
        joined = joined + " " + part
    haystack = func.lower(joined, type_=String)
    return and_(*(haystack.contains(word.lower(), autoescape=True) for word in q.split()))


# -- locations ----------------------------------------------------------------------------


def get_location(
    session: Session, *, actor: Actor, location_id: uuid.UUID, for_update: bool = False
) -> Location:
    """Return a location the actor may know exists (locked if `for_update`), or raise NotFound."""
    location = session.get(Location, location_id, with_for_update=for_update)
    if location is None or (location.confidential and not may_know_confidential(actor)):
        raise NotFound(f"Location {location_id} does not exist.")
    return location


def _validate_location(session: Session, location: Location) -> None:
    errors: dict[str, str] = {}
    if location.country == "ID":
        if location.region_code is None:
            errors["region_code"] = "Required for a location in Indonesia."
        else:
            _check_regions(session, errors, {"region_code": location.region_code})
            if location.region_code == NATIONAL or "." not in location.region_code:
                errors["region_code"] = "Give the regency or district of the location."
    elif location.region_code is not None:
        errors["region_code"] = (
            f"A location abroad ({location.country}) has no Indonesian region; omit it."
        )
    if (location.latitude is None) != (location.longitude is None):
        field = "longitude" if location.longitude is None else "latitude"
        errors[field] = "Give latitude and longitude together."
    _raise_if(errors)


def create_location(
    session: Session, *, actor: Actor, data: Mapping[str, Any], demo: bool = False
) -> Location:
    """Add a site of an organization."""
    organization = get_organization(session, organization_id=data["organization_id"])
    authorize_write(actor, organization.id)
    location = Location(**data, demo=demo, status="active")
    location.country = location.country or "ID"
    _validate_location(session, location)
    search_index.mask_location(session, location)
    session.add(location)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="location.create",
        entity_type="location",
        entity_id=location.id,
        summary={"organization_id": str(organization.id), "confidential": location.confidential},
    )
    events.location_updated(session, location=location, change="created")
    return location


def update_location(
    session: Session, *, actor: Actor, location_id: uuid.UUID, data: Mapping[str, Any]
) -> Location:
    """Change some fields of a location."""
    location = get_location(session, actor=actor, location_id=location_id)
    authorize_write(actor, location.organization_id)
    changed = _apply(location, data)
    _validate_location(session, location)
    search_index.mask_location(session, location)
    if changed:
        search_index.reindex(
            session, service_ids=search_index.services_at(session, location_id=location.id)
        )
    _audit_update(session, actor, "location", location.id, changed)
    if changed:
        events.location_updated(session, location=location, change="updated", fields=changed)
    return location


def list_locations(
    session: Session,
    *,
    actor: Actor,
    organization_id: uuid.UUID | None = None,
    region: str | None = None,
    status: str | None = "active",
    page: int,
    per_page: int,
) -> Page[Location]:
    """List the locations the actor may know exist."""
    stmt = (
        select(Location)
        .where(location_visibility(actor))
        .order_by(visible_name_expr(actor), Location.id)
    )
    if organization_id:
        stmt = stmt.where(Location.organization_id == organization_id)
    if region:
        regions.require(session, region)
        stmt = stmt.where(regions.within(visible_region_expr(actor), region))
    if status:
        stmt = stmt.where(Location.status == status)
    return paginate(session, stmt, page=page, per_page=per_page)


# -- services -----------------------------------------------------------------------------


def get_service(session: Session, *, service_id: uuid.UUID, for_update: bool = False) -> Service:
    """Return a service (its row locked if `for_update`) or raise NotFound."""
    lock = {"of": Service} if for_update else None
    service = session.get(Service, service_id, with_for_update=lock)
    if service is None:
        raise NotFound(f"Service {service_id} does not exist.")
    return service


SERVICE_COLUMNS = (
    "name",
    "description",
    "languages",
    "fees",
    "hours",
    "schedule",
    "open_24_7",
    "status",
    "source",  # set by an import only (hsds.loading); the API's schemas do not take it
)


def _service_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """Flatten the API's nested eligibility and capacity into columns."""
    values = {k: data[k] for k in SERVICE_COLUMNS if k in data}
    eligibility = data.get("eligibility") or {}
    for key, column in (
        ("age_min", "age_min"),
        ("age_max", "age_max"),
        ("genders", "genders"),
        ("notes", "eligibility_notes"),
    ):
        if key in eligibility:
            values[column] = eligibility[key]
    if "capacity" in data:
        capacity = data["capacity"]
        if capacity is None:
            values["beds_total"] = values["beds_available"] = values["capacity_status"] = None
        else:
            for key, column in (
                ("beds_total", "beds_total"),
                ("beds_available", "beds_available"),
                ("status", "capacity_status"),
            ):
                if key in capacity:
                    values[column] = capacity[key]
    return values


def _set_links(
    session: Session, service: Service, data: Mapping[str, Any], errors: dict[str, str]
) -> list[str]:
    changed = []
    if "service_types" in data and set(data["service_types"]) != set(service.service_types):
        keep = {row.service_type: row for row in service.type_rows}
        service.type_rows = [
            keep.get(code) or ServiceTypeAssignment(service_type=code)
            for code in sorted(set(data["service_types"]))
        ]
        changed.append("service_types")
    if "coverage" in data:
        _check_regions(session, errors, {"coverage": data["coverage"]})
        if set(data["coverage"]) != set(service.coverage) and "coverage" not in errors:
            keep_cov = {row.region_code: row for row in service.coverage_rows}
            service.coverage_rows = [
                keep_cov.get(code) or ServiceCoverage(region_code=code)
                for code in sorted(set(data["coverage"]))
            ]
            changed.append("coverage")
    if "location_ids" in data:
        ids = list(dict.fromkeys(data["location_ids"]))
        found = {
            loc.id: loc for loc in session.scalars(select(Location).where(Location.id.in_(ids)))
        }
        foreign = [
            i for i in ids if i not in found or found[i].organization_id != service.organization_id
        ]
        if foreign:
            errors["location_ids"] = (
                "Not locations of this service's organization: "
                + ", ".join(str(i) for i in foreign)
                + "."
            )
        elif set(ids) != {loc.id for loc in service.locations}:
            service.locations = [found[i] for i in ids]
            changed.append("location_ids")
    return changed


def _validate_service(service: Service, errors: dict[str, str]) -> None:
    if (
        service.age_min is not None
        and service.age_max is not None
        and service.age_min > service.age_max
    ):
        errors["eligibility.age_min"] = f"Must not exceed eligibility.age_max ({service.age_max})."
    if (
        service.beds_available is not None
        and service.beds_total is not None
        and service.beds_available > service.beds_total
    ):
        errors["capacity.beds_available"] = (
            f"Must not exceed capacity.beds_total ({service.beds_total})."
        )
    if service.beds_available is not None and service.beds_total is None:
        errors["capacity.beds_total"] = "Required when beds_available is given."
    if not service.type_rows:
        errors["service_types"] = "Give at least one service type."


def create_service(
    session: Session, *, actor: Actor, data: Mapping[str, Any], demo: bool = False
) -> Service:
    """Add a service of an organization, with the locations where it is given."""
    organization = get_organization(session, organization_id=data["organization_id"])
    authorize_write(actor, organization.id)
    service = Service(organization_id=organization.id, demo=demo, status="active")
    if "id" in data:  # an imported service keeps its HSDS id (hsds.loading)
        service.id = data["id"]
    service.organization = organization
    service.genders, service.languages = [], []
    for key, value in _service_values(data).items():
        setattr(service, key, value)
    if service.beds_total is not None or service.capacity_status is not None:
        service.capacity_updated_at = utcnow()
    errors: dict[str, str] = {}
    _set_links(session, service, data, errors)
    _validate_service(service, errors)
    _raise_if(errors)
    session.add(service)
    session.flush()
    search_index.reindex(session, service_ids=[service.id])
    audit.record(
        session,
        actor=actor,
        action="service.create",
        entity_type="service",
        entity_id=service.id,
        summary={"organization_id": str(organization.id), "service_types": service.service_types},
    )
    events.service_updated(session, service=service, change="created")
    return service


def update_service(
    session: Session, *, actor: Actor, service_id: uuid.UUID, data: Mapping[str, Any]
) -> Service:
    """Change some fields of a service (capacity changes stamp capacity_updated_at)."""
    service = get_service(session, service_id=service_id)
    authorize_write(actor, service.organization_id)
    changed = _apply(service, _service_values(data))
    errors: dict[str, str] = {}
    changed += _set_links(session, service, data, errors)
    _validate_service(service, errors)
    _raise_if(errors)
    if {"beds_total", "beds_available", "capacity_status"} & set(changed):
        service.capacity_updated_at = utcnow()
    if changed:
        search_index.reindex(session, service_ids=[service.id])
    _audit_update(session, actor, "service", service.id, changed)
    if changed:
        events.service_updated(session, service=service, change="updated", fields=changed)
    return service
