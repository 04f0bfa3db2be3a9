"""Masked coordinates of locations, for distance searches by outsiders.

Revision ID: 20261122_0003
Revises: 20261122_0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261122_0003"
down_revision: str | None = "20261122_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A confidential site is placed at its regency's centroid (or the province's).
CENTROID = """
    SELECT COALESCE(r.{col}, p.{col}) FROM regions r
    LEFT JOIN regions p ON p.code = r.parent_code
    WHERE r.code = substr(locations.region_code, 1, 5)
"""


def upgrade() -> None:
    with op.batch_alter_table("locations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("masked_latitude", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("masked_longitude", sa.Float(), nullable=True))
        batch_op.create_index(
            "ix_locations_masked_lat_lng", ["masked_latitude", "masked_longitude"], unique=False
        )
    op.execute(
        "UPDATE locations SET masked_latitude = latitude, masked_longitude = longitude "
        "WHERE NOT confidential"
    )
    op.execute(
        f"UPDATE locations SET masked_latitude = ({CENTROID.format(col='latitude')}), "
        f"masked_longitude = ({CENTROID.format(col='longitude')}) WHERE confidential"
    )


def downgrade() -> None:
    with op.batch_alter_table("locations", schema=None) as batch_op:
        batch_op.drop_index("ix_locations_masked_lat_lng")
        batch_op.drop_column("masked_longitude")
        batch_op.drop_column("masked_latitude")
