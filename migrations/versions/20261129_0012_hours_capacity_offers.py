"""Opening hours and a declared capacity status on services; shelter offers.

`schedule` is the weekly opening hours (HSDS `schedule`-shaped: byday, opens_at,
closes_at), read in each site's own time zone; NULL means not known. `open_24_7` says
the service never closes. `capacity_status` is what bed counts cannot say (`waitlist`,
`additional-assessment-required`); `capacity` and `no-capacity` follow from the beds.
`referral_offers` groups the referrals of one request sent to several services at once
(`referrals.offer_id`): the first acceptance fills the offer.

Revision ID: 20261129_0012
Revises: 20261129_0013
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from referral_api.models.base import UTCDateTime

revision: str = "20261129_0012"
down_revision: str | None = "20261129_0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column("schedule", JSONType, nullable=True))
        batch.add_column(
            sa.Column("open_24_7", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("capacity_status", sa.String(length=40), nullable=True))
    op.create_table(
        "referral_offers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("from_organization_id", sa.Uuid(), nullable=False),
        sa.Column("from_principal_id", sa.Uuid(), nullable=False),
        sa.Column("service_type", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("winner_referral_id", sa.Uuid(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_referral_offers_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["from_organization_id"],
            ["organizations.id"],
            name=op.f("fk_referral_offers_from_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["from_principal_id"],
            ["principals.id"],
            name=op.f("fk_referral_offers_from_principal_id_principals"),
        ),
        sa.ForeignKeyConstraint(
            ["service_type"],
            ["service_types.code"],
            name=op.f("fk_referral_offers_service_type_service_types"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_offers")),
    )
    with op.batch_alter_table("referral_offers") as batch:
        batch.create_index(batch.f("ix_referral_offers_case_id"), ["case_id"], unique=False)
        batch.create_index(
            "ix_referral_offers_status_expires_at", ["status", "expires_at"], unique=False
        )
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("offer_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_referrals_offer_id_referral_offers"),
            "referral_offers",
            ["offer_id"],
            ["id"],
        )
        batch.create_index(batch.f("ix_referrals_offer_id"), ["offer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.drop_index(batch.f("ix_referrals_offer_id"))
        batch.drop_constraint(batch.f("fk_referrals_offer_id_referral_offers"), type_="foreignkey")
        batch.drop_column("offer_id")
    op.drop_table("referral_offers")
    with op.batch_alter_table("services") as batch:
        batch.drop_column("capacity_status")
        batch.drop_column("open_24_7")
        batch.drop_column("schedule")
