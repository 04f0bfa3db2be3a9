"""Open Referral HSDS 3.1 shapes: the list parameters and the `Page` envelope.

The HSDS objects themselves are built by `services/hsds/mapping.py` and checked against
the official schemas (and the profile's) by the conformance check, not re-described here.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from ..services.pagination import MAX_PER_PAGE
from ..vocabularies import SERVICE_STATUSES
from .common import Instant
from .directory import LocationCreateSchema, OrganizationCreateSchema, ServiceCreateSchema

HSDS_OBJECT = {"type": "object", "description": "An HSDS 3.1 object (see /api/hsds/schema)."}


class HsdsItemArgsSchema(Schema):
    full = fields.Boolean(load_default=True, metadata={"description": "Nested related objects."})


class HsdsTaxonomyArgsSchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PER_PAGE))
    search = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Words to look for in names and services' descriptions."},
    )
    taxonomy_id = fields.UUID(
        metadata={"description": "Only what is classified by a term of this taxonomy."}
    )
    format = fields.String(
        load_default="json",
        validate=validate.OneOf(("json", "ndjson")),
        metadata={"description": "`ndjson`: every result, one JSON object a line, no pages."},
    )


class HsdsQueryArgsSchema(HsdsTaxonomyArgsSchema):
    taxonomy_term_id = fields.UUID(
        metadata={"description": "A service type's term, or a pillar's (all its types)."}
    )
    organization_id = fields.UUID()
    modified_after = Instant(
        default_timezone=None,
        metadata={"description": "Only what changed at or after this time (RFC 3339)."},
    )
    minimal = fields.Boolean(
        load_default=False, metadata={"description": "Only id, name, status, last_modified."}
    )
    full = fields.Boolean(load_default=False, metadata={"description": "Fully nested objects."})


class HsdsObjectSchema(Schema):
    """Passes an HSDS object through unchanged."""

    class Meta:
        unknown = "include"

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        return obj


class HsdsPageSchema(Schema):
    """The HSDS `Page` envelope."""

    total_items = fields.Integer()
    total_pages = fields.Integer()
    page_number = fields.Integer()
    size = fields.Integer()
    first_page = fields.Boolean()
    last_page = fields.Boolean()
    empty = fields.Boolean()
    contents = fields.List(fields.Dict(metadata=HSDS_OBJECT))


class HsdsMetaSchema(Schema):
    version = fields.String(metadata={"example": "3.1"})
    profile = fields.String(metadata={"description": "URL of the profile's merge patches."})
    openapi_url = fields.String()
    description = fields.String()
    publisher = fields.Dict()
    schemas_url = fields.String()


class ServiceImportSchema(ServiceCreateSchema):
    status = fields.String(validate=validate.OneOf(SERVICE_STATUSES))


IMPORT_SCHEMAS: dict[str, Schema] = {
    "organization": OrganizationCreateSchema(),
    "location": LocationCreateSchema(),
    "service": ServiceImportSchema(),
}


def check_import(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """What the API's request schema finds wrong with an imported entity (hsds.loading)."""
    errors: dict[str, Any] = IMPORT_SCHEMAS[kind].validate(data)
    return errors


class ImportArgsSchema(Schema):
    dry_run = fields.Boolean(load_default=False, metadata={"description": "Check only."})
    source = fields.String(
        load_default="api",
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Recorded as the imported entries' source."},
    )


class ImportReportSchema(Schema):
    dry_run = fields.Boolean()
    changed = fields.Boolean(metadata={"description": "false: the import changed nothing."})
    created = fields.Dict(keys=fields.String(), values=fields.Integer())
    updated = fields.Dict(keys=fields.String(), values=fields.Integer())
    unchanged = fields.Dict(keys=fields.String(), values=fields.Integer())
