"""Small-cell suppression for a table of counts with its margins (primary plus secondary
suppression, in the statistical-disclosure-control literature's words).

A table is `cells[row][column]`; its margins (row totals, column totals, the grand total)
are published with it, so they are cells of the *extended* table too: row `R` holds the
column totals, column `C` the row totals, and `(R, C)` the grand total.

Primary: every cell, margins included, whose count lies in 1..min_cell-1 (and any cell
the caller forces).

Secondary: each suppressed cell must be a corner of a *protecting rectangle*: rows i, i'
and columns j, j' of the extended table whose four corners are all suppressed. Adding t
to (i, j) and (i', j') and taking t from (i, j') and (i', j) -- with the signs flipped on a
row or column total, which moves with its row or column -- changes no published figure,
so every t that keeps the four counts at or above zero is consistent with everything
published. The four counts move by |t|, so each ranges over an interval at least as wide
as the range of t: the smaller count among those that t lowers plus the smaller among
those it raises. A rectangle protects when that width is at least min_cell.

For each suppressed cell without such a rectangle (smallest count first), the cheapest
protecting rectangle through it is suppressed: fewest column totals and grand total
newly hidden, then fewest row totals, then fewest new cells, then the least count newly
hidden, then the most corners not yet protected (so that one search protects up to four
cells and fewer searches are needed), then the first in row and column order. One always
exists: the cell with its row total, its column total and the grand total -- t raises all
four, so nothing bounds it above. The search looks first among rectangles that reuse
hidden cells (another row that hides a cell in the same column, another column that
hides a cell in the same row), and widens only when none of those protects without
hiding a margin; it weighs each set of rectangles at once (numpy).

This is the hypercube method of tau-Argus restricted to two dimensions; it may hide more
than an optimal (linear-programming) pattern would, never less than the rule requires.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Cell = tuple[int, int]


@dataclass(frozen=True)
class Suppression:
    """Which cells of the extended table are hidden; `rows` and `columns` count the
    table's own rows and columns (the margins are row `rows` and column `columns`)."""

    rows: int
    columns: int
    hidden: frozenset[Cell]

    def cell(self, row: int, column: int) -> bool:
        """Whether a cell of the extended table is hidden (row `rows` holds the column
        totals, column `columns` the row totals)."""
        return (row, column) in self.hidden

    def row_complete(self, row: int) -> bool:
        """Whether every count in the row, its total included, is published (`row` may
        be `rows`: the column totals)."""
        return not any((row, column) in self.hidden for column in range(self.columns + 1))


@dataclass(frozen=True)
class ColumnSuppression:
    hidden_rows: frozenset[int]
    total: bool


def suppress_column(
    counts: list[int], *, min_cell: int, forced: Iterable[int] = (), hide_total: bool = False
) -> ColumnSuppression:
    """A single column with its total: hide the small counts and the `forced` rows, then
    the smallest others until at least two are hidden and they add up to `min_cell` or
    more. Knowing only their sum s, each hidden count then ranges over [0, s]. When the
    column cannot give that, or its total is small or must be hidden, the total is hidden
    (with at least one count), and then nothing bounds a hidden count from above."""
    hidden = {i for i, count in enumerate(counts) if 0 < count < min_cell} | set(forced)
    others = sorted((count, i) for i, count in enumerate(counts) if i not in hidden)
    if hide_total and not hidden and others:
        hidden.add(others.pop(0)[1])
    if not hidden:
        return ColumnSuppression(frozenset(), False)
    while others and (len(hidden) < 2 or sum(counts[i] for i in hidden) < min_cell):
        hidden.add(others.pop(0)[1])
    safe = len(hidden) >= 2 and sum(counts[i] for i in hidden) >= min_cell
    return ColumnSuppression(frozenset(hidden), hide_total or not safe)


def extend(cells: list[list[int]]) -> list[list[int]]:
    """The table with its row totals as a last column and column totals as a last row."""
    width = len(cells[0]) if cells else 0
    rows = [[*row, sum(row)] for row in cells]
    return [*rows, [sum(row[j] for row in rows) for j in range(width + 1)]]


def suppress(cells: list[list[int]], *, min_cell: int, forced: Iterable[Cell] = ()) -> Suppression:
    """Hide every count in 1..min_cell-1, every cell in `forced`, and the complementary
    cells that keep each hidden count's feasible range at least `min_cell` wide."""
    rows, columns = len(cells), len(cells[0]) if cells else 0
    if rows == 0 or columns == 0:
        return Suppression(rows, columns, frozenset())
    table = np.array(extend(cells), dtype=np.int64)
    hidden = (table > 0) & (table < min_cell)
    for i, j in forced:
        hidden[i, j] = True
    protected = np.zeros_like(hidden)
    search = _Search(table, min_cell)
    for i, j in sorted(zip(*np.nonzero(hidden), strict=True), key=lambda c: (table[c], c)):
        if not protected[i, j]:
            for corner in search.cheapest(int(i), int(j), hidden, protected):
                hidden[corner] = protected[corner] = True
    return Suppression(
        rows, columns, frozenset((int(i), int(j)) for i, j in zip(*np.nonzero(hidden), strict=True))
    )


class _Search:
    """Weighs every rectangle through a cell: corners (i, j), (k, m) move by +t and
    (i, m), (k, j) by -t, each the other way when it is a row or column total."""

    def __init__(self, table: NDArray[np.int64], min_cell: int) -> None:
        self.table, self.min_cell = table, min_cell
        self.last_row, self.last_column = table.shape[0] - 1, table.shape[1] - 1
        self.margin = np.zeros(table.shape, dtype=bool)  # a row or column total
        self.margin[self.last_row, : self.last_column] = True
        self.margin[: self.last_row, self.last_column] = True
        # A cost is a number whose digits are, from the least: the corners already
        # protected (0..3), the count newly hidden (never over three grand totals), the
        # cells newly hidden, the row totals and the column totals newly hidden (0..3).
        self.base = 4 * (3 * int(table[self.last_row, self.last_column]) + 1)
        # Any cost from here up hides a margin.
        self.margin_cost = 4 * self.base

    def cheapest(
        self, i: int, j: int, hidden: NDArray[np.bool_], protected: NDArray[np.bool_]
    ) -> list[tuple[int, int]]:
        """First among the rectangles whose other row hides a cell in column j and whose
        other column hides a cell in row i; then any column; then any row. The first of
        these that finds a rectangle hiding no margin has the answer."""
        rows, columns = np.arange(self.table.shape[0]), np.arange(self.table.shape[1])
        near_rows, near_columns = np.flatnonzero(hidden[:, j]), np.flatnonzero(hidden[i, :])
        found = None
        for ks, ms in ((near_rows, near_columns), (near_rows, columns), (rows, columns)):
            best = self._best(i, j, hidden, protected, ks, ms)
            if best is not None and (found is None or best < found):
                found = best
            if found is not None and found[0] < self.margin_cost:
                break
        assert found is not None  # the cell with its margins always protects
        k, m = found[1]
        return [(i, j), (k, m), (i, m), (k, j)]

    def _best(
        self,
        i: int,
        j: int,
        hidden: NDArray[np.bool_],
        protected: NDArray[np.bool_],
        ks: NDArray[np.intp],
        ms: NDArray[np.intp],
    ) -> tuple[int, tuple[int, int]] | None:
        """The cheapest protecting rectangle through (i, j) with its other row in `ks`
        and its other column in `ms`: its cost and (k, m)."""
        ks, ms = ks[ks != i], ms[ms != j]
        if ks.size == 0 or ms.size == 0:
            return None
        t, never = self.table, np.iinfo(np.int64).max // 4
        cross = np.ix_(ks, ms)
        a, d, b, c = t[i, j], t[cross], t[i, ms][None, :], t[ks, j][:, None]
        # Whether t raises each corner; t >= -(least raised) and t <= least lowered.
        ups = (
            not self.margin[i, j],
            ~self.margin[cross],
            self.margin[i, ms][None, :],
            self.margin[ks, j][:, None],
        )
        raised = lowered = np.full(d.shape, never)
        for count, up in zip((a, d, b, c), ups, strict=True):
            raised = np.minimum(raised, np.where(up, count, never))
            lowered = np.minimum(lowered, np.where(up, never, count))
        valid = raised + lowered >= self.min_cell
        new_d = (~hidden[cross]).astype(np.int64)
        new_b, new_c = ~hidden[i, ms][None, :], ~hidden[ks, j][:, None]
        last_row = ks[:, None] == self.last_row
        last_column = ms[None, :] == self.last_column
        tops = new_d * last_row + new_b * (i == self.last_row) + new_c * last_row
        row_totals = (
            new_d * (last_column & ~last_row)
            + new_b * (last_column & (i != self.last_row))
            + new_c * ((j == self.last_column) & ~last_row)
        )
        count_new = new_d + new_b + new_c
        hidden_count = d * new_d + b * new_b + c * new_c
        already = (
            protected[cross].astype(np.int64)
            + protected[i, ms][None, :]
            + protected[ks, j][:, None]
        )
        cost = ((tops * 4 + row_totals) * 4 + count_new) * self.base + hidden_count * 4 + already
        cost[~valid] = np.iinfo(np.int64).max
        at = int(np.argmin(cost))
        if not valid.flat[at]:
            return None
        row, column = divmod(at, d.shape[1])
        return int(cost.flat[at]), (int(ks[row]), int(ms[column]))
