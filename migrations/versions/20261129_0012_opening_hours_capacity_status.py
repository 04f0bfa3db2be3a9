"""Opening hours and a declared capacity status on services.

`schedule` is the weekly opening hours (HSDS `schedule`-shaped: byday, opens_at,
closes_at), read in each site's own time zone; NULL means not known. `open_24_7` says
the service never closes. `capacity_status` is what bed counts cannot say (`waitlist`,
`additional-assessment-required`); `capacity` and `no-capacity` follow from the beds.

Revision ID: 20261129_0012
Revises: 20261129_0008
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261129_0012"
down_revision: str | None = "20261129_0008"
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


def downgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.drop_column("capacity_status")
        batch.drop_column("open_24_7")
        batch.drop_column("schedule")
