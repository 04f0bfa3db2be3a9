"""SQLAlchemy models, one module per aggregate."""

from .audit import GENESIS_HASH, AuditEvent, AuditHead
from .base import Base
from .organization import Organization
from .principal import Principal, Role

__all__ = [
    "GENESIS_HASH",
    "AuditEvent",
    "AuditHead",
    "Base",
    "Organization",
    "Principal",
    "Role",
]
