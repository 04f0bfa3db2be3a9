"""The public directory as an HSDS 3.1 tabular data package: CSV files and a
`datapackage.json`, checked by `frictionless`.

The rows are the read API's objects flattened (`mapping`), so the export publishes
exactly what the feed does and nothing confidential. The descriptor is the official
`datapackage.json` cut to the tables we fill, with two repairs and the profile's fields:
the 3.1 release left `service_capacity` with two of its columns and `unit` with none
(the columns here are the compiled 3.1 schema's), and its foreign keys may name only
tables the package has.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from . import mapping, profile, reads

# resource name -> file, in the order a loader reads them (referenced tables first).
TABLES = {
    "organization": "organizations.csv",
    "location": "locations.csv",
    "address": "addresses.csv",
    "phone": "phones.csv",
    "taxonomy": "taxonomies.csv",
    "taxonomy_term": "taxonomy_terms.csv",
    "unit": "units.csv",
    "service": "services.csv",
    "service_at_location": "service_at_location.csv",
    "service_area": "service_areas.csv",
    "language": "languages.csv",
    "service_capacity": "service_capacity.csv",
    "attribute": "attributes.csv",
    "schedule": "schedules.csv",
}


def _field(name: str, type_: str = "string", **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **extra}


_UUID = {"format": "uuid"}
REPAIRED_FIELDS = {
    "service_capacity": [
        _field("id", **_UUID, constraints={"required": True, "unique": True}),
        _field("service_id", **_UUID, constraints={"required": True}),
        _field("unit_id", **_UUID, constraints={"required": True}),
        _field("available", "number", constraints={"required": True}),
        _field("maximum", "number"),
        _field("description"),
        _field("updated", "datetime", constraints={"required": True}),
    ],
    "unit": [
        _field("id", **_UUID, constraints={"required": True, "unique": True}),
        _field("name", constraints={"required": True}),
        _field("scheme"),
        _field("identifier"),
        _field("uri", format="uri"),
    ],
}
_REGION = _field(
    "region_code",
    description="Profile: the Kemendagri region code.",
    constraints={"pattern": r"ID|[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?"},
)
PROFILE_FIELDS = {
    "organization": [
        _field("organization_type", description="Profile: the organization type."),
        {**_REGION, "description": "Profile: the home region's Kemendagri code."},
        _field("level", description="Profile: national, provincial, regency, international."),
    ],
    "service_area": [_REGION],
    "address": [_REGION],
    "taxonomy_term": [
        _field("name_en", description="Profile: the English name."),
        _field("description_en", description="Profile: the English description."),
    ],
}


# Required by HSDS but not kept by the directory: no postal codes at all, and for a site
# abroad no city or province. The profile lets these cells be empty.
OPTIONAL_IN_PROFILE = {"address": {"postal_code", "city", "state_province"}}


def _profiled(resource: str, field: dict[str, Any]) -> dict[str, Any]:
    if field["name"] not in OPTIONAL_IN_PROFILE.get(resource, set()):
        return field
    return {**field, "constraints": {**field.get("constraints", {}), "required": False}}


def descriptor(hsds_dir: Path) -> dict[str, Any]:
    """The package's `datapackage.json`: the official one, cut, repaired and profiled."""
    official = json.loads(
        (profile.require_folder(hsds_dir) / "datapackage.json").read_text(encoding="utf-8")
    )
    resources = []
    by_name = {r["name"]: r for r in official["resources"]}
    for name, path in TABLES.items():
        resource = {k: v for k, v in by_name[name].items() if k != "schema"}
        schema = dict(by_name[name]["schema"])
        fields: list[dict[str, Any]] = REPAIRED_FIELDS.get(name) or schema["fields"]
        fields = fields + PROFILE_FIELDS.get(name, [])
        schema["fields"] = [_profiled(name, field) for field in fields]
        schema["foreignKeys"] = [
            key for key in schema.get("foreignKeys", []) if key["reference"]["resource"] in TABLES
        ]
        resources.append({**resource, "path": path, "schema": schema})
    return {
        **{k: v for k, v in official.items() if k != "resources"},
        "name": "referral-api-hsds",
        "title": "referral-api directory (Open Referral HSDS 3.1, Indonesian profile)",
        "version": "3.1",
        "resources": resources,
    }


def tables(session: Session) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows, from the public feed, sorted by id."""
    records = reads.list_services(session, query=reads.Query(per_page=reads.EVERYTHING)).items
    orgs = reads.list_organizations(session, query=reads.Query(per_page=reads.EVERYTHING)).items
    sites = reads.public_sites(session)
    names = reads.region_names(session, mapping.region_codes(records) | reads.site_codes(sites))
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
    rows["organization"] = [mapping.organization(org) for org in orgs]
    for org in orgs:
        rows["phone"] += mapping.phones_of(org)
    for site in sites:
        location = mapping.location(site, names)
        rows["address"] += location.pop("addresses", None) or []
        rows["location"].append(location)
    rows["taxonomy"] = [mapping.taxonomy()]
    rows["taxonomy_term"] = mapping.taxonomy_terms()
    for record in records:
        full = mapping.service_full(record, names)
        for key, table in (
            ("service_areas", "service_area"),
            ("languages", "language"),
            ("schedules", "schedule"),
        ):
            rows[table] += full.get(key, [])
        rows["service_at_location"] += [
            {k: v for k, v in sal.items() if k != "location"}
            for sal in full["service_at_locations"]
        ]
        rows["attribute"] += [
            {k: v for k, v in a.items() if k != "taxonomy_term"} for a in full["attributes"]
        ]
        for capacity in full["capacities"]:
            rows["service_capacity"].append({**capacity, "unit_id": capacity["unit"]["id"]})
        rows["service"].append(mapping.service(record))
    rows["unit"] = [dict(mapping.BED_UNIT)] if rows["service_capacity"] else []
    return {name: sorted(items, key=lambda row: str(row["id"])) for name, items in rows.items()}


def _without(items: list[dict[str, Any]], nested: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in item.items() if k != nested} for item in items]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _csv(fields: list[str], rows: Iterable[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([_cell(row.get(field)) for field in fields])
    return out.getvalue()


@dataclass(frozen=True)
class ExportReport:
    path: Path
    rows: dict[str, int]


def export(session: Session, *, path: Path, hsds_dir: Path) -> ExportReport:
    """Write the package to `path`: a directory, or a `.zip` file."""
    package = descriptor(hsds_dir)
    rows = tables(session)
    files = {"datapackage.json": json.dumps(package, indent=2, ensure_ascii=False) + "\n"}
    for resource in package["resources"]:
        fields = [f["name"] for f in resource["schema"]["fields"]]
        files[resource["path"]] = _csv(fields, rows[resource["name"]])
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in files.items():
                archive.writestr(name, text)
    else:
        path.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (path / name).write_text(text, encoding="utf-8")
    return ExportReport(path, {name: len(items) for name, items in rows.items()})


def check_package(path: Path) -> list[str]:
    """What `frictionless` finds wrong with a package (a directory or a `.zip`)."""
    from frictionless import validate

    if path.suffix == ".zip":
        with tempfile.TemporaryDirectory() as folder, zipfile.ZipFile(path) as archive:
            archive.extractall(folder)
            return check_package(Path(folder))
    report = validate(str(path / "datapackage.json"))
    return [
        f"{task.name}: row {error.get_defined('row_number') or '-'}: {error.message}"
        for task in report.tasks
        for error in task.errors
    ] + [error.message for error in report.errors]
