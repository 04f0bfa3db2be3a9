"""Shapes shared by every resource."""

from __future__ import annotations

from datetime import UTC

from marshmallow import Schema, ValidationError, fields, validate

from ..services.pagination import MAX_PER_PAGE

# The most items a request's list may carry (documented as maxItems).
MAX_CODES = 30  # codes of one kind: languages, service types, genders, needs ...
MAX_NAMES = 20  # aliases, phone numbers, hotlines
MAX_COVERAGE = 600  # region codes a service covers: every province and regency fits
MAX_LOCATIONS = 200  # sites a service is given at


class ProblemSchema(Schema):
    """An RFC 9457 problem document."""

    # Always present (`required` here states what a response always carries).
    type = fields.String(
        required=True, metadata={"example": "urn:referral-api:problem:validation-error"}
    )
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Field (dotted path) -> messages, for validation errors."},
    )
    allowed = fields.List(
        fields.String(), metadata={"description": "Allowed next statuses, for a 409 transition."}
    )


class StrictBoolean(fields.Boolean):
    """JSON `true` or `false` only: not 0, 1, "yes" (a safe house's `confidential` flag
    is never guessed from a number or a word)."""

    def _deserialize(self, value, attr, data, **kwargs):  # type: ignore[no-untyped-def]
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class Timestamp(fields.DateTime):
    """RFC 3339 UTC with a `Z`, as partners expect: 2026-01-31T08:15:00Z."""

    def _serialize(self, value, attr, obj, **kwargs):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Instant(fields.AwareDateTime):
    """An RFC 3339 time with an offset, normalised to UTC, between 1900 and 2999."""

    def _deserialize(self, value, attr, data, **kwargs):  # type: ignore[no-untyped-def]
        parsed = super()._deserialize(value, attr, data, **kwargs)
        try:
            in_utc = parsed.astimezone(UTC)
        except OverflowError:
            raise ValidationError("Not a representable time.") from None
        if not 1900 <= in_utc.year <= 2999:
            raise ValidationError("Must lie between the years 1900 and 2999.")
        return in_utc


class PaginationArgsSchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class PageSchema(Schema):
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
