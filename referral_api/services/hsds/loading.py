"""Loading an HSDS package into the directory: every problem named, then all or nothing.

Rows become the directory's own organizations, sites and services (an HSDS id is the
entity's id, so a second import of the same package finds everything in place and
changes nothing). Each entity is checked by the API's own request schemas (`check`,
given by the caller: services do not import schemas) and the checks that need the
package or the database (ids, duplicates, foreign keys, regions, the profile's taxonomy
and unit); then loaded through `directory`, each in a savepoint, so the directory's own
rules (beds within total, sites of the same organization …) are reported too. Any problem,
or a dry run, rolls the whole load back.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...errors import DomainError, ValidationFailed
from ...models import Location, Organization, Service
from ...vocabularies import SERVICE_TYPES
from .. import directory, regions
from ..actors import Actor
from . import mapping, schedules
from .package import Package, Row

# (kind, data) -> the request schema's errors (marshmallow's nested messages), {} if none.
Check = Callable[[str, dict[str, Any]], Mapping[str, Any]]
Progress = Callable[[int, int], None]  # (entities done, entities in all)
STATUSES = {
    "active": "active",
    "inactive": "inactive",
    "defunct": "inactive",
    "temporarily closed": "temporarily_closed",
}
HOTLINE = "Hotline"


@dataclass(frozen=True)
class Problem:
    file: str
    where: str
    field: str
    rule: str

    def __str__(self) -> str:
        return f"{self.file} {self.where} {self.field}: {self.rule}"


class ImportRefused(ValidationFailed):
    """The package breaks rules: every problem, by file, row and field."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors: dict[str, list[str]] = {}
        for p in problems:
            errors.setdefault(f"{p.file} {p.where} {p.field}", []).append(p.rule)
        super().__init__(errors, detail=f"The import was refused: {len(problems)} problem(s).")


@dataclass
class ImportReport:
    dry_run: bool
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "changed": self.changed,
            "created": dict(self.created),
            "updated": dict(self.updated),
            "unchanged": dict(self.unchanged),
        }


@dataclass
class Entity:
    """One organization, site or service to load, with where each field came from."""

    kind: str
    id: uuid.UUID
    row: Row
    data: dict[str, Any]
    origins: dict[str, tuple[Row, str]] = field(default_factory=dict)
    capacity_updated: datetime | None = None

    def origin(self, path: str) -> tuple[Row, str]:
        """The row and column a field (a dotted path of our schema) came from."""
        for prefix in sorted(self.origins, key=len, reverse=True):
            if path == prefix or path.startswith(prefix + "."):
                return self.origins[prefix]
        return self.row, path


class Loader:
    def __init__(self, session: Session, *, actor: Actor, check: Check, source: str) -> None:
        self.session, self.actor, self.check, self.source = session, actor, check, source
        self.problems: list[Problem] = []
        # Entities with a problem (their own or a child row's) are not loaded, nor is
        # anything that refers to them: one mistake is reported once.
        self.blamed: set[uuid.UUID] = set()
        self.current: uuid.UUID | None = None

    def fail(self, row: Row, column: str, rule: str) -> None:
        problem = Problem(row.file, row.where, column, rule)
        if problem not in self.problems:  # two validators of a field may say the same
            self.problems.append(problem)
        if self.current is not None:
            self.blamed.add(self.current)

    # -- rows to entities -----------------------------------------------------------------

    def index(self, package: Package) -> dict[str, dict[uuid.UUID, Row]]:
        """Each table's rows by id; a missing or malformed id, or a second row with the
        same id, is a problem (the JSON forms repeat nested objects: equal repeats are one)."""
        tables: dict[str, dict[uuid.UUID, Row]] = {}
        for table, rows in package.rows.items():
            seen: dict[uuid.UUID, Row] = {}
            for row in rows:
                row_id = self.uuid_of(row, "id")
                if row_id is None:
                    continue
                first = seen.get(row_id)
                if first is None:
                    seen[row_id] = row
                elif not (row.where.startswith("$") and _merge(first.values, row.values)):
                    self.fail(row, "id", f"duplicated id: also {first.file} {first.where}")
            tables[table] = seen
        return tables

    def uuid_of(self, row: Row, column: str, *, required: bool = True) -> uuid.UUID | None:
        value = row.values.get(column)
        if value is None:
            if required:
                self.fail(row, column, "required")
            return None
        try:
            return uuid.UUID(str(value))
        except ValueError:
            self.fail(row, column, f"not a UUID: {value!r}")
            return None

    def number(self, row: Row, column: str, kind: type) -> Any:
        value = row.values.get(column)
        if value is None or (isinstance(value, kind) and not isinstance(value, bool)):
            return value
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(row, column, f"not a number: {value!r}")
            return None
        if kind is int and not number.is_integer():
            self.fail(row, column, f"not a whole number: {value!r}")
            return None
        return kind(number)

    def children(
        self, tables: dict[str, dict[uuid.UUID, Row]], table: str, key: str, parents: set[Any]
    ) -> dict[uuid.UUID, list[Row]]:
        """A child table's rows by parent id; a row whose parent is missing is a problem
        (its own: the row is left out, the parent is not blamed)."""
        self.current = None
        found: dict[uuid.UUID, list[Row]] = {}
        for row in tables[table].values():
            parent = self.uuid_of(row, key)
            if parent is None:
                continue
            if parent not in parents:
                self.fail(row, key, f"broken reference: no such record {parent}")
                continue
            found.setdefault(parent, []).append(row)
        return found

    def organizations(
        self, tables: dict[str, dict[uuid.UUID, Row]], known: set[uuid.UUID]
    ) -> list[Entity]:
        phones = self.children(tables, "phone", "organization_id", known)
        entities = []
        for org_id, row in tables["organization"].items():
            self.current = org_id
            v = row.values
            data: dict[str, Any] = {
                "name": v.get("name"),
                "type": v.get("organization_type"),
                "region_code": v.get("region_code"),
                "level": v.get("level"),
                "description": v.get("description") or None,
                "email": v.get("email"),
                "website": v.get("website"),
                "aliases": [a for a in (v.get("alternate_name") or "").split(", ") if a],
                "phones": [],
                "hotlines": [],
            }
            entity = Entity("organization", org_id, row, data)
            entity.origins = {"type": (row, "organization_type")}
            for phone in phones.get(org_id, []):
                kind = "hotlines" if phone.values.get("description") == HOTLINE else "phones"
                entity.origins[f"{kind}.{len(data[kind])}"] = (phone, "number")
                data[kind].append(phone.values.get("number"))
            if row.where.startswith("$") and org_id not in phones:
                # A JSON organization nested in a service carries no phones: keep them.
                del data["phones"], data["hotlines"]
            entities.append(entity)
        return entities

    def locations(
        self, tables: dict[str, dict[uuid.UUID, Row]], known: set[uuid.UUID], orgs: set[Any]
    ) -> list[Entity]:
        addresses = self.children(tables, "address", "location_id", known)
        entities = []
        for location_id, row in tables["location"].items():
            self.current = location_id
            org_id = self.uuid_of(row, "organization_id")
            if org_id is not None and org_id not in orgs:
                self.fail(row, "organization_id", f"broken reference: no such record {org_id}")
            data: dict[str, Any] = {
                "organization_id": str(org_id),
                "name": row.values.get("name"),
                "latitude": self.number(row, "latitude", float),
                "longitude": self.number(row, "longitude", float),
                "address": None,
                "region_code": None,
                "country": "ID",
            }
            entity = Entity("location", location_id, row, data)
            for address in addresses.get(location_id, [])[:1]:
                a = address.values
                data.update(address=a.get("address_1"), region_code=a.get("region_code"))
                data["country"] = a.get("country") or "ID"
                for column, key in (("address_1", "address"), ("region_code", "region_code")):
                    entity.origins[key] = (address, column)
                entity.origins["country"] = (address, "country")
            entities.append(entity)
        return entities

    def services(
        self, tables: dict[str, dict[uuid.UUID, Row]], orgs: set[Any], sites: set[Any]
    ) -> list[Entity]:
        ids = set(tables["service"])
        by: dict[str, dict[uuid.UUID, list[Row]]] = {
            table: self.children(tables, table, "service_id", ids)
            for table in ("service_area", "language", "service_capacity", "schedule")
        }
        by["service_at_location"] = self.children(tables, "service_at_location", "service_id", ids)
        service_attributes = {
            k: r for k, r in tables["attribute"].items() if r.values.get("link_entity") == "service"
        }
        by["attribute"] = self.children({"a": service_attributes}, "a", "link_id", ids)
        terms = self.service_type_terms(tables)
        entities = []
        for service_id, row in tables["service"].items():
            self.current = service_id
            org_id = self.uuid_of(row, "organization_id")
            if org_id is not None and org_id not in orgs:
                self.fail(row, "organization_id", f"broken reference: no such record {org_id}")
            entity = Entity("service", service_id, row, self.service_data(row, org_id))
            entity.origins = {
                "eligibility.age_min": (row, "minimum_age"),
                "eligibility.age_max": (row, "maximum_age"),
                "eligibility.notes": (row, "eligibility_description"),
                "fees": (row, "fees_description"),
                "service_types": (row, "attributes (service type terms)"),
            }
            self.service_links(entity, by, terms, tables, sites)
            entities.append(entity)
        return entities

    def service_data(self, row: Row, org_id: uuid.UUID | None) -> dict[str, Any]:
        v = row.values
        status = STATUSES.get(str(v.get("status") or "active"))
        if status is None:
            self.fail(row, "status", f"not an HSDS status: {v.get('status')!r}")
        return {
            "organization_id": str(org_id),
            "name": v.get("name"),
            "description": v.get("description"),
            "status": status or "active",
            "fees": v.get("fees_description") or "free",
            "hours": None,
            "eligibility": {
                "age_min": self.number(row, "minimum_age", int),
                "age_max": self.number(row, "maximum_age", int),
                "notes": v.get("eligibility_description"),
            },
            "languages": [],
            "capacity": None,
            "service_types": [],
            "coverage": [],
            "location_ids": [],
        }

    def service_type_terms(self, tables: dict[str, dict[uuid.UUID, Row]]) -> dict[str, str]:
        """Term id -> service type: the profile's terms, and the package's own terms whose
        code is a service type."""
        codes = {t.code for t in SERVICE_TYPES}
        terms = {mapping.term_id(code): code for code in codes}
        for term_id, row in tables["taxonomy_term"].items():
            if row.values.get("code") in codes:
                terms[str(term_id)] = str(row.values["code"])
        return terms

    def service_schedules(self, entity: Entity, rows: list[Row]) -> None:
        """Plain weekly schedules become spans (one for every day 00:00-24:00: open 24/7);
        the descriptions of the others are the free-text hours."""
        spans = sorted(
            (r for r in rows if schedules.is_weekly_span(r.values)),
            key=lambda r: schedules.week_order(schedules.span_of(r.values)),
        )
        for i, row in enumerate(spans):
            entity.origins[f"schedule.{i}"] = (row, "byday, opens_at, closes_at")
            for column in ("byday", "opens_at", "closes_at"):
                entity.origins[f"schedule.{i}.{column}"] = (row, column)
        data = entity.data
        data["hours"] = (
            "; ".join(str(r.values["description"]) for r in rows if r.values.get("description"))
            or None
        )
        data["schedule"] = [schedules.span_of(r.values) for r in spans] or None
        data["open_24_7"] = any(schedules.is_24_7(span) for span in data["schedule"] or [])
        if data["open_24_7"]:
            data["schedule"] = None

    def service_links(
        self,
        entity: Entity,
        by: dict[str, dict[uuid.UUID, list[Row]]],
        terms: dict[str, str],
        tables: dict[str, dict[uuid.UUID, Row]],
        sites: set[Any],
    ) -> None:
        data, sid = entity.data, entity.id
        for i, area in enumerate(by["service_area"].get(sid, [])):
            entity.origins[f"coverage.{i}"] = (area, "region_code")
            data["coverage"].append(area.values.get("region_code"))
        for i, language in enumerate(by["language"].get(sid, [])):
            entity.origins[f"languages.{i}"] = (language, "code")
            data["languages"].append(language.values.get("code"))
        for attribute in by["attribute"].get(sid, []):
            code = terms.get(str(attribute.values.get("taxonomy_term_id")))
            if code is None:
                self.fail(attribute, "taxonomy_term_id", "not a service type of the profile")
                continue
            entity.origins[f"service_types.{len(data['service_types'])}"] = (
                attribute,
                "taxonomy_term_id",
            )
            data["service_types"].append(code)
        self.service_schedules(entity, by["schedule"].get(sid, []))
        for i, pair in enumerate(by["service_at_location"].get(sid, [])):
            site = self.uuid_of(pair, "location_id")
            if site is not None and site not in sites:
                self.fail(pair, "location_id", f"broken reference: no such record {site}")
            site_row = tables["location"].get(site) if site else None
            site_org = site_row.values.get("organization_id") if site_row else None
            if site_org is not None and site_org != row_org(entity):
                self.fail(pair, "location_id", "a site of another organization")
            entity.origins[f"location_ids.{i}"] = (pair, "location_id")
            data["location_ids"].append(str(site))
        if by["service_at_location"].get(sid):
            entity.origins["location_ids"] = (by["service_at_location"][sid][0], "location_id")
        for capacity in by["service_capacity"].get(sid, [])[:1]:
            self.capacity(entity, capacity, tables)

    def capacity(self, entity: Entity, row: Row, tables: dict[str, dict[uuid.UUID, Row]]) -> None:
        unit_id = self.uuid_of(row, "unit_id")
        unit = tables["unit"].get(unit_id) if unit_id else None
        if unit_id is not None and unit is None and str(unit_id) != mapping.BED_UNIT["id"]:
            self.fail(row, "unit_id", f"broken reference: no such record {unit_id}")
        elif unit is not None and unit.values.get("name") != "bed":
            self.fail(row, "unit_id", "the profile counts capacity in beds (unit name 'bed')")
        if row.values.get("available") is None:
            self.fail(row, "available", "required")
        available = self.number(row, "available", int)
        entity.data["capacity"] = {
            "beds_available": available,
            "beds_total": self.number(row, "maximum", int),
        }
        entity.origins["capacity.beds_available"] = (row, "available")
        entity.origins["capacity.beds_total"] = (row, "maximum")
        entity.origins["capacity"] = (row, "available")
        updated = row.values.get("updated")
        try:
            entity.capacity_updated = datetime.fromisoformat(str(updated)) if updated else None
        except ValueError:
            self.fail(row, "updated", f"not a date-time: {updated!r}")

    # -- checks ---------------------------------------------------------------------------

    def shape(self, entity: Entity) -> bool:
        """The API's request schema's verdict on the entity; False if it found problems."""
        self.current = entity.id
        before = len(self.problems)
        data = {k: v for k, v in entity.data.items() if k != "status" or entity.kind == "service"}
        for path, message in _flat(self.check(entity.kind, data)):
            row, column = entity.origin(path)
            self.fail(row, column, message)
        return len(self.problems) == before

    def known_regions(self, entities: list[Entity]) -> None:
        """Unknown Kemendagri codes, all in one query."""
        wanted: dict[str, list[tuple[Entity, str]]] = {}
        for entity in entities:
            for key in ("region_code",):
                if isinstance(entity.data.get(key), str):
                    wanted.setdefault(entity.data[key], []).append((entity, key))
            for i, code in enumerate(entity.data.get("coverage") or []):
                if isinstance(code, str):
                    wanted.setdefault(code, []).append((entity, f"coverage.{i}"))
        existing = regions.existing_codes(self.session, list(wanted))
        for code in sorted(set(wanted) - existing):
            for entity, path in wanted[code]:
                self.current = entity.id
                row, column = entity.origin(path)
                self.fail(row, column, f"unknown Kemendagri region code {code!r}")

    # -- loading --------------------------------------------------------------------------

    def load(self, entity: Entity, report: ImportReport) -> None:
        """Create or update one entity through the directory (in a savepoint)."""
        self.current = entity.id
        try:
            with self.session.begin_nested():
                outcome = LOADERS[entity.kind](self, entity)
        except ValidationFailed as error:
            for path, messages in error.errors.items():
                row, column = entity.origin(path)
                for message in messages:
                    self.fail(row, column, message)
            return
        except DomainError as error:
            self.fail(entity.row, "id", error.detail)
            return
        getattr(report, outcome)[entity.kind] += 1

    def organization(self, entity: Entity) -> str:
        data = {**entity.data, "source": self.source}
        existing = self.session.get(Organization, entity.id)
        if existing is None:
            directory.create_organization(
                self.session, actor=self.actor, data={"id": entity.id, **data}
            )
            return "created"
        return self.update(existing, data, directory.update_organization, "organization_id")

    def location(self, entity: Entity) -> str:
        data = {**entity.data, "organization_id": uuid.UUID(entity.data["organization_id"])}
        existing = self.session.get(Location, entity.id)
        if existing is None:
            directory.create_location(
                self.session, actor=self.actor, data={"id": entity.id, **data}
            )
            return "created"
        data.pop("organization_id")
        return self.update(existing, data, directory.update_location, "location_id")

    def service(self, entity: Entity) -> str:
        data = {
            **entity.data,
            "organization_id": uuid.UUID(entity.data["organization_id"]),
            "location_ids": [uuid.UUID(i) for i in entity.data["location_ids"]],
            "source": self.source,
        }
        existing = self.session.get(Service, entity.id)
        if existing is None:
            service = directory.create_service(
                self.session, actor=self.actor, data={"id": entity.id, **data}
            )
            outcome = "created"
        else:
            # A site the package cannot know (a confidential one) stays linked.
            public = set(
                directory.view_service(
                    Actor.public(), existing, stale_before=directory.NEVER_STALE
                ).location_ids
            )
            kept = [loc.id for loc in existing.locations if loc.id not in public]
            data["location_ids"] = list(dict.fromkeys(data["location_ids"] + kept))
            data.pop("organization_id")
            outcome = self.update_service(existing, data)
            service = existing
        if entity.capacity_updated is not None and outcome != "unchanged":
            service.capacity_updated_at = entity.capacity_updated
        return outcome

    def update(self, entity: Any, data: dict[str, Any], update: Any, id_name: str) -> str:
        changed = {k: v for k, v in data.items() if getattr(entity, k) != v}
        if not changed:
            return "unchanged"
        update(self.session, actor=self.actor, data=changed, **{id_name: entity.id})
        return "updated"

    def update_service(self, service: Service, data: dict[str, Any]) -> str:
        view = directory.view_service(Actor.system(), service, stale_before=directory.NEVER_STALE)
        now = {
            "name": view.name,
            "description": view.description,
            "status": view.status,
            "fees": view.fees,
            "hours": view.hours,
            "schedule": None
            if view.open_24_7 or view.schedule is None
            else sorted(view.schedule, key=schedules.week_order),
            "open_24_7": view.open_24_7,
            "eligibility": {k: view.eligibility[k] for k in ("age_min", "age_max", "notes")},
            "languages": view.languages,
            "capacity": _beds(view.capacity),
            "service_types": sorted(view.service_types),
            "coverage": sorted(view.coverage),
            "location_ids": sorted(view.location_ids),
            "source": service.source,
        }
        wanted = {
            **data,
            "service_types": sorted(data["service_types"]),
            "coverage": sorted(data["coverage"]),
            "location_ids": sorted(data["location_ids"]),
            "capacity": _beds(data["capacity"]),
        }
        changed = {k: data[k] for k, v in wanted.items() if now.get(k) != v}
        if not changed:
            return "unchanged"
        directory.update_service(
            self.session, actor=self.actor, service_id=service.id, data=changed
        )
        return "updated"


LOADERS: dict[str, Callable[[Loader, Entity], str]] = {
    "organization": Loader.organization,
    "location": Loader.location,
    "service": Loader.service,
}


def row_org(entity: Entity) -> Any:
    """The organization id of a service's row, as the package spells it."""
    return entity.row.values.get("organization_id")


def _refers_to(entity: Entity, blamed: set[uuid.UUID]) -> bool:
    """Whether the entity, or an entity it refers to, has a problem."""
    if entity.id in blamed:
        return True
    refs = {str(entity.data.get("organization_id"))}
    refs.update(str(i) for i in entity.data.get("location_ids", []))
    return bool(refs & {str(b) for b in blamed})


def _merge(first: dict[str, Any], again: dict[str, Any]) -> bool:
    """Merge a repeat of a nested JSON object into its first row; False on a conflict."""
    if any(first.get(k) is not None and v is not None and first[k] != v for k, v in again.items()):
        return False
    first.update({k: v for k, v in again.items() if first.get(k) is None})
    return True


def _beds(capacity: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if capacity is None:
        return None
    return {k: capacity.get(k) for k in ("beds_total", "beds_available")}


def _flat(errors: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """marshmallow's nested messages as (dotted path, message) pairs."""
    pairs: list[tuple[str, str]] = []
    for key, value in errors.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            pairs += _flat(value, path + ".")
        else:
            pairs += [(path, str(message)) for message in value]
    return pairs


def import_package(
    session: Session,
    *,
    actor: Actor,
    package: Package,
    check: Check,
    source: str,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Load a package all or nothing; raise ImportRefused naming every problem."""
    loader = Loader(session, actor=actor, check=check, source=source)
    tables = loader.index(package)
    org_ids = set(tables["organization"]) | _existing(session, Organization, tables, "location")
    orgs = loader.organizations(tables, set(tables["organization"]))
    site_ids = set(tables["location"]) | _existing(session, Location, tables, "service_at_location")
    sites = loader.locations(tables, set(tables["location"]), org_ids)
    org_ids |= _existing(session, Organization, tables, "service")
    services = loader.services(tables, org_ids, site_ids)
    entities = orgs + sites + services
    for entity in entities:
        loader.shape(entity)
    loader.known_regions(entities)
    report = ImportReport(dry_run=dry_run)
    savepoint = session.begin_nested()
    for done, entity in enumerate(entities, start=1):
        if not _refers_to(entity, loader.blamed):
            loader.load(entity, report)

        if progress is not None:
            progress(done, len(entities))
    if loader.problems or dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
    if loader.problems:
        raise ImportRefused(loader.problems)
    return report


def _existing(
    session: Session, model: Any, tables: dict[str, dict[uuid.UUID, Row]], table: str
) -> set[uuid.UUID]:
    """Ids of the rows a table refers to that the directory already holds."""
    key = {"location": "organization_id", "service": "organization_id"}.get(table, "location_id")
    wanted = set()
    for row in tables[table].values():
        try:
            wanted.add(uuid.UUID(str(row.values.get(key))))
        except ValueError:
            continue
    if not wanted:
        return set()
    return set(session.scalars(select(model.id).where(model.id.in_(wanted))))
