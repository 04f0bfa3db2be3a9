"""Audit trail shapes."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class AuditVerdictSchema(Schema):
    ok = fields.Boolean()
    checked = fields.Integer(metadata={"description": "Events verified."})
    broken_seq = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)


class CheckpointVerifySchema(Schema):
    checkpoint = fields.String(
        required=True,
        validate=validate.Length(min=1, max=4096),
        metadata={"description": "A signed note from GET /audit/checkpoint, as it was served."},
    )
