"""Which figures of a referral report are hidden, so that no count from 1 to
`min_cell - 1` is published or can be worked out from what is (README "Reports").

The report's counts form tables with margins, each protected by `disclosure.suppress`:

- the main table: groups by status, with rejected split by reason, its row totals the
  groups' `total` and its last row the report's `totals`;
- one single-column table per further count: entered in error, overdue, and the number of
  referrals behind each duration (`disclosure.suppress_column`). These counts overlap the
  main table (an overdue referral is open; an acknowledged one is past `requested`), so a
  group's further counts are hidden whenever its main row hides anything, then protected
  in their own column.

Derived figures follow their counts: a group's rejected count is published only when each
reason's is; its acceptance rate only when its main row is whole, its count of decided
referrals is published, and the accepted count (decided less rejected) is not small; a
median or 90th percentile only over at least `min_cell` durations.
"""

from __future__ import annotations

import copy
from typing import Any

from ..models.referral import REFERRAL_STATUSES
from . import disclosure

Figures = dict[str, Any]
STATUS_COLUMNS = [s for s in REFERRAL_STATUSES if s not in ("rejected", "entered-in-error")]
DURATION_FIGURES = (
    "time_to_acknowledge_s",
    "time_to_decide_s",
    "time_to_start_s",
    "time_to_complete_s",
)


FURTHER_COUNTS = ("entered_in_error", "overdue", *DURATION_FIGURES)


def further_count(figures: Figures, name: str) -> int:
    return int(figures[name]["count"] if name in DURATION_FIGURES else figures[name])


def small(count: int, min_cell: int) -> bool:
    return 0 < count < min_cell


def apply(
    rows: list[Figures], totals: Figures, *, min_cell: int
) -> tuple[list[tuple[Figures, bool]], tuple[Figures, bool]]:
    """The rows and the totals with hidden figures set to None, each with whether any
    figure of it is hidden."""
    lines = [*rows, totals]  # the totals are the last line of every table
    reasons = sorted({r for f in lines for r in f["rejection_reasons"]}, key=str)
    main = disclosure.suppress(
        [
            [f["counts"][s] for s in STATUS_COLUMNS]
            + [f["rejection_reasons"].get(r, 0) for r in reasons]
            for f in rows
        ],
        min_cell=min_cell,
    )
    width = len(STATUS_COLUMNS) + len(reasons)
    partial = [i for i in range(len(lines)) if not main.row_complete(i)]
    further: dict[str, set[int]] = {}
    for name in FURTHER_COUNTS:
        forced = set(partial)
        if name == "time_to_decide_s":
            # decided - rejected = accepted, which must not be published when small.
            forced |= {i for i, f in enumerate(lines) if small(f["accepted"], min_cell)}
        column = disclosure.suppress_column(
            [further_count(f, name) for f in rows],
            min_cell=min_cell,
            forced=(i for i in forced if i < len(rows)),
            hide_total=len(rows) in forced,
        )
        further[name] = set(column.hidden_rows) | ({len(rows)} if column.total else set())

    masked: list[tuple[Figures, bool]] = []
    for i, figures in enumerate(lines):
        out = copy.deepcopy(figures)
        hidden_reasons = [main.cell(i, len(STATUS_COLUMNS) + n) for n in range(len(reasons))]
        out["total"] = None if main.cell(i, width) else figures["total"]
        for j, status in enumerate(STATUS_COLUMNS):
            out["counts"][status] = None if main.cell(i, j) else figures["counts"][status]
        out["counts"]["rejected"] = None if any(hidden_reasons) else figures["counts"]["rejected"]
        out["rejection_reasons"] = {
            r: None if hide else figures["rejection_reasons"].get(r, 0)
            for r, hide in zip(reasons, hidden_reasons, strict=True)
        }
        for name in ("entered_in_error", "overdue"):
            out[name] = None if i in further[name] else figures[name]
        for name in DURATION_FIGURES:
            if i in further[name]:
                out[name]["count"] = None
            if figures[name]["count"] < min_cell:
                out[name]["median"] = out[name]["p90"] = None
        if i in partial or i in further["time_to_decide_s"] or small(figures["accepted"], min_cell):
            out["acceptance_rate"] = None
        del out["accepted"]
        masked.append((out, _nulled(figures, out)))
    return masked[:-1], masked[-1]


def _nulled(before: Any, after: Any) -> bool:
    """Whether a figure present before is None after."""
    if isinstance(before, dict):
        return any(_nulled(value, after.get(key)) for key, value in before.items() if key in after)
    return before is not None and after is None
