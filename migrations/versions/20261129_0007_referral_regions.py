"""Referral regions: the regions a referral's parties lay in, fixed when it was sent.

Coordinators' coverage read the organizations' current home regions and sites, so an
org_admin who moved its organization moved its referrals out of its coordinator's sight.
Existing referrals get the regions their parties have now (the best record there is).

Revision ID: 20261129_0007
Revises: 20261122_0006
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261129_0007"
down_revision: str | None = "20261122_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As services.referrals.statements.RECORD_REGIONS does for one referral.
BACKFILL = """
INSERT INTO referral_regions (referral_id, region_code)
SELECT r.id, o.region_code
  FROM referrals r JOIN organizations o
    ON o.id = r.from_organization_id OR o.id = r.to_organization_id
 WHERE o.region_code IS NOT NULL
UNION
SELECT r.id, CASE WHEN l.confidential THEN substr(l.region_code, 1, 5) ELSE l.region_code END
  FROM referrals r
  JOIN service_locations sl ON sl.service_id = r.to_service_id
  JOIN locations l ON l.id = sl.location_id
 WHERE l.region_code IS NOT NULL
"""


def upgrade() -> None:
    op.create_table(
        "referral_regions",
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("region_code", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_referral_regions_referral_id_referrals"),
        ),
        sa.PrimaryKeyConstraint("referral_id", "region_code", name=op.f("pk_referral_regions")),
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_table("referral_regions")
