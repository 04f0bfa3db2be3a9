"""Keeps `search_entries` in step with services, locations and organizations."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..models import Location, SearchEntry, Service, service_locations
from ..vocabularies import SERVICE_TYPES
from . import regions

CELL_DEGREES = 0.2
COLUMNS = round(360 / CELL_DEGREES)
# Bit i of a type mask stands for the i-th service type of the vocabulary (append only).
TYPE_BITS = {term.code: 1 << i for i, term in enumerate(SERVICE_TYPES)}


def _row(latitude: float) -> int:
    return math.floor((latitude + 90.0) / CELL_DEGREES)


def _column(longitude: float) -> int:
    return min(COLUMNS - 1, max(0, math.floor((longitude + 180.0) / CELL_DEGREES)))


def cell_of(latitude: float, longitude: float) -> tuple[int, int]:
    """(row, column) of the grid square holding a point."""
    return _row(latitude), _column(longitude)


def box_cells(box: tuple[float, float, float, float]) -> tuple[list[int], int, int]:
    """The grid rows a lat/lng box spans, and its first and last column."""
    lat_min, lat_max, lng_min, lng_max = box
    return list(range(_row(lat_min), _row(lat_max) + 1)), _column(lng_min), _column(lng_max)


def type_mask(codes: Iterable[str]) -> int:
    mask = 0
    for code in codes:
        mask |= TYPE_BITS[code]
    return mask


def mask_location(session: Session, location: Location) -> None:
    """Place the site for outsiders: itself, or if confidential its regency's centroid."""
    if not location.confidential:
        location.masked_latitude, location.masked_longitude = location.latitude, location.longitude
        return
    # A confidential site abroad has no regency to stand in for it: it is not placed at all.
    centroid = location.region_code and regions.centroid(
        session, regions.regency_of(location.region_code)
    )
    if not centroid:
        location.masked_latitude = location.masked_longitude = None
    else:
        location.masked_latitude, location.masked_longitude = centroid.latitude, centroid.longitude


def reindex(session: Session, *, service_ids: Iterable[uuid.UUID]) -> None:
    """Rewrite the entries of these services from their current state."""
    ids = list(dict.fromkeys(service_ids))
    if not ids:
        return
    session.flush()
    session.execute(delete(SearchEntry).where(SearchEntry.service_id.in_(ids)))
    services = session.scalars(select(Service).where(Service.id.in_(ids))).all()
    entries = [
        _entry(service, location)
        for service in services
        if service.status == "active" and service.organization.status == "active"
        for location in service.locations
        if location.status == "active" and location.latitude is not None
    ]
    session.add_all(entries)
    session.flush()


def _entry(service: Service, location: Location) -> SearchEntry:
    masked = location.masked_latitude is not None and location.masked_longitude is not None
    real_row, real_col = cell_of(location.latitude, location.longitude)  # type: ignore[arg-type]
    cell_row, cell_col = (
        cell_of(location.masked_latitude, location.masked_longitude)  # type: ignore[arg-type]
        if masked
        else (None, None)
    )
    return SearchEntry(
        service_id=service.id,
        location_id=location.id,
        organization_id=location.organization_id,
        confidential=location.confidential,
        latitude=location.latitude,
        longitude=location.longitude,
        real_row=real_row,
        real_col=real_col,
        masked_latitude=location.masked_latitude,
        masked_longitude=location.masked_longitude,
        cell_row=cell_row,
        cell_col=cell_col,
        type_mask=type_mask(service.service_types),
    )


def services_at(session: Session, *, location_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(service_locations.c.service_id).where(
                service_locations.c.location_id == location_id
            )
        )
    )


def services_of(session: Session, *, organization_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        session.scalars(select(Service.id).where(Service.organization_id == organization_id))
    )


def backfill(session: Session) -> int:
    """Index a directory that predates the index (empty index, services present)."""
    if session.scalar(select(SearchEntry.service_id).limit(1)) is not None:
        return 0
    if session.scalar(select(Service.id).limit(1)) is None:
        return 0
    for location in session.scalars(select(Location)):
        mask_location(session, location)
    return rebuild(session)


def rebuild(session: Session, *, batch: int = 2000) -> int:
    """Rebuild the whole index (after bulk loads); return the number of entries."""
    session.execute(delete(SearchEntry))
    ids = list(session.scalars(select(Service.id)))
    for start in range(0, len(ids), batch):
        reindex(session, service_ids=ids[start : start + batch])
        session.expunge_all()
    return session.scalar(select(func.count()).select_from(SearchEntry)) or 0
