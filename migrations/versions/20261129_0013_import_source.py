"""Where an imported organization or service came from (`hsds import`, issue 18).

Revision ID: 20261129_0013
Revises: 20261129_0009
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261129_0013"
down_revision: str | None = "20261129_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("organizations", "services"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("source", sa.String(length=300), nullable=True))


def downgrade() -> None:
    for table in ("organizations", "services"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("source")
