"""Search index: masked coordinates of locations and the search_entries table.

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


def upgrade() -> None:
    with op.batch_alter_table("locations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("masked_latitude", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("masked_longitude", sa.Float(), nullable=True))
    op.create_table(
        "search_entries",
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("real_row", sa.Integer(), nullable=False),
        sa.Column("real_col", sa.Integer(), nullable=False),
        sa.Column("masked_latitude", sa.Float(), nullable=True),
        sa.Column("masked_longitude", sa.Float(), nullable=True),
        sa.Column("cell_row", sa.Integer(), nullable=True),
        sa.Column("cell_col", sa.Integer(), nullable=True),
        sa.Column("type_mask", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_search_entries_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_search_entries_service_id_services")
        ),
        sa.PrimaryKeyConstraint("service_id", "location_id", name=op.f("pk_search_entries")),
    )
    op.create_index(
        "ix_search_entries_cell", "search_entries", ["cell_row", "cell_col", "type_mask"]
    )
    op.create_index(
        "ix_search_entries_real_cell", "search_entries", ["real_row", "real_col", "type_mask"]
    )
    op.create_index(op.f("ix_search_entries_location_id"), "search_entries", ["location_id"])
    op.create_index(
        op.f("ix_search_entries_organization_id"), "search_entries", ["organization_id"]
    )
    # An existing directory is indexed by the next `referral-api seed` (search_index.backfill).


def downgrade() -> None:
    op.drop_index(op.f("ix_search_entries_organization_id"), table_name="search_entries")
    op.drop_index(op.f("ix_search_entries_location_id"), table_name="search_entries")
    op.drop_index("ix_search_entries_real_cell", table_name="search_entries")
    op.drop_index("ix_search_entries_cell", table_name="search_entries")
    op.drop_table("search_entries")
    with op.batch_alter_table("locations", schema=None) as batch_op:
        batch_op.drop_column("masked_longitude")
        batch_op.drop_column("masked_latitude")
