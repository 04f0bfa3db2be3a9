"""Search index: the two grid indexes cover every column a nearest search reads.

A nearest search reads, for each entry in its box, the ids, the coordinates and who owns
it; with those in the index it never visits the table (SQLite's covering index,
PostgreSQL's index-only scan), which roughly halves the time of the candidate query.

Revision ID: 20261122_0006
Revises: 20261122_0005
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261122_0006"
down_revision: str | None = "20261122_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READ = ["confidential", "organization_id", "location_id", "service_id"]
CELL = ["cell_row", "cell_col", "type_mask", "masked_latitude", "masked_longitude", *READ]
REAL = ["real_row", "real_col", "type_mask", "latitude", "longitude", *READ]


def upgrade() -> None:
    op.drop_index("ix_search_entries_cell", table_name="search_entries")
    op.drop_index("ix_search_entries_real_cell", table_name="search_entries")
    op.create_index("ix_search_entries_cell", "search_entries", CELL)
    op.create_index("ix_search_entries_real_cell", "search_entries", REAL)


def downgrade() -> None:
    op.drop_index("ix_search_entries_cell", table_name="search_entries")
    op.drop_index("ix_search_entries_real_cell", table_name="search_entries")
    op.create_index(
        "ix_search_entries_cell", "search_entries", ["cell_row", "cell_col", "type_mask"]
    )
    op.create_index(
        "ix_search_entries_real_cell", "search_entries", ["real_row", "real_col", "type_mask"]
    )
