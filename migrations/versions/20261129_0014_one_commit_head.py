"""One row orders every commit: partner-event positions move onto `audit_head`.

Until now the audit chain took its sequence from `audit_head` and the events their
position from `event_head`, each locked at COMMIT by a deferred trigger in the order the
transaction had queued them. A transaction that emitted an event before its audit event
(a webhook test ping) locked the two heads in the opposite order to one that audited
first (every referral transition), and two such commits could deadlock. With one row
there is one lock: a committing writer takes it once, whatever it wrote first, and
positions still follow commit order (the lock is held until the transaction ends).

On SQLite the downgrade needs ALTER TABLE DROP COLUMN (SQLite 3.35 or later).

Revision ID: 20261129_0014
Revises: 20261129_0012
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261129_0014"
down_revision: str | None = "20261129_0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _position_triggers(head: str, column: str) -> tuple[str, str]:
    """The position trigger of 20261129_0008, taking positions from `head.column`."""
    postgresql = f"""
CREATE OR REPLACE FUNCTION events_assign_position() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  next_position bigint;
BEGIN
  -- The head's row lock is held until this transaction ends: positions follow commits.
  UPDATE {head} SET {column} = {column} + 1 WHERE id = 1 RETURNING {column} INTO next_position;
  IF next_position IS NULL THEN
    RAISE EXCEPTION '{head} is missing: no event can be positioned';
  END IF;
  UPDATE events SET position = next_position WHERE id = NEW.id;
  RETURN NULL;
END $$;
"""
    sqlite = f"""
CREATE TRIGGER events_assign_position AFTER INSERT ON events
BEGIN
  SELECT RAISE(ABORT, '{head} is missing: no event can be positioned')
    WHERE NOT EXISTS (SELECT 1 FROM {head} WHERE id = 1);
  UPDATE {head} SET {column} = {column} + 1 WHERE id = 1;
  UPDATE events SET position = (SELECT {column} FROM {head} WHERE id = 1) WHERE id = NEW.id;
END
"""
    return postgresql, sqlite


def _move_to(head: str, column: str) -> None:
    """Point the position trigger at `head.column` (the function is replaced in place on
    PostgreSQL; SQLite's trigger is dropped and made again)."""
    postgresql, sqlite = _position_triggers(head, column)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(postgresql)
    else:
        op.execute("DROP TRIGGER events_assign_position")
        op.execute(sqlite)


def _hold(head: str) -> None:
    """On PostgreSQL, keep commits still running the old trigger from moving `head` after
    this migration has copied it (they wait, and fail once it is gone: a retry succeeds).
    SQLite's writers already wait for the migration's transaction."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"LOCK TABLE {head} IN EXCLUSIVE MODE")


def upgrade() -> None:
    _hold("event_head")
    # Plain ALTER TABLE, also on SQLite: a batch copy of audit_head would break the
    # triggers that name it.
    op.add_column(
        "audit_head",
        sa.Column("last_event_position", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.execute(
        "UPDATE audit_head SET last_event_position = (SELECT max(n) FROM ("
        " SELECT last_position AS n FROM event_head WHERE id = 1"
        " UNION ALL SELECT coalesce(max(position), 0) FROM events) AS heads)"
    )
    _move_to("audit_head", "last_event_position")
    op.drop_table("event_head")


def downgrade() -> None:
    _hold("audit_head")
    head = op.create_table(
        "event_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_position", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_event_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_head")),
    )
    op.bulk_insert(head, [{"id": 1, "last_position": 0}])
    op.execute(
        "UPDATE event_head SET last_position ="
        " (SELECT last_event_position FROM audit_head WHERE id = 1)"
    )
    _move_to("event_head", "last_position")
    op.drop_column("audit_head", "last_event_position")
