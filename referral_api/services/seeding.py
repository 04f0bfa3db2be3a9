"""Reference and demo data, loaded through the same services as the API."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Organization, Role
from . import principals
from .actors import Actor

DEMO_ORGANIZATIONS = [
    ("Tim Reaksi Cepat (TRC) Kementerian Sosial [DEMO]", "central_government", "31.71"),
    ("UPTD PPA Provinsi Nusa Tenggara Timur [DEMO]", "uptd_ppa", "53.71"),
]


@dataclass
class SeedReport:
    created: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, count: int = 1) -> None:
        self.created[kind] = self.created.get(kind, 0) + count

    def lines(self) -> list[str]:
        if not self.created:
            return ["nothing to do: everything was already loaded"]
        return [f"created {count} {kind}" for kind, count in sorted(self.created.items())]


def seed(session: Session, *, demo: bool = False) -> SeedReport:
    """Load reference data, and with `demo` the demo directory; a second run adds nothing."""
    report = SeedReport()
    if demo:
        for name, type_, region in DEMO_ORGANIZATIONS:
            if session.scalar(select(Organization.id).where(Organization.name == name)) is None:
                session.add(Organization(name=name, type=type_, region_code=region))
                report.add("organizations")
        session.flush()
    return report


def demo_tokens(session: Session) -> dict[str, tuple[str, str]]:
    """Create one fresh demo principal per role; return role -> (who, token)."""
    orgs = {
        o.name: o
        for o in session.scalars(
            select(Organization).where(Organization.name.in_([n for n, _, _ in DEMO_ORGANIZATIONS]))
        )
    }
    trc, uptd = (orgs[name] for name, _, _ in DEMO_ORGANIZATIONS)
    plan = [
        (Role.CASEWORKER, f"Demo caseworker, {trc.name}", trc.id, None),
        (Role.ORG_ADMIN, f"Demo org admin, {uptd.name}", uptd.id, None),
        (Role.COORDINATOR, "Demo coordinator, Gugus Tugas PP-TPPO NTT (coverage 53)", None, "53"),
        (Role.ADMIN, "Demo administrator", None, None),
    ]
    tokens: dict[str, tuple[str, str]] = {}
    for role, name, org_id, coverage in plan:
        _, token = principals.create_token(
            session,
            actor=Actor.system(),
            role=role,
            name=name,
            organization_id=org_id,
            coverage_code=coverage,
        )
        tokens[role.value] = (name, token)
    return tokens
