"""SQLAlchemy models, one module per aggregate."""

from .audit import GENESIS_HASH, AuditEvent, AuditHead, AuditQueue
from .base import Base
from .events import Event, OverdueNotice
from .organization import (
    Location,
    Organization,
    Service,
    ServiceCoverage,
    ServiceTypeAssignment,
    service_locations,
)
from .principal import Principal, Role
from .referral import (
    Case,
    ConsentWithdrawal,
    IdempotencyKey,
    Referral,
    ReferralEvent,
    ReferralOffer,
    ReferralRegion,
)
from .region import OrganizationType, Region, ServiceType
from .search import SearchEntry
from .webhooks import WebhookAttempt, WebhookDelivery, WebhookSubscription

__all__ = [
    "GENESIS_HASH",
    "AuditEvent",
    "AuditHead",
    "AuditQueue",
    "Base",
    "Case",
    "ConsentWithdrawal",
    "Event",
    "IdempotencyKey",
    "Location",
    "Organization",
    "OrganizationType",
    "OverdueNotice",
    "Principal",
    "Referral",
    "ReferralEvent",
    "ReferralOffer",
    "ReferralRegion",
    "Region",
    "Role",
    "SearchEntry",
    "Service",
    "ServiceCoverage",
    "ServiceType",
    "ServiceTypeAssignment",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
    "service_locations",
]
