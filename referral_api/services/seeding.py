"""Reference and demo data, loaded through the same services as the API."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Organization, OrganizationType, Role, ServiceType
from ..vocabularies import ORGANIZATION_TYPES, SERVICE_TYPES
from . import audit, directory, principals, regions, search_index
from .actors import Actor

DEMO_DIRECTORY = regions.SEED_DIR / "demo_directory.json"
DEMO_PREFIX = "[DEMO DATA — verify before operational use] "


@dataclass
class SeedReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, created: int = 0, updated: int = 0) -> None:
        if created:
            self.created[kind] = self.created.get(kind, 0) + created
        if updated:
            self.updated[kind] = self.updated.get(kind, 0) + updated

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def lines(self) -> list[str]:
        if not self.changed:
            return ["nothing to do: everything was already loaded"]
        return [f"created {n} {kind}" for kind, n in sorted(self.created.items())] + [
            f"updated {n} {kind}" for kind, n in sorted(self.updated.items())
        ]


def seed(session: Session, *, demo: bool = False) -> SeedReport:
    """Load regions and vocabularies, and with `demo` the demo directory.

    A second run changes nothing (and records no audit event).
    """
    report = SeedReport()
    created, updated = regions.seed_regions(session)
    report.add("regions", created, updated)
    for model, terms, with_pillar in (
        (ServiceType, SERVICE_TYPES, True),
        (OrganizationType, ORGANIZATION_TYPES, False),
    ):
        created, updated = _seed_terms(session, model, terms, with_pillar=with_pillar)
        report.add(model.__tablename__, created, updated)
    if report.changed:
        audit.record(
            session,
            actor=Actor.system(),
            action="seed.reference",
            entity_type="reference_data",
            entity_id=None,
            summary={"created": report.created, "updated": report.updated},
        )
    if demo:
        _seed_demo_directory(session, report)
    indexed = search_index.backfill(session)
    report.add("search entries", indexed)
    return report


def _seed_terms(session: Session, model: Any, terms: Any, *, with_pillar: bool) -> tuple[int, int]:
    existing = {row.code: row for row in session.scalars(select(model))}
    created = updated = 0
    for term in terms:
        values = term._asdict()
        if not with_pillar:
            values.pop("pillar")
        row = existing.get(term.code)
        if row is None:
            session.add(model(**values))
            created += 1
        elif any(getattr(row, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(row, key, value)
            updated += 1
    session.flush()
    return created, updated


def _seed_demo_directory(session: Session, report: SeedReport, path: Path = DEMO_DIRECTORY) -> None:
    """Load the demo directory through the directory services; skip what is there."""
    data = json.loads(path.read_text(encoding="utf-8"))
    actor = Actor.system()
    existing = {
        name: org_id
        for name, org_id in session.execute(
            select(Organization.name, Organization.id).where(Organization.demo.is_(True))
        )
    }
    org_ids: dict[str, Any] = {}
    new_orgs: set[str] = set()
    for item in data["organizations"]:
        key = item["key"]
        if item["name"] in existing:
            org_ids[key] = existing[item["name"]]
            continue
        fields = {k: v for k, v in item.items() if k != "key"}
        if not fields.get("description", "").startswith(DEMO_PREFIX):
            fields["description"] = DEMO_PREFIX + (fields.get("description") or "")
        organization = directory.create_organization(session, actor=actor, data=fields, demo=True)
        org_ids[key] = organization.id
        new_orgs.add(key)
    report.add("demo organizations", len(new_orgs))

    location_ids: dict[str, Any] = {}
    for item in data["locations"]:
        if item["organization"] not in new_orgs:
            continue
        fields = {k: v for k, v in item.items() if k not in ("key", "organization")}
        fields["organization_id"] = org_ids[item["organization"]]
        location = directory.create_location(session, actor=actor, data=fields, demo=True)
        location_ids[item["key"]] = location.id
    report.add("demo locations", len(location_ids))

    services = 0
    for item in data["services"]:
        if item["organization"] not in new_orgs:
            continue
        fields = {k: v for k, v in item.items() if k not in ("organization", "locations")}
        fields["organization_id"] = org_ids[item["organization"]]
        fields["location_ids"] = [location_ids[key] for key in item["locations"]]
        directory.create_service(session, actor=actor, data=fields, demo=True)
        services += 1
    report.add("demo services", services)


DEMO_PRINCIPALS = (
    # role, who, organization name (or None), coverage
    (Role.CASEWORKER, "Demo caseworker", "Kementerian Sosial Republik Indonesia", None),
    (Role.ORG_ADMIN, "Demo org admin", "UPTD PPA Provinsi Nusa Tenggara Timur", None),
    (Role.COORDINATOR, "Demo coordinator, Gugus Tugas PP-TPPO NTT", None, "53"),
    (Role.ADMIN, "Demo administrator", None, None),
)


@dataclass(frozen=True)
class DemoToken:
    """A demo principal's token, with the organization it acts for (if any)."""

    role: str
    who: str
    organization_id: uuid.UUID | None
    organization_name: str | None
    token: str


def demo_tokens(session: Session) -> list[DemoToken]:
    """Create one fresh demo principal per role; return their tokens."""
    tokens: list[DemoToken] = []
    for role, who, org_name, coverage in DEMO_PRINCIPALS:
        organization = None
        if org_name is not None:
            organization = session.scalars(
                select(Organization).where(
                    Organization.demo.is_(True), Organization.name == org_name
                )
            ).one()
        _, token = principals.create_token(
            session,
            actor=Actor.system(),
            role=role,
            name=who if organization is None else f"{who}, {organization.name}",
            organization_id=organization.id if organization else None,
            coverage_code=coverage,
        )
        tokens.append(
            DemoToken(
                role=role.value,
                who=who,
                organization_id=organization.id if organization else None,
                organization_name=organization.name if organization else None,
                token=token,
            )
        )
    return tokens


def real_organizations(session: Session) -> int:
    """How many organizations are not demo data (the demo is never loaded beside them)."""
    stmt = select(func.count()).select_from(Organization).where(Organization.demo.is_(False))
    return session.scalar(stmt) or 0
