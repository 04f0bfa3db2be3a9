"""Oversight shapes: report rows and audit events."""

from __future__ import annotations

import json

from marshmallow import Schema, fields, validate

from ..services.oversight import GROUPINGS
from .common import Instant, PageSchema, PaginationArgsSchema, Timestamp
from .directory import _region_code


class ReportQueryArgsSchema(Schema):
    region = fields.String(validate=[validate.Length(max=8), _region_code])
    from_ = Instant(
        data_key="from",
        attribute="date_from",
        metadata={"description": "For coordinators, moved back to the first of its month."},
    )
    to = Instant(
        attribute="date_to",
        metadata={"description": "For coordinators, moved on to the first of the next month."},
    )
    group_by = fields.String(load_default="service_type", validate=validate.OneOf(GROUPINGS))
    suppress = fields.Boolean(
        load_default=True,
        metadata={"description": "false (admins only, audited): publish small counts as they are."},
    )


class DurationSchema(Schema):
    count = fields.Integer(allow_none=True)
    median = fields.Float(allow_none=True)
    p90 = fields.Float(allow_none=True, metadata={"description": "Nearest-rank 90th percentile."})


class ReportRowSchema(Schema):
    key = fields.String(allow_none=True)
    label = fields.String(allow_none=True)
    suppressed = fields.Boolean(
        metadata={"description": "Some figure of the group is hidden (null) as too small."}
    )
    total = fields.Integer(
        allow_none=True, metadata={"description": "Referrals, entered-in-error excluded."}
    )
    entered_in_error = fields.Integer(allow_none=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(allow_none=True))
    acceptance_rate = fields.Float(allow_none=True)
    rejection_reasons = fields.Dict(keys=fields.String(), values=fields.Integer(allow_none=True))
    time_to_acknowledge_s = fields.Nested(DurationSchema)
    time_to_decide_s = fields.Nested(DurationSchema)
    time_to_start_s = fields.Nested(DurationSchema)
    time_to_complete_s = fields.Nested(DurationSchema)
    overdue = fields.Integer(allow_none=True)


class ReportSchema(Schema):
    group_by = fields.String()
    region = fields.String()
    from_ = Timestamp(data_key="from", attribute="date_from", allow_none=True)
    to = Timestamp(attribute="date_to", allow_none=True)
    min_cell = fields.Integer(
        allow_none=True,
        metadata={"description": "The smallest count published; null when not suppressed."},
    )
    generated_at = Timestamp()
    groups = fields.List(fields.Nested(ReportRowSchema))
    totals = fields.Nested(ReportRowSchema, metadata={"description": "Every group together."})


class AuditEventQueryArgsSchema(PaginationArgsSchema):
    entity_type = fields.String(validate=validate.Length(max=40))
    entity_id = fields.String(validate=validate.Length(max=64))
    actor = fields.UUID(attribute="principal_id")
    action = fields.String(validate=validate.Length(max=60))
    since = Instant()
    until = Instant()


class AuditEventSchema(Schema):
    seq = fields.Integer()
    occurred_at = fields.DateTime(format="iso")
    actor_principal_id = fields.UUID(allow_none=True)
    actor_organization_id = fields.UUID(allow_none=True)
    action = fields.String()
    entity_type = fields.String()
    entity_id = fields.String(allow_none=True)
    summary = fields.Function(lambda event: json.loads(event.summary), metadata={"type": "object"})
    prev_hash = fields.String()
    hash = fields.String()


class AuditEventPageSchema(PageSchema):
    items = fields.List(fields.Nested(AuditEventSchema))
