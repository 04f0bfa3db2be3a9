"""Tampering with the audit trail as an insider with the database could."""

from sqlalchemy import text

from referral_api.db import make_engine

DROP_TRIGGERS = {
    "sqlite": [
        "DROP TRIGGER audit_events_no_update",
        "DROP TRIGGER audit_events_no_delete",
    ],
    "postgresql": ["ALTER TABLE audit_events DISABLE TRIGGER USER"],
}


def tamper(url: str, *statements: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        for statement in DROP_TRIGGERS[engine.dialect.name]:
            conn.execute(text(statement))
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()
