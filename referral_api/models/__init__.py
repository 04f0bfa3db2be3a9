"""SQLAlchemy models, one module per aggregate."""

from .audit import GENESIS_HASH, AuditEvent, AuditHead
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
from .region import OrganizationType, Region, ServiceType

__all__ = [
    "GENESIS_HASH",
    "AuditEvent",
    "AuditHead",
    "Base",
    "Location",
    "Organization",
    "OrganizationType",
    "Principal",
    "Region",
    "Role",
    "Service",
    "ServiceCoverage",
    "ServiceType",
    "ServiceTypeAssignment",
    "service_locations",
]
