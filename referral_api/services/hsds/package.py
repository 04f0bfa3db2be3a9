"""Reading an HSDS package into rows that remember where they came from.

A tabular data package (a directory or a `.zip` of CSV files) gives each table's rows
numbered as a spreadsheet shows them (the header is row 1). The JSON forms (a list of
objects, an HSDS `Page`, one object, or `ndjson`) of services and organizations, nested
as the read API nests them, are flattened into the same tables, each row named by its
JSON path. Only the tables the directory can hold are read; any other file is ignored.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import ValidationFailed
from .export import TABLES

FILES = {path: name for name, path in TABLES.items()}
# nested key in a JSON object -> (table, foreign key the nesting implies)
NESTED = {
    "organization": {
        "phones": ("phone", "organization_id"),
        "locations": ("location", "organization_id"),
        "services": ("service", "organization_id"),
    },
    "location": {"addresses": ("address", "location_id")},
    "service": {
        "service_areas": ("service_area", "service_id"),
        "languages": ("language", "service_id"),
        "capacities": ("service_capacity", "service_id"),
        "attributes": ("attribute", "link_id"),
        "schedules": ("schedule", "service_id"),
        "service_at_locations": ("service_at_location", "service_id"),
        "organization": ("organization", ""),
    },
    "service_at_location": {"location": ("location", "")},
    "service_capacity": {"unit": ("unit", "")},
    "attribute": {"taxonomy_term": ("taxonomy_term", "")},
}
LINKS = {
    "unit": "unit_id",
    "taxonomy_term": "taxonomy_term_id",
    "organization": "organization_id",
    "location": "location_id",
}


@dataclass(frozen=True)
class Row:
    table: str
    file: str
    where: str  # "row 7" or a JSON path
    values: dict[str, Any]


@dataclass
class Package:
    rows: dict[str, list[Row]] = field(default_factory=lambda: {name: [] for name in TABLES})

    def add(self, row: Row) -> None:
        self.rows[row.table].append(row)

    @property
    def size(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


def read(path: Path) -> Package:
    """Read a package from a directory, a `.zip`, or a JSON / ndjson file."""
    if path.is_dir():
        return from_files({p.name: p.read_bytes() for p in path.iterdir() if p.name in FILES})
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if Path(n).name in FILES]
            return from_files({Path(n).name: archive.read(n) for n in names})
    if path.is_file():
        return from_json(path.name, path.read_text(encoding="utf-8"))
    raise ValidationFailed({"path": f"No such file or directory: {path}."})


def from_files(files: dict[str, bytes]) -> Package:
    package = Package()
    if not files:
        raise ValidationFailed({"path": "No HSDS table (services.csv, organizations.csv …)."})
    for name, data in sorted(files.items()):
        text = data.decode("utf-8-sig")
        for number, values in enumerate(csv.DictReader(io.StringIO(text)), start=2):
            cells = {k: (v if v != "" else None) for k, v in values.items() if k is not None}
            package.add(Row(FILES[name], name, f"row {number}", cells))
    return package


def from_json(name: str, text: str) -> Package:
    """Flatten the JSON forms of services or organizations into tables."""
    documents: Any
    try:
        if name.endswith(".ndjson"):
            documents = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            documents = json.loads(text)
    except ValueError as error:
        raise ValidationFailed({name: f"Not JSON: {error}."}) from None
    if isinstance(documents, dict):
        documents = documents.get("contents", [documents])
    if not isinstance(documents, list):
        raise ValidationFailed({name: "Give a list of objects, an HSDS Page, or one object."})
    package = Package()
    for index, document in enumerate(documents):
        table = (
            "organization"
            if isinstance(document, dict) and _is_organization(document)
            else ("service")
        )
        _flatten(package, name, f"$[{index}]", table, document, {})
    return package


def _is_organization(document: dict[str, Any]) -> bool:
    return "status" not in document and "organization_id" not in document


def _flatten(
    package: Package, file: str, where: str, table: str, obj: Any, implied: dict[str, Any]
) -> None:
    if not isinstance(obj, dict):
        package.add(Row(table, file, where, {"id": None, "_not_an_object": True}))
        return
    nested = NESTED.get(table, {})
    values = {k: v for k, v in obj.items() if k not in nested}
    for key, value in implied.items():
        values.setdefault(key, value)
    # A nested object named by one id field (a capacity's unit, an attribute's term, a
    # service's organization, a pair's location) is linked by that field if it is not given.
    for key, id_field in LINKS.items():
        child = obj.get(key)
        if key in nested and isinstance(child, dict):
            values.setdefault(id_field, child.get("id"))
    package.add(Row(table, file, where, values))
    for key, (child_table, foreign_key) in nested.items():
        children = obj.get(key)
        if children is None:
            continue
        implied_child = {foreign_key: obj.get("id")} if foreign_key else {}
        if isinstance(children, list):
            for i, item in enumerate(children):
                _flatten(package, file, f"{where}.{key}[{i}]", child_table, item, implied_child)
        else:
            _flatten(package, file, f"{where}.{key}", child_table, children, implied_child)
