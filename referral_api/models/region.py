"""Kemendagri regions and the vocabulary tables."""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Region(Base):
    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(13), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    level: Mapped[str] = mapped_column(String(10), index=True)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    centroid_source: Mapped[str | None] = mapped_column(String(200))


class ServiceType(Base):
    __tablename__ = "service_types"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    pillar: Mapped[str] = mapped_column(String(20))
    label_id: Mapped[str] = mapped_column(String(120))
    label_en: Mapped[str] = mapped_column(String(120))
    description_id: Mapped[str] = mapped_column(Text)
    description_en: Mapped[str] = mapped_column(Text)


class OrganizationType(Base):
    __tablename__ = "organization_types"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    label_id: Mapped[str] = mapped_column(String(120))
    label_en: Mapped[str] = mapped_column(String(120))
    description_id: Mapped[str] = mapped_column(Text)
    description_en: Mapped[str] = mapped_column(Text)
