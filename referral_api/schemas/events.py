"""Change feed and webhook shapes."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..services.events import DEFAULT_FEED_LIMIT, MAX_FEED_LIMIT, SUBSCRIBABLE_TYPES
from ..services.webhooks.addresses import MAX_URL_LENGTH
from .common import PageSchema, PaginationArgsSchema, Timestamp

TYPES_DESCRIPTION = "Event types: " + ", ".join(SUBSCRIBABLE_TYPES) + "."


class EventQueryArgsSchema(Schema):
    after = fields.String(
        load_default=None,
        validate=validate.Length(max=20),
        metadata={"description": "A cursor from this feed (`next_cursor`); omit to start."},
    )
    limit = fields.Integer(
        load_default=DEFAULT_FEED_LIMIT, validate=validate.Range(min=1, max=MAX_FEED_LIMIT)
    )
    types = fields.List(
        # One type, or several comma-separated.
        fields.String(
            validate=[
                validate.Length(min=1, max=400),
                validate.Regexp(r"^[a-z_.]+(,[a-z_.]+)*$", error="Event types, comma-separated."),
            ]
        ),
        load_default=None,
        validate=validate.Length(max=len(SUBSCRIBABLE_TYPES)),
        metadata={"description": TYPES_DESCRIPTION + " Comma-separated or repeated."},
    )


class EventSchema(Schema):
    cursor = fields.String(metadata={"description": "Position in commit order."})
    id = fields.UUID(metadata={"description": "Stable event id (the webhook-id)."})
    type = fields.String()
    occurred_at = Timestamp()
    data = fields.Dict(metadata={"description": "Ids, statuses, versions; no personal data."})


class EventFeedSchema(Schema):
    items = fields.List(fields.Nested(EventSchema))
    next_cursor = fields.String(
        metadata={"description": "Pass as `after` for the next page (also when it is empty)."}
    )


class WebhookCreateSchema(Schema):
    url = fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_URL_LENGTH),
        metadata={"description": "https:// endpoint on the public internet."},
    )
    event_types = fields.List(
        fields.String(validate=validate.Length(min=1, max=40)),
        load_default=list,
        validate=validate.Length(max=len(SUBSCRIBABLE_TYPES)),
        metadata={"description": TYPES_DESCRIPTION + " Empty: every type."},
    )
    description = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=500)
    )


class WebhookSchema(Schema):
    """A webhook subscription; never its secret."""

    id = fields.UUID()
    url = fields.String()
    description = fields.String(allow_none=True)
    event_types = fields.List(fields.String())
    status = fields.String(metadata={"description": "active | disabled"})
    disabled_reason = fields.String(allow_none=True)
    disabled_at = Timestamp(allow_none=True)
    owner_organization_id = fields.UUID(allow_none=True)
    owner_principal_id = fields.UUID(allow_none=True)
    last_number = fields.Integer(metadata={"description": "The last delivery number given."})
    previous_secret_expires_at = Timestamp(
        allow_none=True,
        metadata={"description": "Until when the previous secret also signs (after rotation)."},
    )
    created_at = Timestamp()
    updated_at = Timestamp()


class WebhookCreatedSchema(WebhookSchema):
    secret = fields.String(
        metadata={"description": "`whsec_…`, shown only in this response: store it now."}
    )


class WebhookPageSchema(PageSchema):
    items = fields.List(fields.Nested(WebhookSchema))


class WebhookAttemptSchema(Schema):
    attempted_at = Timestamp()
    status_code = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    duration_ms = fields.Float()
    next_retry_at = Timestamp(allow_none=True)


class WebhookDeliverySchema(Schema):
    number = fields.Integer()
    event_id = fields.UUID()
    type = fields.String()
    status = fields.String(metadata={"description": "pending | delivered | failed"})
    next_attempt_at = Timestamp(allow_none=True)
    delivered_at = Timestamp(allow_none=True)
    attempts = fields.List(fields.Nested(WebhookAttemptSchema))


class WebhookDeliveryPageSchema(PageSchema):
    items = fields.List(fields.Nested(WebhookDeliverySchema))


class WebhookDeliveryQueryArgsSchema(PaginationArgsSchema):
    pass


class WebhookQueryArgsSchema(PaginationArgsSchema):
    pass


class RedeliverSchema(Schema):
    from_number = fields.Integer(required=True, validate=validate.Range(min=1))
    to_number = fields.Integer(required=True, validate=validate.Range(min=1))


class RedeliveredSchema(Schema):
    queued = fields.Integer(metadata={"description": "How many deliveries will be sent again."})


class WebhookTestSentSchema(Schema):
    event_id = fields.UUID()
