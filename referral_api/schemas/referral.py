"""Referral, case and transition shapes."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..models.referral import REFERRAL_STATUSES
from ..services.referrals.offers import MAX_TARGETS, MIN_TARGETS
from ..vocabularies import (
    CASE_OUTCOMES,
    CONSENT_BASES,
    CONSENT_METHODS,
    EXPLOITATION_TYPES,
    GENDERS,
    REFERRAL_KINDS,
    RISK_LEVELS,
    SERVICE_TYPE_CODES,
    STATUS_REASONS,
    WORKER_ROLES,
)
from .common import MAX_CODES, Instant, PageSchema, PaginationArgsSchema, Timestamp
from .directory import _codes, _country, _language


class ClientProfileSchema(Schema):
    """The client profile: encrypted at rest, shown only to parties of the case."""

    alias = fields.String(
        allow_none=True,
        validate=validate.Length(min=1, max=60),
        metadata={
            "description": "A name the client goes by. Give `alias` or `initials` "
            "(at least one; never a full name)."
        },
    )
    initials = fields.String(
        allow_none=True,
        validate=validate.Length(min=1, max=10),
        metadata={"description": "Give `alias` or `initials` (at least one)."},
    )
    age = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=0, max=130),
        metadata={
            "description": "Give `age` or `birth_year` (at least one). A client under "
            "18, or who may be (born 18 or fewer years ago), needs a consent `basis` of "
            "guardian_consent, legal_obligation or vital_interest."
        },
    )
    birth_year = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=1900, max=2100),
        metadata={"description": "Give `age` or `birth_year` (at least one)."},
    )
    gender = fields.String(required=True, validate=validate.OneOf(GENDERS))
    nationality = fields.String(allow_none=True, validate=[validate.Length(max=2), *_country])
    languages = fields.List(
        fields.String(validate=[validate.Length(max=3), *_language]),
        load_default=list,
        validate=validate.Length(max=MAX_CODES),
    )
    disabilities = fields.List(
        fields.String(validate=validate.Length(max=100)),
        load_default=list,
        validate=validate.Length(max=MAX_CODES),
    )
    exploitation_types = fields.List(
        fields.String(validate=validate.OneOf(EXPLOITATION_TYPES)),
        load_default=list,
        validate=validate.Length(max=MAX_CODES),
    )
    needs = fields.List(
        fields.String(validate=_codes(SERVICE_TYPE_CODES, "service type")),
        load_default=list,
        validate=validate.Length(max=MAX_CODES),
    )

    @validates_schema
    def _identity_and_age(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("alias") and not data.get("initials"):
            raise ValidationError("Give an alias or initials (never a full name).", "alias")
        if data.get("age") is None and data.get("birth_year") is None:
            raise ValidationError(
                "Give the age or the birth year: consent rules depend on it.", "age"
            )


class NewCaseSchema(Schema):
    reference = fields.String(validate=validate.Length(max=100), allow_none=True)
    client = fields.Nested(ClientProfileSchema, required=True)


class ConsentSchema(Schema):
    basis = fields.String(
        required=True,
        validate=validate.OneOf(CONSENT_BASES),
        metadata={
            "description": "For a client under 18 (or who may be): guardian_consent, "
            "legal_obligation or vital_interest; vital_interest needs a `justification`."
        },
    )
    obtained_by = fields.String(required=True, validate=validate.Length(min=1, max=200))
    obtained_at = Instant(required=True, metadata={"description": "Not in the future."})
    method = fields.String(required=True, validate=validate.OneOf(CONSENT_METHODS))
    scope = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    justification = fields.String(
        allow_none=True,
        validate=validate.Length(max=2000),
        metadata={"description": "Required (not blank) when the basis is vital_interest."},
    )
    expires_at = Instant(
        allow_none=True,
        metadata={"description": "When the consent ends: receivers lose the client profile."},
    )


class ConsentRecordSchema(Schema):
    """The consent as recorded with the referral (`required`: always present)."""

    basis = fields.String(required=True, validate=validate.OneOf(CONSENT_BASES))
    obtained_by = fields.String(required=True)
    obtained_at = fields.String(required=True, metadata={"format": "date-time"})
    method = fields.String(required=True, validate=validate.OneOf(CONSENT_METHODS))
    scope = fields.String(required=True)
    justification = fields.String(allow_none=True)
    expires_at = fields.String(allow_none=True, metadata={"format": "date-time"})


class ReferralCreateSchema(Schema):
    case_id = fields.UUID(
        allow_none=True,
        metadata={
            "description": "Exactly one of `case_id` (an existing case your "
            "organization may refer) or `case` (a new one)."
        },
    )
    case = fields.Nested(
        NewCaseSchema,
        allow_none=True,
        metadata={"description": "A new case; exactly one of `case_id` or `case`."},
    )
    parent_referral_id = fields.UUID(
        allow_none=True,
        metadata={"description": "The referral this one follows on from (same case)."},
    )
    kind = fields.String(
        load_default="referral",
        validate=validate.OneOf(REFERRAL_KINDS),
        metadata={
            "description": "`transfer` hands the case over: only its owner, or a "
            "receiver whose referral in it is accepted and not ended, may send one."
        },
    )
    to_organization_id = fields.UUID(required=True)
    to_service_id = fields.UUID(allow_none=True)
    service_type = fields.String(required=True, validate=_codes(SERVICE_TYPE_CODES, "service type"))
    risk_level = fields.String(required=True, validate=validate.OneOf(RISK_LEVELS))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    worker_role = fields.String(required=True, validate=validate.OneOf(WORKER_ROLES))
    consent = fields.Nested(ConsentSchema, required=True)
    capacity_override = fields.String(allow_none=True, validate=validate.Length(max=2000))


class ReferralOfferCreateSchema(ReferralCreateSchema):
    """A referral-create body sent to 2-5 services at once (of different organizations)."""

    class Meta:
        exclude = ("to_organization_id", "to_service_id")

    to_service_ids = fields.List(
        fields.UUID(),
        required=True,
        validate=validate.Length(min=MIN_TARGETS, max=MAX_TARGETS),
        metadata={"description": "The services asked, of different organizations."},
    )
    expires_in_minutes = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=5, max=7 * 24 * 60),
        metadata={
            "description": "Unaccepted by then, the offer's referrals are cancelled (expired). "
            "Default: 120 for high risk, 360 medium, 1440 low."
        },
    )


class ReferralSchema(Schema):
    id = fields.UUID()
    case_id = fields.UUID()
    parent_referral_id = fields.UUID(allow_none=True)
    offer_id = fields.UUID(
        allow_none=True, metadata={"description": "The shelter offer it was sent in."}
    )
    kind = fields.String()
    from_organization_id = fields.UUID()
    from_principal_id = fields.UUID()
    to_organization_id = fields.UUID()
    to_service_id = fields.UUID(allow_none=True)
    service_type = fields.String()
    risk_level = fields.String()
    reason = fields.String()
    worker_role = fields.String()
    consent = fields.Nested(ConsentRecordSchema)
    capacity_override = fields.String(allow_none=True)
    status = fields.String()
    status_reason = fields.String(allow_none=True)
    status_note = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    created_at = Timestamp()
    updated_at = Timestamp()
    ack_due_at = Timestamp()
    start_due_at = Timestamp(allow_none=True)
    acknowledged_at = Timestamp(allow_none=True)
    decided_at = Timestamp(allow_none=True)
    started_at = Timestamp(allow_none=True)
    completed_at = Timestamp(allow_none=True)
    overdue = fields.Boolean()
    overdue_reasons = fields.List(
        fields.String(), metadata={"description": "Deadlines passed unmet: acknowledge, start."}
    )
    overdue_since = Timestamp(allow_none=True)
    overdue_by_s = fields.Integer(allow_none=True, metadata={"description": "Seconds overdue."})
    must_act_organization_id = fields.UUID(
        allow_none=True, metadata={"description": "Who must act on an overdue referral."}
    )
    version = fields.Integer(metadata={"description": "Also the ETag; send it as If-Match."})


class ReferralOfferSchema(Schema):
    offer_id = fields.UUID()
    expires_at = Timestamp()
    referrals = fields.List(fields.Nested(ReferralSchema))


class SenderSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    type = fields.String()


class ClientSummarySchema(Schema):
    """De-identified: no alias, initials, age, birth year, nationality or history."""

    referral_id = fields.UUID()
    offer_id = fields.UUID(allow_none=True)
    service_type = fields.String()
    risk_level = fields.String()
    age_band = fields.String(metadata={"description": "0-5, 6-11, 12-17, 18-24, 25-59, 60+"})
    gender = fields.String()
    needs = fields.List(fields.String())
    languages = fields.List(fields.String())
    from_organization = fields.Nested(SenderSchema)


class TransitionSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(REFERRAL_STATUSES))
    reason = fields.String(allow_none=True, validate=validate.OneOf(STATUS_REASONS))
    note = fields.String(allow_none=True, validate=validate.Length(max=4000))
    outcome = fields.String(allow_none=True, validate=validate.Length(max=4000))


class ReferralQueryArgsSchema(PaginationArgsSchema):
    direction = fields.String(validate=validate.OneOf(("incoming", "outgoing")))
    status = fields.List(
        fields.String(validate=validate.OneOf(REFERRAL_STATUSES)),
        validate=validate.Length(max=len(REFERRAL_STATUSES)),
    )
    service_type = fields.String(validate=_codes(SERVICE_TYPE_CODES, "service type"))
    risk_level = fields.String(validate=validate.OneOf(RISK_LEVELS))
    overdue = fields.Boolean()
    case_id = fields.UUID()


class ReferralPageSchema(PageSchema):
    items = fields.List(fields.Nested(ReferralSchema))


class ReferralEventSchema(Schema):
    id = fields.UUID()
    referral_id = fields.UUID()
    version = fields.Integer()
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    occurred_at = Timestamp()
    principal_id = fields.UUID()
    organization_id = fields.UUID()
    role = fields.String(
        metadata={
            "description": "sender or receiver; owner: cancelled by the case's owner on "
            "consent withdrawal or case closure"
        }
    )
    reason = fields.String(allow_none=True)
    note = fields.String(allow_none=True)


class ReferralEventListSchema(Schema):
    items = fields.List(fields.Nested(ReferralEventSchema))


class CaseSchema(Schema):
    id = fields.UUID()
    reference = fields.String(allow_none=True)
    owner_organization_id = fields.UUID()
    status = fields.String(metadata={"description": "open or closed"})
    created_at = Timestamp()
    closed_at = Timestamp(allow_none=True)
    closed_outcome = fields.String(allow_none=True)
    client = fields.Nested(ClientProfileSchema, allow_none=True)


class WithdrawalScope(fields.Field[Any]):
    """`"all"`, or the ids of the organizations (1 to 50) consent is withdrawn from."""

    def _deserialize(self, value, attr, data, **kwargs):  # type: ignore[no-untyped-def]
        if value == "all":
            return value
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_CODES:
            raise ValidationError(f'Give "all" or a list of 1 to {MAX_CODES} organization ids.')
        return [fields.UUID().deserialize(item) for item in value]


class ConsentWithdrawalSchema(Schema):
    scope = WithdrawalScope(
        required=True,
        metadata={
            "oneOf": [
                {"type": "string", "enum": ["all"]},
                {
                    "type": "array",
                    "items": {"type": "string", "format": "uuid"},
                    "minItems": 1,
                    "maxItems": MAX_CODES,
                },
            ],
            "description": 'Whom the client withdraws consent from: "all" but the owner, '
            "or these organizations.",
        },
    )
    note = fields.String(allow_none=True, validate=validate.Length(max=2000))


class ConsentWithdrawalResultSchema(Schema):
    case_id = fields.UUID()
    withdrawn_at = Timestamp()
    organization_ids = fields.List(
        fields.UUID(), allow_none=True, metadata={"description": "null: every organization"}
    )
    cancelled_referral_ids = fields.List(fields.UUID())


class CaseCloseSchema(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(CASE_OUTCOMES))
    note = fields.String(allow_none=True, validate=validate.Length(max=2000))
    cancel_open = fields.Boolean(
        load_default=False,
        metadata={"description": "Cancel open referrals (case_closed) instead of refusing."},
    )


class CaseClosureSchema(Schema):
    case_id = fields.UUID()
    status = fields.String()
    closed_at = Timestamp()
    outcome = fields.String()
    cancelled_referral_ids = fields.List(fields.UUID())


class OrganizationNameSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    type = fields.String()


class TimingsSchema(Schema):
    to_acknowledge_s = fields.Float(allow_none=True)
    to_decide_s = fields.Float(allow_none=True)
    to_start_s = fields.Float(allow_none=True)
    to_complete_s = fields.Float(allow_none=True)


class HopSchema(Schema):
    id = fields.UUID(attribute="referral.id")
    parent_referral_id = fields.UUID(attribute="referral.parent_referral_id", allow_none=True)
    kind = fields.String(attribute="referral.kind")
    from_organization = fields.Nested(OrganizationNameSchema)
    to_organization = fields.Nested(OrganizationNameSchema)
    service_type = fields.String(attribute="referral.service_type")
    risk_level = fields.String(attribute="referral.risk_level")
    worker_role = fields.String(attribute="referral.worker_role")
    status = fields.String(attribute="referral.status")
    status_reason = fields.String(attribute="referral.status_reason", allow_none=True)
    created_at = Timestamp(attribute="referral.created_at")
    timings = fields.Nested(TimingsSchema, metadata={"description": "Seconds since created."})
    overdue_reasons = fields.List(fields.String())
    gaps = fields.List(
        fields.String(),
        metadata={
            "description": "rejected_without_onward_referral, transfer_not_accepted_by_deadline"
        },
    )
    children = fields.List(fields.Nested(lambda: HopSchema()))


class ChainSchema(Schema):
    case_id = fields.UUID(attribute="case.id")
    owner_organization_id = fields.UUID(attribute="case.owner_organization_id")
    roots = fields.List(fields.Nested(HopSchema))
    gaps = fields.List(
        fields.String(), metadata={"description": "no_open_referral_and_no_completion"}
    )


class ConsentWithdrawalRecordSchema(Schema):
    organization_id = fields.UUID(allow_none=True, metadata={"description": "null: all"})
    withdrawn_at = Timestamp()
    principal_id = fields.UUID(allow_none=True)
    note = fields.String(allow_none=True)


class ExportedReferralSchema(Schema):
    referral = fields.Nested(ReferralSchema, metadata={"description": "With its consent."})
    events = fields.List(fields.Nested(ReferralEventSchema))


class ProfileAccessSchema(Schema):
    action = fields.String(
        metadata={"description": "case.read_client, case.read_client_denied, case.subject_export"}
    )
    occurred_at = Timestamp()
    principal_id = fields.UUID(allow_none=True)
    principal_name = fields.String(allow_none=True)
    organization_id = fields.UUID(allow_none=True)
    organization_name = fields.String(allow_none=True)


class ExportedCaseSchema(Schema):
    id = fields.UUID()
    reference = fields.String(allow_none=True)
    owner_organization_id = fields.UUID()
    status = fields.String()
    created_at = Timestamp()
    closed_at = Timestamp(allow_none=True)
    closed_outcome = fields.String(allow_none=True)


class SubjectExportSchema(Schema):
    case = fields.Nested(ExportedCaseSchema)
    client = fields.Nested(ClientProfileSchema)
    referrals = fields.List(fields.Nested(ExportedReferralSchema))
    consent_withdrawals = fields.List(fields.Nested(ConsentWithdrawalRecordSchema))
    profile_accesses = fields.List(fields.Nested(ProfileAccessSchema))
    exported_at = Timestamp()
