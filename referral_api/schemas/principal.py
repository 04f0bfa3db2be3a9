"""Principal and token shapes."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from .common import PageSchema, PaginationArgsSchema, Timestamp

ROLES = ("caseworker", "org_admin", "coordinator", "admin")


class OrganizationRefSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    type = fields.String()
    region_code = fields.String(allow_none=True)


class PrincipalSchema(Schema):
    """A principal (a person or integration holding a token); never the token."""

    id = fields.UUID()
    name = fields.String()
    role = fields.String()
    coverage_code = fields.String(allow_none=True)
    organization = fields.Nested(OrganizationRefSchema, allow_none=True)
    created_at = Timestamp()
    expires_at = Timestamp(allow_none=True)
    revoked_at = Timestamp(allow_none=True)
    last_used_at = Timestamp(allow_none=True)


class MeSchema(PrincipalSchema):
    """The caller: principal, organization, role and coverage."""


class TokenCreateSchema(Schema):
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    organization_id = fields.UUID(load_default=None, allow_none=True)
    coverage_code = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=8)
    )
    expires_days = fields.Float(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=0, max=3650, min_inclusive=False),
    )


class TokenCreatedSchema(Schema):
    principal = fields.Nested(PrincipalSchema)
    token = fields.String(metadata={"description": "Shown once; only its hash is stored."})


class TokenQueryArgsSchema(PaginationArgsSchema):
    organization_id = fields.UUID(load_default=None)
    include_revoked = fields.Boolean(load_default=False)


class PrincipalPageSchema(PageSchema):
    items = fields.List(fields.Nested(PrincipalSchema))
