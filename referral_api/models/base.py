"""Declarative base and the column types every aggregate shares."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    Dialect,
    MetaData,
    SQLColumnExpression,
    String,
    Table,
    TypeDecorator,
    cast,
    func,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and always read back timezone-aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC times")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


# JSONB on PostgreSQL (indexable, compact), JSON text on SQLite.
JSONType = JSON().with_variant(JSONB(), "postgresql")


def uuid_text(dialect: str, column: SQLColumnExpression[uuid.UUID | None]) -> ColumnElement[str]:
    """SQL: a UUID column as its dashed lowercase text, on either database."""
    if dialect == "postgresql":
        return cast(column, String)
    raw = type_coerce(column, String)  # SQLite stores 32 hex digits
    spans = ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
    parts = [func.substr(raw, start, length, type_=String) for start, length in spans]
    text: ColumnElement[str] = parts[0]
    for part in parts[1:]:
        text = text + "-" + part
    return text


def update_params(table: Table, **params: Any) -> dict[str, Any]:
    """Parameters for a prebuilt UPDATE of `table`. SQLAlchemy SETs every column that a
    parameter names, whatever the statement's `.values()` say, so none may name one."""
    clash = sorted(params.keys() & set(table.c.keys()))
    if clash:
        raise ValueError(f"parameters {clash} name columns of {table.name}: rename them")
    return params


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    if TYPE_CHECKING:
        # Every model here is mapped to a Table (none to a join or a select), so
        # narrow DeclarativeBase's FromClause: `Model.__table__.insert()` type-checks.
        __table__: ClassVar[Table]
