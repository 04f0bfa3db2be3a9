"""Client data lifecycle (UU PDP 27/2022): per-case data keys, case closure and purge,
consent withdrawals and consent expiry.

The data step that gives existing cases their own data key needs the master key, which
Alembic does not hold: `referral-api keys migrate` runs it (until then a case sealed
with the master key still opens, as before).

Revision ID: 20261129_0009
Revises: 20261129_0008
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from referral_api.models.base import UTCDateTime

revision: str = "20261129_0009"
down_revision: str | None = "20261129_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("data_key", sa.LargeBinary(), nullable=True))
    op.add_column("cases", sa.Column("key_id", sa.String(length=16), nullable=True))
    op.add_column("cases", sa.Column("closed_at", UTCDateTime(), nullable=True))
    op.add_column("cases", sa.Column("closed_outcome", sa.String(length=40), nullable=True))
    op.add_column("cases", sa.Column("closed_note", sa.Text(), nullable=True))
    op.add_column("cases", sa.Column("purged_at", UTCDateTime(), nullable=True))
    op.create_index(op.f("ix_cases_key_id"), "cases", ["key_id"], unique=False)
    op.create_index(op.f("ix_cases_closed_at"), "cases", ["closed_at"], unique=False)
    op.add_column("referrals", sa.Column("consent_expires_at", UTCDateTime(), nullable=True))
    op.create_table(
        "consent_withdrawals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("withdrawn_at", UTCDateTime(), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_consent_withdrawals_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_consent_withdrawals_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_consent_withdrawals_principal_id_principals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_withdrawals")),
    )
    op.create_index(
        op.f("ix_consent_withdrawals_case_id"), "consent_withdrawals", ["case_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_consent_withdrawals_case_id"), table_name="consent_withdrawals")
    op.drop_table("consent_withdrawals")
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_column("consent_expires_at")
    op.drop_index(op.f("ix_cases_closed_at"), table_name="cases")
    op.drop_index(op.f("ix_cases_key_id"), table_name="cases")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        for column in ("purged_at", "closed_note", "closed_outcome", "closed_at", "key_id"):
            batch_op.drop_column(column)
        batch_op.drop_column("data_key")
