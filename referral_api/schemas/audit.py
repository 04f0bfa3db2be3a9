"""Audit trail shapes."""

from __future__ import annotations

from marshmallow import Schema, fields


class AuditVerdictSchema(Schema):
    ok = fields.Boolean()
    checked = fields.Integer(metadata={"description": "Events verified."})
    broken_seq = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
