"""The queries behind the HSDS read API: the public directory, page by page.

Every read is the public's (`Actor.public()`): which sites exist and how they look is
decided by `directory` (`location_visibility`, `view_service`, `view_location`), not here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Row, Select, SQLColumnExpression, case, func, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement, Label

from ...errors import NotFound, ValidationFailed
from ...models import (
    Location,
    Organization,
    Region,
    Service,
    ServiceTypeAssignment,
    service_locations,
)
from ...models.base import UTCDateTime
from .. import directory, regions
from ..actors import Actor
from ..pagination import Page, paginate, paginate_rows
from . import mapping
from .mapping import ServiceRecord

PUBLIC = Actor.public()
_S = TypeVar("_S", bound=Select[*tuple[Any, ...]])
# `format=ndjson` streams every result on one "page".
EVERYTHING = 1_000_000


@dataclass(frozen=True)
class Query:
    """The HSDS list parameters shared by the endpoints (all ANDed)."""

    search: str | None = None
    taxonomy_term_id: uuid.UUID | None = None
    taxonomy_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    modified_after: datetime | None = None
    page: int = 1
    per_page: int = 50


def _public_site() -> ColumnElement[bool]:
    """SQL: a site the public may see and that is in use."""
    return directory.location_visibility(PUBLIC) & (Location.status == "active")


def _later(
    a: SQLColumnExpression[datetime], b: SQLColumnExpression[datetime]
) -> ColumnElement[datetime]:
    return case((b > a, b), else_=a)


def service_last_modified() -> Label[datetime]:
    """SQL: when a service's HSDS form last changed: the service, its organization or one
    of its public sites (a confidential site's changes show nowhere)."""
    latest_site = (
        select(func.max(Location.updated_at))
        .select_from(service_locations.join(Location))
        .where(service_locations.c.service_id == Service.id, _public_site())
        .scalar_subquery()
    )
    latest = _later(
        _later(Service.updated_at, Organization.updated_at),
        func.coalesce(latest_site, Service.updated_at),
    )
    return type_coerce(latest, UTCDateTime()).label("last_modified")


def _service_filters(stmt: _S, query: Query) -> _S:
    if query.search:
        stmt = stmt.where(
            directory.text_match(query.search, Service.name, Service.description, Organization.name)
        )
    term = query.taxonomy_term_id
    if query.taxonomy_id is not None and str(query.taxonomy_id) != mapping.TAXONOMY_ID:
        stmt = stmt.where(Service.id.is_(None))
    if term is not None:
        codes = mapping.codes_of_term(str(term))
        if codes is None:
            raise ValidationFailed({"taxonomy_term_id": f"Unknown taxonomy term {term}."})
        stmt = stmt.where(
            Service.id.in_(
                select(ServiceTypeAssignment.service_id).where(
                    ServiceTypeAssignment.service_type.in_(codes)
                )
            )
        )
    if query.organization_id is not None:
        stmt = stmt.where(Service.organization_id == query.organization_id)
    if query.modified_after is not None:
        stmt = stmt.where(service_last_modified() >= query.modified_after)
    return stmt


def _record(row: Row[Any]) -> ServiceRecord:
    service: Service = row._mapping[Service]
    last_modified: datetime = row._mapping["last_modified"]
    view = directory.view_service(PUBLIC, service, stale_before=directory.NEVER_STALE)
    public_ids = set(view.location_ids)
    sites = [loc for loc in service.locations if loc.status == "active"]
    return ServiceRecord(
        view=view,
        organization=service.organization,
        locations=[directory.view_location(PUBLIC, loc) for loc in sites if loc.id in public_ids],
        # Regency level only: how the directory shows a confidential site to outsiders.
        hidden_regencies=sorted(
            {
                code
                for loc in sites
                if loc.id not in public_ids
                and (code := directory.view_location(PUBLIC, loc).region_code)
            }
        ),
        last_modified=last_modified,
    )


def _services_stmt() -> Select[Any]:
    columns: tuple[Any, ...] = (Service, service_last_modified())
    stmt: Select[Any] = (
        select(*columns)
        .join(Organization, Service.organization_id == Organization.id)
        .order_by(Service.name, Service.id)
    )
    return stmt


def list_services(session: Session, *, query: Query) -> Page[ServiceRecord]:
    """One page of services, with what their HSDS forms need."""
    stmt = _service_filters(_services_stmt(), query)
    return paginate_rows(session, stmt, page=query.page, per_page=query.per_page, item=_record)


def get_service(session: Session, *, service_id: uuid.UUID) -> ServiceRecord:
    """One service, or NotFound."""
    row = session.execute(_services_stmt().where(Service.id == service_id)).first()
    if row is None:
        raise NotFound(f"Service {service_id} does not exist.")
    return _record(row)


def region_names(session: Session, codes: set[str]) -> dict[str, Region]:
    """The regions these codes name, in one query."""
    if not codes:
        return {}
    return {r.code: r for r in session.scalars(select(Region).where(Region.code.in_(codes)))}


def names_for(session: Session, records: list[ServiceRecord]) -> dict[str, Region]:
    return region_names(session, mapping.region_codes(records))


# -- organizations ------------------------------------------------------------------------


def list_organizations(session: Session, *, query: Query) -> Page[Organization]:
    """One page of organizations (those with a service of the term, if one is given)."""
    stmt = select(Organization).order_by(Organization.name, Organization.id)
    if query.search:
        stmt = stmt.where(
            directory.text_match(query.search, Organization.name, Organization.aliases)
        )
    if query.modified_after is not None:
        stmt = stmt.where(Organization.updated_at >= query.modified_after)
    if query.taxonomy_term_id is not None or query.taxonomy_id is not None:
        services = _service_filters(
            select(Service.organization_id).join(Organization),
            Query(taxonomy_term_id=query.taxonomy_term_id, taxonomy_id=query.taxonomy_id),
        )
        stmt = stmt.where(Organization.id.in_(services))
    return paginate(session, stmt, page=query.page, per_page=query.per_page)


def public_sites(
    session: Session, *, organization_id: uuid.UUID | None = None
) -> list[directory.LocationView]:
    """The sites the public may see (of one organization, if given)."""
    stmt = select(Location).where(_public_site()).order_by(Location.name, Location.id)
    if organization_id is not None:
        stmt = stmt.where(Location.organization_id == organization_id)
    return [directory.view_location(PUBLIC, site) for site in session.scalars(stmt)]


def site_codes(sites: list[directory.LocationView]) -> set[str]:
    """The region codes (with their ancestors) the sites' addresses name."""
    return {code for s in sites if s.region_code for code in regions.ancestors_of(s.region_code)}


def organization_full(session: Session, *, organization_id: uuid.UUID) -> dict[str, Any]:
    """An organization with its public sites and its services."""
    org = directory.get_organization(session, organization_id=organization_id)
    services = list_services(session, query=Query(organization_id=org.id, per_page=EVERYTHING))
    sites = public_sites(session, organization_id=org.id)
    names = region_names(session, site_codes(sites))
    return mapping.organization_full(
        org,
        locations=[mapping.location(site, names) for site in sites],
        services=[mapping.service(record) for record in services.items],
    )


# -- services at locations ----------------------------------------------------------------


@dataclass(frozen=True)
class SiteRecord:
    service: ServiceRecord
    site: directory.LocationView


def _sites_of(records: list[ServiceRecord]) -> list[SiteRecord]:
    return [SiteRecord(r, site) for r in records for site in r.locations]


def list_service_at_locations(session: Session, *, query: Query) -> Page[SiteRecord]:
    """One page of the public (service, site) pairs."""
    pairs: Select[Any] = (
        select(service_locations.c.service_id, service_locations.c.location_id)
        .join(Location, Location.id == service_locations.c.location_id)
        .join(Service, Service.id == service_locations.c.service_id)
        .join(Organization, Service.organization_id == Organization.id)
        .where(_public_site())
    )
    pairs = _service_filters(pairs, query).order_by(
        service_locations.c.service_id, service_locations.c.location_id
    )
    page = paginate_rows(
        session, pairs, page=query.page, per_page=query.per_page, item=lambda row: tuple(row)
    )
    wanted = {service_id for service_id, _ in page.items}
    rows = list(session.execute(_services_stmt().where(Service.id.in_(wanted)))) if wanted else []
    sites = {(s.service.view.id, s.site.id): s for s in _sites_of([_record(r) for r in rows])}
    return Page([sites[pair] for pair in page.items], page.page, page.per_page, page.total)


def get_service_at_location(session: Session, *, sal_id: uuid.UUID) -> SiteRecord:
    """One (service, site) pair by its derived id, or NotFound."""
    pairs = session.execute(
        select(service_locations.c.service_id, service_locations.c.location_id)
        .join(Location, Location.id == service_locations.c.location_id)
        .where(_public_site())
    ).all()
    for service_id, location_id in pairs:
        if mapping.service_at_location_id(service_id, location_id) == str(sal_id):
            record = get_service(session, service_id=service_id)
            return next(s for s in _sites_of([record]) if s.site.id == location_id)
    raise NotFound(f"Service at location {sal_id} does not exist.")


def find(items: list[dict[str, Any]], item_id: uuid.UUID, kind: str) -> dict[str, Any]:
    """The item with this id among a fixed list (the taxonomy), or NotFound."""
    for item in items:
        if item["id"] == str(item_id):
            return item
    raise NotFound(f"{kind} {item_id} does not exist.")


def filter_terms(
    terms: list[dict[str, Any]], *, search: str | None, taxonomy_id: uuid.UUID | None
) -> list[dict[str, Any]]:
    words = (search or "").lower().split()

    def matches(term: Mapping[str, Any]) -> bool:
        fields = ("code", "name", "name_en")
        return all(any(w in str(term.get(f, "")).lower() for f in fields) for w in words)

    return [
        t
        for t in terms
        if matches(t) and (taxonomy_id is None or t["taxonomy_id"] == str(taxonomy_id))
    ]
