"""The directory: organizations, their locations and services."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, JSONType, UTCDateTime, new_id, utcnow

service_locations = Table(
    "service_locations",
    Base.metadata,
    Column("service_id", ForeignKey("services.id"), primary_key=True),
    Column("location_id", ForeignKey("locations.id"), primary_key=True, index=True),
)


class ServiceTypeAssignment(Base):
    __tablename__ = "service_service_types"

    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("services.id"), primary_key=True)
    service_type: Mapped[str] = mapped_column(
        ForeignKey("service_types.code"), primary_key=True, index=True
    )


class ServiceCoverage(Base):
    __tablename__ = "service_coverage"

    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("services.id"), primary_key=True)
    # `ID` (the national root region) or a Kemendagri region code.
    region_code: Mapped[str] = mapped_column(
        ForeignKey("regions.code"), primary_key=True, index=True
    )


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(300))
    type: Mapped[str] = mapped_column(ForeignKey("organization_types.code"), index=True)
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    level: Mapped[str | None] = mapped_column(String(20))
    aliases: Mapped[list[str]] = mapped_column(JSONType, default=list)
    description: Mapped[str | None] = mapped_column(Text)
    website: Mapped[str | None] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(254))
    phones: Mapped[list[str]] = mapped_column(JSONType, default=list)
    hotlines: Mapped[list[str]] = mapped_column(JSONType, default=list)
    languages: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(20), default="active")
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where the entry came from when it was imported (an HSDS package, `hsds import`).
    source: Mapped[str | None] = mapped_column(String(300))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # The principal who checked the entry (a plain id: principals also point at organizations).
    verified_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Location(Base):
    __tablename__ = "locations"
    __table_args__ = (
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    address: Mapped[str | None] = mapped_column(Text)
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    country: Mapped[str] = mapped_column(String(2), default="ID")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where the site is for callers outside its organization: the real point, or for a
    # confidential site its regency's centroid. Searches measure their distance from here.
    masked_latitude: Mapped[float | None] = mapped_column(Float)
    masked_longitude: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20), default="active")
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    organization: Mapped[Organization] = relationship()


def eligibility_of(service: Any) -> dict[str, Any]:
    """Who a service takes, from a Service or a row of the services table."""
    return {
        "age_min": service.age_min,
        "age_max": service.age_max,
        "genders": list(service.genders or []),
        "notes": service.eligibility_notes,
    }


def capacity_status_of(service: Any) -> str | None:
    """The HL7 SDOH capacity status: declared (waitlist, additional-assessment-required),
    else what the free beds say (capacity, no-capacity), else None (not known)."""
    if service.capacity_status is not None:
        return str(service.capacity_status)
    if service.beds_available is None:
        return None
    return "capacity" if service.beds_available > 0 else "no-capacity"


def capacity_of(service: Any) -> dict[str, Any] | None:
    """Its beds, from a Service or a row of the services table (None: not a bed service)."""
    if (
        service.beds_total is None
        and service.beds_available is None
        and service.capacity_status is None
    ):
        return None
    return {
        "beds_total": service.beds_total,
        "beds_available": service.beds_available,
        "status": capacity_status_of(service),
        "updated_at": service.capacity_updated_at,
    }


class Service(Base):
    __tablename__ = "services"
    __table_args__ = (
        CheckConstraint(
            "age_min IS NULL OR age_max IS NULL OR age_min <= age_max", name="age_range"
        ),
        CheckConstraint(
            "beds_available IS NULL OR beds_total IS NULL OR beds_available <= beds_total",
            name="beds_within_total",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    age_min: Mapped[int | None] = mapped_column(Integer)
    age_max: Mapped[int | None] = mapped_column(Integer)
    genders: Mapped[list[str]] = mapped_column(JSONType, default=list)
    eligibility_notes: Mapped[str | None] = mapped_column(Text)
    languages: Mapped[list[str]] = mapped_column(JSONType, default=list)
    fees: Mapped[str] = mapped_column(String(300), default="free")
    hours: Mapped[str | None] = mapped_column(String(300))
    # Weekly opening hours, HSDS schedule-shaped: [{"byday": ["MO", ...], "opens_at":
    # "08:00", "closes_at": "16:00"}], in each site's own time zone; None: not known.
    schedule: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    open_24_7: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # What bed counts cannot say: `waitlist` or `additional-assessment-required`.
    capacity_status: Mapped[str | None] = mapped_column(String(40))
    beds_total: Mapped[int | None] = mapped_column(Integer)
    beds_available: Mapped[int | None] = mapped_column(Integer)
    capacity_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="active")
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where the entry came from when it was imported (an HSDS package, `hsds import`).
    source: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    organization: Mapped[Organization] = relationship(lazy="joined", innerjoin=True)
    locations: Mapped[list[Location]] = relationship(
        secondary=service_locations, lazy="selectin", order_by=Location.id
    )
    type_rows: Mapped[list[ServiceTypeAssignment]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by=ServiceTypeAssignment.service_type
    )
    coverage_rows: Mapped[list[ServiceCoverage]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by=ServiceCoverage.region_code
    )

    @property
    def service_types(self) -> list[str]:
        return [row.service_type for row in self.type_rows]

    @property
    def coverage(self) -> list[str]:
        return [row.region_code for row in self.coverage_rows]

    @property
    def eligibility(self) -> dict[str, Any]:
        return eligibility_of(self)

    @property
    def capacity(self) -> dict[str, Any] | None:
        return capacity_of(self)

    @property
    def location_ids(self) -> list[uuid.UUID]:
        return [location.id for location in self.locations]

    def __repr__(self) -> str:
        return f"<Service {self.id} {self.name!r}>"
