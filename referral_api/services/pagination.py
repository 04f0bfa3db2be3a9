"""Page through a SELECT: one COUNT, one LIMIT/OFFSET."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Row, Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")

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


def paginate(
    session: Session,
    stmt: Select[Any],
    *,
    page: int,
    per_page: int,
    item: Callable[[Row[Any]], Any] | None = None,
) -> Page[Any]:
    """Run `stmt` for one page; `stmt` must have a deterministic ORDER BY.

    Items are the statement's first column (an ORM entity), or `item(row)` if given.
    """
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    one_page = stmt.limit(per_page).offset((page - 1) * per_page)
    if item is None:
        items = list(session.scalars(one_page))
    else:
        items = [item(row) for row in session.execute(one_page)]
    return Page(items=items, page=page, per_page=per_page, total=total)
