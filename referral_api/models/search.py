"""The nearest-search index: one row per active service at an active location."""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

# What a nearest search reads of each entry besides its grid cell and coordinates.
_READ = ("confidential", "organization_id", "location_id", "service_id")


class SearchEntry(Base):
    """Derived from services, locations and organizations; rebuilt on every change to them.

    (`cell_row`, `cell_col`) is the 0.2-degree grid square of the coordinates outsiders
    see (a confidential site's regency centroid); (`real_row`, `real_col`) that of the real
    site. A search box becomes `row IN (...) AND col BETWEEN ...`, one index range per
    grid row, and the service types are a bit mask read from the same index. Both
    indexes hold every column a search reads, so it never visits the table.
    """

    __tablename__ = "search_entries"
    __table_args__ = (
        Index(
            "ix_search_entries_cell",
            *("cell_row", "cell_col", "type_mask", "masked_latitude", "masked_longitude"),
            *_READ,
        ),
        Index(
            "ix_search_entries_real_cell",
            *("real_row", "real_col", "type_mask", "latitude", "longitude"),
            *_READ,
        ),
    )

    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("services.id"), primary_key=True)
    location_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("locations.id"), primary_key=True, index=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    confidential: Mapped[bool] = mapped_column(Boolean)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    real_row: Mapped[int] = mapped_column(Integer)
    real_col: Mapped[int] = mapped_column(Integer)
    masked_latitude: Mapped[float | None] = mapped_column(Float)
    masked_longitude: Mapped[float | None] = mapped_column(Float)
    cell_row: Mapped[int | None] = mapped_column(Integer)
    cell_col: Mapped[int | None] = mapped_column(Integer)
    type_mask: Mapped[int] = mapped_column(BigInteger)
