"""Partner events: the outbox `events` with commit-ordered positions, webhook
subscriptions, their numbered deliveries and attempts, and the overdue notices.

An event's `position` is set by a trigger from the one-row `event_head`: on PostgreSQL a
constraint trigger deferred to COMMIT, whose row lock on the head is held until the
transaction ends, so positions increase in commit order (the pattern of 20261122_0005);
on SQLite every writer already holds the database's write lock until it commits, so a
plain AFTER INSERT trigger gives the same order.

Revision ID: 20261129_0008
Revises: 20261129_0007
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from referral_api.models.base import UTCDateTime

revision: str = "20261129_0008"
down_revision: str | None = "20261129_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

PG_POSITION = """
CREATE FUNCTION events_assign_position() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  next_position bigint;
BEGIN
  -- The head's row lock is held until this transaction ends: positions follow commits.
  UPDATE event_head SET last_position = last_position + 1 WHERE id = 1
    RETURNING last_position INTO next_position;
  IF next_position IS NULL THEN
    RAISE EXCEPTION 'event_head is missing: no event can be positioned';
  END IF;
  UPDATE events SET position = next_position WHERE id = NEW.id;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER events_assign_position AFTER INSERT ON events
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION events_assign_position();
"""
SQLITE_POSITION = """
CREATE TRIGGER events_assign_position AFTER INSERT ON events
BEGIN
  SELECT RAISE(ABORT, 'event_head is missing: no event can be positioned')
    WHERE NOT EXISTS (SELECT 1 FROM event_head WHERE id = 1);
  UPDATE event_head SET last_position = last_position + 1 WHERE id = 1;
  UPDATE events SET position = (SELECT last_position FROM event_head WHERE id = 1)
    WHERE id = NEW.id;
END
"""


def upgrade() -> None:
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_organization_id", sa.Uuid(), nullable=True),
        sa.Column("owner_principal_id", sa.Uuid(), nullable=True),
        sa.Column("owner_role", sa.String(20), nullable=False),
        sa.Column("coverage_code", sa.String(13), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("event_types", JSON, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("disabled_at", UTCDateTime(), nullable=True),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("previous_secret_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("previous_secret_expires_at", UTCDateTime(), nullable=True),
        sa.Column("last_position", sa.BigInteger(), nullable=False),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'disabled')", name=op.f("ck_webhook_subscriptions_status_known")
        ),
        sa.CheckConstraint(
            "owner_organization_id IS NOT NULL OR owner_principal_id IS NOT NULL",
            name=op.f("ck_webhook_subscriptions_has_owner"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_organization_id"],
            ["organizations.id"],
            name=op.f("fk_webhook_subscriptions_owner_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_principal_id"],
            ["principals.id"],
            name=op.f("fk_webhook_subscriptions_owner_principal_id_principals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscriptions")),
    )
    op.create_index(
        op.f("ix_webhook_subscriptions_owner_organization_id"),
        "webhook_subscriptions",
        ["owner_organization_id"],
    )
    op.create_index(
        op.f("ix_webhook_subscriptions_owner_principal_id"),
        "webhook_subscriptions",
        ["owner_principal_id"],
    )

    op.create_table(
        "events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=True),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("audience", sa.String(12), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("subscription_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "audience IN ('referral', 'directory', 'subscription')",
            name=op.f("ck_events_audience_known"),
        ),
        sa.CheckConstraint(
            "audience <> 'referral' OR referral_id IS NOT NULL",
            name=op.f("ck_events_referral_has_referral"),
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referrals.id"], name=op.f("fk_events_referral_id_referrals")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_events_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscriptions.id"],
            name=op.f("fk_events_subscription_id_webhook_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("position", name=op.f("uq_events_position")),
    )
    op.create_index(op.f("ix_events_referral_id"), "events", ["referral_id"])
    op.create_index("ix_events_type_position", "events", ["type", "position"])

    head = op.create_table(
        "event_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_position", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_event_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_head")),
    )
    op.bulk_insert(head, [{"id": 1, "last_position": 0}])

    op.create_table(
        "overdue_notices",
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("deadline", sa.String(12), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_overdue_notices_referral_id_referrals"),
        ),
        sa.PrimaryKeyConstraint("referral_id", "deadline", name=op.f("pk_overdue_notices")),
    )

    op.create_table(
        "webhook_deliveries",
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("lease", sa.Uuid(), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')",
            name=op.f("ck_webhook_deliveries_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscriptions.id"],
            name=op.f("fk_webhook_deliveries_subscription_id_webhook_subscriptions"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_webhook_deliveries_event_id_events")
        ),
        sa.PrimaryKeyConstraint("subscription_id", "number", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(op.f("ix_webhook_deliveries_event_id"), "webhook_deliveries", ["event_id"])
    op.create_index(
        "ix_webhook_deliveries_pending",
        "webhook_deliveries",
        ["subscription_id", "status", "number"],
    )

    op.create_table(
        "webhook_attempts",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("attempted_at", UTCDateTime(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("next_retry_at", UTCDateTime(), nullable=True),
        sa.Column("details", JSON, nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscriptions.id"],
            name=op.f("fk_webhook_attempts_subscription_id_webhook_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    op.create_index(
        "ix_webhook_attempts_delivery", "webhook_attempts", ["subscription_id", "number"]
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_POSITION)
    else:
        op.execute(SQLITE_POSITION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_assign_position ON events")
        op.execute("DROP FUNCTION IF EXISTS events_assign_position()")
    else:
        op.execute("DROP TRIGGER IF EXISTS events_assign_position")
    op.drop_index("ix_webhook_attempts_delivery", table_name="webhook_attempts")
    op.drop_table("webhook_attempts")
    op.drop_index("ix_webhook_deliveries_pending", table_name="webhook_deliveries")
    op.drop_index(op.f("ix_webhook_deliveries_event_id"), table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("overdue_notices")
    op.drop_table("event_head")
    op.drop_index("ix_events_type_position", table_name="events")
    op.drop_index(op.f("ix_events_referral_id"), table_name="events")
    op.drop_table("events")
    op.drop_index(
        op.f("ix_webhook_subscriptions_owner_principal_id"), table_name="webhook_subscriptions"
    )
    op.drop_index(
        op.f("ix_webhook_subscriptions_owner_organization_id"),
        table_name="webhook_subscriptions",
    )
    op.drop_table("webhook_subscriptions")
