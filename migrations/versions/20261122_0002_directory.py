"""Directory: regions, vocabularies, organizations, locations and services.

Revision ID: 20261122_0002
Revises: 20261122_0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from referral_api.models.base import UTCDateTime

revision: str = "20261122_0002"
down_revision: str | None = "20261122_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "organization_types",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("label_id", sa.String(length=120), nullable=False),
        sa.Column("label_en", sa.String(length=120), nullable=False),
        sa.Column("description_id", sa.Text(), nullable=False),
        sa.Column("description_en", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_organization_types")),
    )
    op.create_table(
        "regions",
        sa.Column("code", sa.String(length=13), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("parent_code", sa.String(length=13), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("centroid_source", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_code"], ["regions.code"], name=op.f("fk_regions_parent_code_regions")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_regions")),
    )
    with op.batch_alter_table("regions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_regions_level"), ["level"], unique=False)
        batch_op.create_index(batch_op.f("ix_regions_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_regions_parent_code"), ["parent_code"], unique=False)

    op.create_table(
        "service_types",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("pillar", sa.String(length=20), nullable=False),
        sa.Column("label_id", sa.String(length=120), nullable=False),
        sa.Column("label_en", sa.String(length=120), nullable=False),
        sa.Column("description_id", sa.Text(), nullable=False),
        sa.Column("description_en", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_service_types")),
    )
    op.create_table(
        "locations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("region_code", sa.String(length=13), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("latitude BETWEEN -90 AND 90", name=op.f("ck_locations_latitude_range")),
        sa.CheckConstraint(
            "longitude BETWEEN -180 AND 180", name=op.f("ck_locations_longitude_range")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_locations_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["regions.code"], name=op.f("fk_locations_region_code_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locations")),
    )
    with op.batch_alter_table("locations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_locations_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_locations_region_code"), ["region_code"], unique=False)

    op.create_table(
        "services",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("age_min", sa.Integer(), nullable=True),
        sa.Column("age_max", sa.Integer(), nullable=True),
        sa.Column("genders", JSONType, nullable=False),
        sa.Column("eligibility_notes", sa.Text(), nullable=True),
        sa.Column("languages", JSONType, nullable=False),
        sa.Column("fees", sa.String(length=300), nullable=False),
        sa.Column("hours", sa.String(length=300), nullable=True),
        sa.Column("beds_total", sa.Integer(), nullable=True),
        sa.Column("beds_available", sa.Integer(), nullable=True),
        sa.Column("capacity_updated_at", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "age_min IS NULL OR age_max IS NULL OR age_min <= age_max",
            name=op.f("ck_services_age_range"),
        ),
        sa.CheckConstraint(
            "beds_available IS NULL OR beds_total IS NULL OR beds_available <= beds_total",
            name=op.f("ck_services_beds_within_total"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_services_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
    )
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_services_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "service_coverage",
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("region_code", sa.String(length=13), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_code"], ["regions.code"], name=op.f("fk_service_coverage_region_code_regions")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_service_coverage_service_id_services")
        ),
        sa.PrimaryKeyConstraint("service_id", "region_code", name=op.f("pk_service_coverage")),
    )
    with op.batch_alter_table("service_coverage", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_coverage_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "service_locations",
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_service_locations_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_service_locations_service_id_services")
        ),
        sa.PrimaryKeyConstraint("service_id", "location_id", name=op.f("pk_service_locations")),
    )
    with op.batch_alter_table("service_locations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_locations_location_id"), ["location_id"], unique=False
        )

    op.create_table(
        "service_service_types",
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("service_type", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_service_service_types_service_id_services"),
        ),
        sa.ForeignKeyConstraint(
            ["service_type"],
            ["service_types.code"],
            name=op.f("fk_service_service_types_service_type_service_types"),
        ),
        sa.PrimaryKeyConstraint(
            "service_id", "service_type", name=op.f("pk_service_service_types")
        ),
    )
    with op.batch_alter_table("service_service_types", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_service_types_service_type"), ["service_type"], unique=False
        )

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("level", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column("aliases", JSONType, nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(sa.Column("description", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("website", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch_op.add_column(
            sa.Column("phones", JSONType, nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(
            sa.Column("hotlines", JSONType, nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(
            sa.Column("languages", JSONType, nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(
            sa.Column(
                "status", sa.String(length=20), nullable=False, server_default=sa.text("'active'")
            )
        )
        batch_op.add_column(
            sa.Column("demo", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("verified_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("verified_by", sa.Uuid(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_organizations_verified_at"), ["verified_at"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_organizations_region_code_regions"), "regions", ["region_code"], ["code"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_organizations_type_organization_types"),
            "organization_types",
            ["type"],
            ["code"],
        )


def downgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_organizations_type_organization_types"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_organizations_region_code_regions"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_organizations_verified_at"))
        batch_op.drop_column("verified_by")
        batch_op.drop_column("verified_at")
        batch_op.drop_column("demo")
        batch_op.drop_column("status")
        batch_op.drop_column("languages")
        batch_op.drop_column("hotlines")
        batch_op.drop_column("phones")
        batch_op.drop_column("email")
        batch_op.drop_column("website")
        batch_op.drop_column("description")
        batch_op.drop_column("aliases")
        batch_op.drop_column("level")

    with op.batch_alter_table("service_service_types", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_service_types_service_type"))

    op.drop_table("service_service_types")
    with op.batch_alter_table("service_locations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_locations_location_id"))

    op.drop_table("service_locations")
    with op.batch_alter_table("service_coverage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_coverage_region_code"))

    op.drop_table("service_coverage")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_services_organization_id"))

    op.drop_table("services")
    with op.batch_alter_table("locations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_locations_region_code"))
        batch_op.drop_index(batch_op.f("ix_locations_organization_id"))

    op.drop_table("locations")
    op.drop_table("service_types")
    with op.batch_alter_table("regions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_regions_parent_code"))
        batch_op.drop_index(batch_op.f("ix_regions_name"))
        batch_op.drop_index(batch_op.f("ix_regions_level"))

    op.drop_table("regions")
    op.drop_table("organization_types")
