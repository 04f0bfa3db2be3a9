"""Page through a SELECT: one COUNT, one LIMIT/OFFSET."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Row, Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")
U = TypeVar("U")

MAX_PER_PAGE = 100


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def map(self, view: Callable[[T], U]) -> Page[U]:
        """The same page with `view` applied to each item."""
        return Page([view(item) for item in self.items], self.page, self.per_page, self.total)


def paginate(session: Session, stmt: Select[T], *, page: int, per_page: int) -> Page[T]:
    """Run `stmt`, a SELECT of one entity or column, for one page; `stmt` must have a
    deterministic ORDER BY."""
    total, one_page = _count_and_limit(session, stmt, page=page, per_page=per_page)
    return Page(list(session.scalars(one_page)), page, per_page, total)


def paginate_rows(
    session: Session,
    stmt: Select[Any],
    *,
    page: int,
    per_page: int,
    item: Callable[[Row[Any]], U],
) -> Page[U]:
    """Run `stmt`, a SELECT of columns, for one page, making each row an item."""
    total, one_page = _count_and_limit(session, stmt, page=page, per_page=per_page)
    return Page([item(row) for row in session.execute(one_page)], page, per_page, total)


def _count_and_limit(
    session: Session, stmt: Select[Any], *, page: int, per_page: int
) -> tuple[int, Select[Any]]:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    return total, stmt.limit(per_page).offset((page - 1) * per_page)
