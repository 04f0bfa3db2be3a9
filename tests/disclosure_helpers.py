"""What an attacker can work out from a published table: each hidden cell's feasible
range, by linear programming over everything published (scipy, in the tests only)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.optimize import linprog

Cell = tuple[int, int]
Grid = list[list[int | None]]  # the extended table: last row and column are the margins


def feasible_ranges(
    grid: Grid, extra: Sequence[tuple[Sequence[Cell], int]] = ()
) -> dict[Cell, tuple[float, float]]:
    """For each hidden (None) cell of the extended table, the least and greatest value
    consistent with the published cells, every row and column adding up to its margin,
    each published sum of cells in `extra`, and no count below zero."""
    rows, columns = len(grid), len(grid[0])

    def at(i: int, j: int) -> int:
        return i * columns + j

    equations = []
    for i in range(rows):
        line = np.zeros(rows * columns)
        line[[at(i, j) for j in range(columns - 1)]] = 1
        line[at(i, columns - 1)] = -1
        equations.append(line)
    for j in range(columns):
        line = np.zeros(rows * columns)
        line[[at(i, j) for i in range(rows - 1)]] = 1
        line[at(rows - 1, j)] = -1
        equations.append(line)
    sums = [0.0] * len(equations)
    for cells, total in extra:
        line = np.zeros(rows * columns)
        line[[at(i, j) for i, j in cells]] = 1
        equations.append(line)
        sums.append(total)
    a_eq, b_eq = np.array(equations), np.array(sums)
    bounds = [
        (0, None) if grid[i][j] is None else (grid[i][j], grid[i][j])
        for i in range(rows)
        for j in range(columns)
    ]
    ranges = {}
    for i in range(rows):
        for j in range(columns):
            if grid[i][j] is not None:
                continue
            objective = np.zeros(rows * columns)
            objective[at(i, j)] = 1
            low = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
            high = linprog(-objective, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
            assert low.status == 0, low.message  # the published table is consistent
            ranges[(i, j)] = (low.fun, math.inf if high.status == 3 else -high.fun)
    return ranges
