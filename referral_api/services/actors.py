"""Who is acting: the caller of a service, independent of HTTP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ..models import Role


@dataclass(frozen=True)
class Actor:
    principal_id: uuid.UUID | None
    organization_id: uuid.UUID | None
    role: str | None
    coverage_code: str | None = None

    @classmethod
    def system(cls) -> Actor:
        """The operator at the command line (CLI commands, seeding)."""
        return cls(principal_id=None, organization_id=None, role="system")

    @classmethod
    def public(cls) -> Actor:
        return cls(principal_id=None, organization_id=None, role=None)

    @property
    def is_authenticated(self) -> bool:
        return self.principal_id is not None

    @property
    def is_admin(self) -> bool:
        return self.role in (Role.ADMIN, "system")

    def is_member_of(self, organization_id: uuid.UUID | None) -> bool:
        return organization_id is not None and self.organization_id == organization_id
