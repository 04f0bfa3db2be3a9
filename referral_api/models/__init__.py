"""SQLAlchemy models, one module per aggregate."""

from .audit import GENESIS_HASH, AuditEvent, AuditHead, AuditQueue
from .base import Base
from .organization import (
    Location,
    Organization,
    Service,
    ServiceCoverage,
    ServiceTypeAssignment,
    service_locations,
)
from .principal import Principal, Role
from .referral import Case, IdempotencyKey, Referral, ReferralEvent, ReferralRegion
from .region import OrganizationType, Region, ServiceType
from .search import SearchEntry

__all__ = [
    "GENESIS_HASH",
    "AuditEvent",
    "AuditHead",
    "AuditQueue",
    "Base",
    "Case",
    "IdempotencyKey",
    "Location",
    "Organization",
    "OrganizationType",
    "Principal",
    "Referral",
    "ReferralEvent",
    "ReferralRegion",
    "Region",
    "Role",
    "SearchEntry",
    "Service",
    "ServiceCoverage",
    "ServiceType",
    "ServiceTypeAssignment",
    "service_locations",
]
