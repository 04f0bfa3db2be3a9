"""Partner events are positioned after they commit, not in the writer's COMMIT.

Revision 0008 gave each event its position in a trigger at the writer's COMMIT (on
PostgreSQL a deferred constraint trigger holding `event_head`'s row lock): two more row
writes and a second serialising lock in every changing request. Now a writer only inserts
its event, with `seq` (the order of insertion, from a sequence on PostgreSQL); the next
reader of the outbox — the worker's round or the change feed — positions every committed
event without one, in `seq` order, under `event_head`'s lock (`services.events.
position_new`). Positions still follow commit order: an event gets one only once its
transaction has committed, and always a larger one than any handed out before.

`seq` stays nullable in the schema: adding a NOT NULL column to SQLite would rebuild
`events`, which `webhook_deliveries` references. Every insert sets it (`emit`), and rows
written before this revision take their position as their `seq`.

Revision ID: 20261129_0014
Revises: 20261129_0009
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261129_0014"
down_revision: str | None = "20261129_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_PG_POSITION = """
CREATE FUNCTION events_assign_position() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  next_position bigint;
BEGIN
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
OLD_SQLITE_POSITION = """
CREATE TRIGGER events_assign_position AFTER INSERT ON events
BEGIN
  SELECT RAISE(ABORT, 'event_head is missing: no event can be positioned')
    WHERE NOT EXISTS (SELECT 1 FROM event_head WHERE id = 1);
  UPDATE event_head SET last_position = last_position + 1 WHERE id = 1;
  UPDATE events SET position = (SELECT last_position FROM event_head WHERE id = 1)
    WHERE id = NEW.id;
END
"""


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _postgres():
        op.execute("DROP TRIGGER IF EXISTS events_assign_position ON events")
        op.execute("DROP FUNCTION IF EXISTS events_assign_position()")
    else:
        op.execute("DROP TRIGGER IF EXISTS events_assign_position")
    op.add_column("events", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.execute("UPDATE events SET seq = position")
    op.create_index("uq_events_seq", "events", ["seq"], unique=True)
    if _postgres():
        op.execute("CREATE SEQUENCE events_seq AS bigint OWNED BY events.seq")
        op.execute(
            "SELECT setval('events_seq', (SELECT coalesce(max(seq), 0) + 1 FROM events), false)"
        )


def downgrade() -> None:
    # Position what the new code left unpositioned, then restore the trigger.
    op.execute(
        """
        UPDATE events SET position = (SELECT last_position FROM event_head WHERE id = 1)
          + (SELECT count(*) FROM events AS earlier
             WHERE earlier.position IS NULL AND earlier.seq <= events.seq)
        WHERE position IS NULL
        """
    )
    op.execute(
        "UPDATE event_head SET last_position = coalesce((SELECT max(position) FROM events), 0)"
    )
    op.drop_index("uq_events_seq", table_name="events")
    if _postgres():
        op.execute("DROP SEQUENCE IF EXISTS events_seq CASCADE")
    op.drop_column("events", "seq")
    op.execute(OLD_PG_POSITION if _postgres() else OLD_SQLITE_POSITION)
