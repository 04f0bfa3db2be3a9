"""Page through a SELECT: one COUNT, one LIMIT/OFFSET."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Select, func, select
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
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    items = list(session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, page=page, per_page=per_page, total=total)
