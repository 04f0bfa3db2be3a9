"""Audit events are chained by a trigger on `audit_queue`, at COMMIT on PostgreSQL.

The application used to lock the chain head, hash and insert in three round trips of its
own, holding the head's row lock while it waited for each answer. Now it inserts the
event with its canonical JSON around `seq` into `audit_queue`, and a trigger does the
rest inside the database: on PostgreSQL a constraint trigger deferred to COMMIT, so the
head is locked only while the transaction commits.

Revision ID: 20261122_0005
Revises: 20261122_0004
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from referral_api.models.base import UTCDateTime

revision: str = "20261122_0005"
down_revision: str | None = "20261122_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENT_COLUMNS = (
    "occurred_at, actor_principal_id, actor_organization_id, action, entity_type, entity_id, "
    "summary"
)
NEW_EVENT_COLUMNS = ", ".join(f"NEW.{column.strip()}" for column in EVENT_COLUMNS.split(","))

PG_APPEND = f"""
CREATE FUNCTION audit_queue_append() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  next_seq bigint;
  prev varchar(64);
  digest varchar(64);
BEGIN
  -- The head's row lock serializes appenders until this transaction ends.
  UPDATE audit_head SET last_seq = last_seq + 1 WHERE id = 1
    RETURNING last_seq, last_hash INTO next_seq, prev;
  IF next_seq IS NULL THEN
    RAISE EXCEPTION 'audit_head is missing: no event can be chained';
  END IF;
  digest := encode(
    sha256(convert_to(prev || NEW.body_head || next_seq::text || NEW.body_tail, 'UTF8')), 'hex');
  INSERT INTO audit_events (seq, {EVENT_COLUMNS}, prev_hash, hash)
    VALUES (next_seq, {NEW_EVENT_COLUMNS}, prev, digest);
  UPDATE audit_head SET last_hash = digest WHERE id = 1;
  DELETE FROM audit_queue WHERE id = NEW.id;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER audit_queue_append AFTER INSERT ON audit_queue
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION audit_queue_append();
"""
# SQLite has no SHA-256 of its own: referral_api.db registers referral_api_sha256 on
# every connection it opens. A connection without it cannot append (and fails loudly).
SQLITE_APPEND = f"""
CREATE TRIGGER audit_queue_append AFTER INSERT ON audit_queue
BEGIN
  SELECT RAISE(ABORT, 'audit_head is missing: no event can be chained')
    WHERE NOT EXISTS (SELECT 1 FROM audit_head WHERE id = 1);
  UPDATE audit_head SET last_seq = last_seq + 1 WHERE id = 1;
  INSERT INTO audit_events (seq, {EVENT_COLUMNS}, prev_hash, hash)
    SELECT last_seq, {NEW_EVENT_COLUMNS}, last_hash,
           referral_api_sha256(last_hash || NEW.body_head || last_seq || NEW.body_tail)
    FROM audit_head WHERE id = 1;
  UPDATE audit_head
    SET last_hash = (SELECT hash FROM audit_events WHERE seq = audit_head.last_seq)
    WHERE id = 1;
  DELETE FROM audit_queue WHERE id = NEW.id;
END
"""


def upgrade() -> None:
    op.create_table(
        "audit_queue",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("actor_principal_id", sa.Uuid(), nullable=True),
        sa.Column("actor_organization_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("entity_type", sa.String(40), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("body_head", sa.Text(), nullable=False),
        sa.Column("body_tail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_queue")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_APPEND)
    else:
        op.execute(SQLITE_APPEND)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_queue_append ON audit_queue")
        op.execute("DROP FUNCTION IF EXISTS audit_queue_append()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_queue_append")
    op.drop_table("audit_queue")
