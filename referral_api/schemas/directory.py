"""Directory shapes: regions, vocabularies, organizations, locations, services."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pycountry
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..services.hours import DAYS
from ..vocabularies import (
    DECLARED_CAPACITY_STATUSES,
    GENDERS,
    ORGANIZATION_LEVELS,
    ORGANIZATION_STATUSES,
    ORGANIZATION_TYPE_CODES,
    REGION_LEVELS,
    SERVICE_STATUSES,
    SERVICE_TYPE_CODES,
)
from .common import (
    MAX_CODES,
    MAX_COVERAGE,
    MAX_LOCATIONS,
    MAX_NAMES,
    Instant,
    PageSchema,
    PaginationArgsSchema,
    StrictBoolean,
    Timestamp,
)

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# National short codes (129, 148, 110) or a full E.164 number.
HOTLINE = re.compile(r"^(\d{3,8}|\+[1-9]\d{6,14})$")
REGION_CODE = re.compile(r"^(ID|\d{2}(\.\d{2}(\.\d{2})?)?)$")


# Validators that are patterns, so openapi.yaml states them.
_e164 = validate.Regexp(E164, error="Not an E.164 phone number (e.g. +62380833300).")
_hotline = validate.Regexp(
    HOTLINE, error="Not a short hotline code (3-8 digits) or an E.164 number."
)
_region_code = validate.Regexp(
    REGION_CODE, error="Not a Kemendagri region code (e.g. 53, 53.71, 53.71.01) or ID."
)
COUNTRY_ERROR = "Not an ISO 3166-1 alpha-2 country code (e.g. ID, MY)."
LANGUAGE_ERROR = "Not an ISO 639 language code (e.g. id, en, jv, bjn)."


def _known_country(value: str) -> None:
    if pycountry.countries.get(alpha_2=value) is None:
        raise ValidationError(COUNTRY_ERROR)


def _known_language(value: str) -> None:
    known = (len(value) == 2 and pycountry.languages.get(alpha_2=value)) or (
        len(value) == 3 and pycountry.languages.get(alpha_3=value)
    )
    if not known:
        raise ValidationError(LANGUAGE_ERROR)


# The shape as a pattern (stated in openapi.yaml), then the code looked up.
_country: list[Callable[[str], Any]] = [
    validate.Regexp(r"^[A-Z]{2}$", error=COUNTRY_ERROR),
    _known_country,
]
_language: list[Callable[[str], Any]] = [
    validate.Regexp(r"^[a-z]{2,3}$", error=LANGUAGE_ERROR),
    _known_language,
]


def _codes(allowed: frozenset[str] | tuple[str, ...], what: str) -> validate.Validator:
    return validate.OneOf(sorted(allowed), error=f"Unknown {what} {{input}}.")


RegionCode = fields.String(validate=[validate.Length(max=8), _region_code])


# -- regions and vocabularies -------------------------------------------------------------


class RegionSchema(Schema):
    code = fields.String()
    name = fields.String()
    level = fields.String()
    parent_code = fields.String(allow_none=True)
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    centroid_source = fields.String(allow_none=True)


class CentroidSchema(Schema):
    latitude = fields.Float()
    longitude = fields.Float()
    level = fields.String(
        metadata={
            "description": "Whose centroid: the region's own level, "
            "or an ancestor's when the region has none."
        }
    )
    code = fields.String()


class RegionDetailSchema(RegionSchema):
    ancestors = fields.List(fields.Nested(RegionSchema))
    centroid = fields.Nested(CentroidSchema, allow_none=True)


class RegionQueryArgsSchema(PaginationArgsSchema):
    level = fields.String(validate=validate.OneOf(REGION_LEVELS))
    parent = fields.String(validate=[validate.Length(max=8), _region_code])
    q = fields.String(validate=validate.Length(min=1, max=100))


class RegionPageSchema(PageSchema):
    items = fields.List(fields.Nested(RegionSchema))


class ServiceTypeSchema(Schema):
    code = fields.String()
    pillar = fields.String()
    label_id = fields.String()
    label_en = fields.String()
    description_id = fields.String()
    description_en = fields.String()


class OrganizationTypeSchema(Schema):
    code = fields.String()
    label_id = fields.String()
    label_en = fields.String()
    description_id = fields.String()
    description_en = fields.String()


class ServiceTypeListSchema(Schema):
    items = fields.List(fields.Nested(ServiceTypeSchema))


class OrganizationTypeListSchema(Schema):
    items = fields.List(fields.Nested(OrganizationTypeSchema))


# -- organizations ------------------------------------------------------------------------


class OrganizationCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=300))
    aliases = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)),
        validate=validate.Length(max=MAX_NAMES),
    )
    type = fields.String(required=True, validate=_codes(ORGANIZATION_TYPE_CODES, "type"))
    level = fields.String(validate=validate.OneOf(ORGANIZATION_LEVELS), allow_none=True)
    region_code = fields.String(validate=[validate.Length(max=8), _region_code], allow_none=True)
    description = fields.String(allow_none=True, validate=validate.Length(max=5000))
    website = fields.Url(
        allow_none=True, schemes={"http", "https"}, validate=validate.Length(max=2000)
    )
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    phones = fields.List(
        fields.String(validate=[validate.Length(max=16), _e164]),
        validate=validate.Length(max=MAX_NAMES),
    )
    hotlines = fields.List(
        fields.String(validate=[validate.Length(max=16), _hotline]),
        validate=validate.Length(max=MAX_NAMES),
    )
    languages = fields.List(
        fields.String(validate=[validate.Length(max=3), *_language]),
        validate=validate.Length(max=MAX_CODES),
    )


class OrganizationUpdateSchema(OrganizationCreateSchema):
    status = fields.String(validate=validate.OneOf(ORGANIZATION_STATUSES))


class OrganizationSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    aliases = fields.List(fields.String())
    type = fields.String()
    level = fields.String(allow_none=True)
    region_code = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    website = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    phones = fields.List(fields.String())
    hotlines = fields.List(fields.String())
    languages = fields.List(fields.String())
    status = fields.String()
    demo = fields.Boolean(metadata={"description": "Demo data: verify before operational use."})
    verified_at = Timestamp(allow_none=True)
    verified_by = fields.UUID(allow_none=True)
    created_at = Timestamp()
    updated_at = Timestamp()


class OrganizationQueryArgsSchema(PaginationArgsSchema):
    type = fields.String(validate=_codes(ORGANIZATION_TYPE_CODES, "type"))
    region = fields.String(validate=[validate.Length(max=8), _region_code])
    status = fields.String(load_default="active", validate=validate.OneOf(ORGANIZATION_STATUSES))
    verified_since = Instant(default_timezone=None)
    q = fields.String(validate=validate.Length(min=1, max=100))


class OrganizationPageSchema(PageSchema):
    items = fields.List(fields.Nested(OrganizationSchema))


# -- locations ----------------------------------------------------------------------------


class LocationCreateSchema(Schema):
    organization_id = fields.UUID(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=300))
    address = fields.String(allow_none=True, validate=validate.Length(max=1000))
    region_code = fields.String(validate=[validate.Length(max=8), _region_code], allow_none=True)
    country = fields.String(load_default="ID", validate=[validate.Length(max=2), *_country])
    latitude = fields.Float(
        allow_none=True, allow_nan=False, validate=validate.Range(min=-90, max=90)
    )
    longitude = fields.Float(
        allow_none=True, allow_nan=False, validate=validate.Range(min=-180, max=180)
    )
    confidential = StrictBoolean(load_default=False)


class LocationUpdateSchema(LocationCreateSchema):
    class Meta:
        exclude = ("organization_id",)

    status = fields.String(validate=validate.OneOf(("active", "inactive")))


class LocationSchema(Schema):
    id = fields.UUID()
    organization_id = fields.UUID()
    name = fields.String()
    address = fields.String(allow_none=True)
    region_code = fields.String(allow_none=True)
    country = fields.String()
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    confidential = fields.Boolean(
        metadata={
            "description": "A safe house: outside its organization only the regency is shown."
        }
    )
    status = fields.String()
    demo = fields.Boolean()
    created_at = Timestamp(allow_none=True)
    updated_at = Timestamp(allow_none=True)


class LocationQueryArgsSchema(PaginationArgsSchema):
    organization_id = fields.UUID()
    region = fields.String(validate=[validate.Length(max=8), _region_code])
    status = fields.String(load_default="active", validate=validate.OneOf(("active", "inactive")))


class LocationPageSchema(PageSchema):
    items = fields.List(fields.Nested(LocationSchema))


# -- services -----------------------------------------------------------------------------


class EligibilitySchema(Schema):
    age_min = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=0, max=130))
    age_max = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=0, max=130))
    genders = fields.List(
        fields.String(validate=validate.OneOf(GENDERS)), validate=validate.Length(max=MAX_CODES)
    )
    notes = fields.String(allow_none=True, validate=validate.Length(max=2000))


class CapacitySchema(Schema):
    status = fields.String(
        allow_none=True,
        validate=validate.OneOf(DECLARED_CAPACITY_STATUSES),
        metadata={
            "description": "What bed counts cannot say (HL7 SDOH): waitlist or "
            "additional-assessment-required. Otherwise it follows from beds_available."
        },
    )
    beds_total = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(min=0, max=100_000)
    )
    beds_available = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(min=0, max=100_000)
    )
    updated_at = Timestamp(dump_only=True, allow_none=True)


class CapacityViewSchema(CapacitySchema):
    status = fields.String(
        allow_none=True,
        metadata={
            "description": "HL7 SDOH capacity status: capacity, no-capacity, waitlist, "
            "additional-assessment-required (null: not known)."
        },
    )
    stale = fields.Boolean(
        metadata={"description": "Not updated within REFERRAL_API_CAPACITY_STALE_HOURS."}
    )


_clock = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="Not a time HH:MM (00:00-23:59).")
_closing_clock = validate.Regexp(
    r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$", error="Not a time HH:MM (00:00-24:00)."
)


class ScheduleSpanSchema(Schema):
    """Opening hours on some weekdays (HSDS schedule: byday, opens_at, closes_at)."""

    byday = fields.List(
        fields.String(validate=validate.OneOf(DAYS)),
        required=True,
        validate=validate.Length(min=1, max=7),
        metadata={"description": "MO TU WE TH FR SA SU: the days the span opens."},
    )
    opens_at = fields.String(required=True, validate=[validate.Length(max=5), _clock])
    closes_at = fields.String(
        required=True,
        validate=[validate.Length(max=5), _closing_clock],
        metadata={"description": "Not after opens_at: closes the next day (overnight)."},
    )

    @validates_schema
    def _not_empty(self, data: dict[str, Any], **_: Any) -> None:
        # A partial update of the service (PATCH) still replaces whole spans.
        missing = {"byday", "opens_at", "closes_at"} - set(data)
        if missing:
            raise ValidationError(
                {name: ["Missing data for required field."] for name in sorted(missing)}
            )
        if data.get("opens_at") == data.get("closes_at"):
            raise ValidationError(
                "A span opens and closes at different times: for a whole day use "
                "00:00-24:00, for every day and night open_24_7.",
                "closes_at",
            )
        if len(set(data.get("byday", []))) != len(data.get("byday", [])):
            raise ValidationError("Name each day once.", "byday")


class ServiceCreateSchema(Schema):
    organization_id = fields.UUID(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=300))
    description = fields.String(allow_none=True, validate=validate.Length(max=5000))
    service_types = fields.List(
        fields.String(validate=_codes(SERVICE_TYPE_CODES, "service type")),
        required=True,
        validate=validate.Length(min=1, max=MAX_CODES),
    )
    eligibility = fields.Nested(EligibilitySchema)
    languages = fields.List(
        fields.String(validate=[validate.Length(max=3), *_language]),
        validate=validate.Length(max=MAX_CODES),
    )
    fees = fields.String(validate=validate.Length(max=300))
    hours = fields.String(
        allow_none=True,
        validate=validate.Length(max=300),
        metadata={"description": "Free text; `schedule` is what open_now reads."},
    )
    schedule = fields.List(
        fields.Nested(ScheduleSpanSchema),
        allow_none=True,
        validate=validate.Length(max=21),
        metadata={
            "description": "Weekly opening hours in each site's own time zone (WIB, WITA, "
            "WIT by province; abroad the country's). null: not known; []: never open."
        },
    )
    open_24_7 = fields.Boolean(metadata={"description": "Never closes (schedule ignored)."})
    capacity = fields.Nested(CapacitySchema, allow_none=True)
    coverage = fields.List(
        fields.String(validate=[validate.Length(max=8), _region_code]),
        validate=validate.Length(max=MAX_COVERAGE),
    )
    location_ids = fields.List(fields.UUID(), validate=validate.Length(max=MAX_LOCATIONS))


class ServiceUpdateSchema(ServiceCreateSchema):
    class Meta:
        exclude = ("organization_id",)

    status = fields.String(validate=validate.OneOf(SERVICE_STATUSES))


class ServiceSchema(Schema):
    id = fields.UUID()
    organization_id = fields.UUID()
    name = fields.String()
    description = fields.String(allow_none=True)
    service_types = fields.List(fields.String())
    eligibility = fields.Nested(EligibilitySchema)
    languages = fields.List(fields.String())
    fees = fields.String()
    hours = fields.String(allow_none=True)
    schedule = fields.List(fields.Nested(ScheduleSpanSchema), allow_none=True)
    open_24_7 = fields.Boolean()
    capacity = fields.Nested(CapacityViewSchema, allow_none=True)
    coverage = fields.List(fields.String())
    status = fields.String()
    location_ids = fields.List(fields.UUID())
    demo = fields.Boolean()
    created_at = Timestamp()
    updated_at = Timestamp()


class SearchFilterArgsSchema(Schema):
    """Filters shared by the service list and the nearest search (ANDed)."""

    service_type = fields.List(
        fields.String(validate=_codes(SERVICE_TYPE_CODES, "service type")),
        validate=validate.Length(max=MAX_CODES),
        metadata={"description": "Repeatable: services offering any of these types."},
    )
    region = fields.String(
        validate=[validate.Length(max=8), _region_code],
        metadata={
            "description": "Coverage includes the region or an ancestor (ID included), or "
            "the service is given at a location inside the region."
        },
    )
    q = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Words in organization name/aliases, service name/description."},
    )
    language = fields.String(validate=[validate.Length(max=3), *_language])
    age = fields.Integer(validate=validate.Range(min=0, max=130))
    gender = fields.String(validate=validate.OneOf(GENDERS))
    has_capacity = fields.Boolean(
        load_default=False, metadata={"description": "Only services with beds available."}
    )
    organization_type = fields.String(validate=_codes(ORGANIZATION_TYPE_CODES, "type"))
    verified_since = Instant(default_timezone=None)


class ServiceQueryArgsSchema(PaginationArgsSchema, SearchFilterArgsSchema):
    organization_id = fields.UUID()
    status = fields.String(load_default="active", validate=validate.OneOf(SERVICE_STATUSES))


class NearestQueryArgsSchema(SearchFilterArgsSchema):
    lat = fields.Float(allow_nan=False, validate=validate.Range(min=-90, max=90))
    lng = fields.Float(allow_nan=False, validate=validate.Range(min=-180, max=180))
    region = fields.String(
        validate=[validate.Length(max=8), _region_code],
        metadata={"description": "Measure from this region's centroid (instead of lat/lng)."},
    )
    near = fields.String(
        validate=validate.Length(min=2, max=200),
        metadata={
            "description": "Measure from a place named in words (kupang, Kec. Kelapa Lima, "
            "Kota Batam): the Kemendagri gazetteer, typos tolerated; with a geocoder "
            "configured also a street address."
        },
    )
    open_now = fields.Boolean(
        load_default=False,
        metadata={"description": "Only services open now, in each site's own time zone."},
    )
    within_region = fields.String(
        validate=[validate.Length(max=8), _region_code],
        metadata={"description": "The `region` filter of the list: served in this region."},
    )
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=100))
    radius_km = fields.Float(
        allow_nan=False,
        validate=validate.Range(min=0, max=2000, min_inclusive=False),
        # apispec renders the Range as an inclusive minimum only.
        metadata={"exclusiveMinimum": 0},
    )

    @validates_schema
    def _one_origin(self, data: dict[str, Any], **_: Any) -> None:
        has_lat, has_lng = "lat" in data, "lng" in data
        if has_lat != has_lng:
            missing = "lng" if has_lat else "lat"
            raise ValidationError("Give lat and lng together.", missing)
        given = [name for name in ("region", "near") if name in data]
        if has_lat and given:
            raise ValidationError(f"Give either lat and lng, or {given[0]}, not both.", given[0])
        if len(given) > 1:
            raise ValidationError("Give either region or near, not both.", "near")
        if not (has_lat or given):
            raise ValidationError("Give lat and lng, a region code, or near.", "lat")


class PlaceSchema(Schema):
    code = fields.String()
    name = fields.String()
    level = fields.String(metadata={"description": "province, regency or district"})
    score = fields.Float(metadata={"description": "Name similarity, 0-100."})


class OriginSchema(Schema):
    latitude = fields.Float()
    longitude = fields.Float()
    source = fields.String(
        metadata={"description": "point, geocoder, regency_centroid or province_centroid"}
    )
    place = fields.Nested(
        PlaceSchema, allow_none=True, metadata={"description": "The place `near` matched."}
    )
    alternatives = fields.List(
        fields.Nested(PlaceSchema), metadata={"description": "Runner-up places for `near`."}
    )


class OrganizationSummarySchema(Schema):
    id = fields.UUID()
    name = fields.String()
    type = fields.String()
    phones = fields.List(fields.String())
    hotlines = fields.List(fields.String())


class NearestItemSchema(Schema):
    distance_km = fields.Float(metadata={"description": "WGS-84 geodesic, one decimal."})
    distance_approximate = fields.Boolean(
        metadata={
            "description": "The distance is to the regency's centroid standing in for a "
            "confidential site."
        }
    )
    open_now = fields.Boolean(
        allow_none=True,
        metadata={"description": "At the request's time in the site's zone; null: not known."},
    )
    organization = fields.Nested(OrganizationSummarySchema)
    service = fields.Nested(lambda: ServiceSchema())
    location = fields.Nested(LocationSchema)


class NearestSchema(Schema):
    origin = fields.Nested(OriginSchema)
    items = fields.List(fields.Nested(NearestItemSchema))


class ServicePageSchema(PageSchema):
    items = fields.List(fields.Nested(ServiceSchema))
