"""Disclosure-safe reports: no count from 1 to MIN_CELL - 1 is published, and linear
programming over everything a report publishes cannot narrow any hidden count to a range
narrower than MIN_CELL."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from referral_api.models import AuditEvent
from referral_api.services import disclosure
from referral_api.services.oversight import whole_months
from referral_api.services.report_suppression import DURATION_FIGURES, STATUS_COLUMNS

from .disclosure_helpers import Grid, feasible_ranges
from .test_reports import KEYS, brute_force, make_histories

MIN_CELL = 5
COUNTS = st.sampled_from([0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 8, 13, 40])


@pytest.fixture
def histories(session, make_organization):
    return make_histories(session, make_organization)


def hide(cells: list[list[int]], suppression: disclosure.Suppression) -> Grid:
    return [
        [None if suppression.cell(i, j) else count for j, count in enumerate(line)]
        for i, line in enumerate(disclosure.extend(cells))
    ]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 7).flatmap(
        lambda columns: st.lists(
            st.lists(COUNTS, min_size=columns, max_size=columns), min_size=1, max_size=9
        )
    )
)
def test_every_hidden_count_ranges_at_least_min_cell(cells) -> None:
    suppression = disclosure.suppress(cells, min_cell=MIN_CELL)
    extended = disclosure.extend(cells)
    for i, line in enumerate(extended):
        for j, count in enumerate(line):
            if 0 < count < MIN_CELL:
                assert suppression.cell(i, j), (i, j)
    for (i, j), (low, high) in feasible_ranges(hide(cells, suppression)).items():
        assert low <= extended[i][j] <= high
        assert high - low >= MIN_CELL - 1e-9, (cells, (i, j), low, high)


def test_forced_cells_are_hidden_and_protected() -> None:
    cells = [[9, 12], [20, 7], [6, 30]]
    suppression = disclosure.suppress(cells, min_cell=MIN_CELL, forced={(0, 0)})
    assert suppression.cell(0, 0)
    ranges = feasible_ranges(hide(cells, suppression))
    assert len(ranges) >= 4
    assert all(high - low >= MIN_CELL for low, high in ranges.values())


def test_nothing_small_hides_nothing() -> None:
    suppression = disclosure.suppress([[0, 7], [9, 0]], min_cell=MIN_CELL)
    assert suppression.hidden == frozenset()


def main_table(body: dict) -> tuple[Grid, list[tuple[list[tuple[int, int]], int]]]:
    """The report's groups by status (rejected by reason) with its margins, as published,
    and each published rejected count as the sum of its row's reasons."""
    lines = [*body["groups"], body["totals"]]
    reasons = sorted({r for line in lines for r in line["rejection_reasons"]})
    first = len(STATUS_COLUMNS)
    grid: Grid = []
    sums = []
    for i, line in enumerate(lines):
        row = [line["counts"][s] for s in STATUS_COLUMNS]
        row += [line["rejection_reasons"][r] for r in reasons]
        grid.append([*row, line["total"]])
        if line["counts"]["rejected"] is not None:
            sums.append(([(i, first + n) for n in range(len(reasons))], line["counts"]["rejected"]))
    return grid, sums


def column_table(body: dict, name: str) -> Grid:
    """One further count as a single-column table: each group's, then the total (the
    row totals repeat the column)."""

    def value(line: dict) -> int | None:
        return line[name]["count"] if name in DURATION_FIGURES else line[name]

    return [[value(line), value(line)] for line in [*body["groups"], body["totals"]]]


def published_counts(body: dict) -> list[int]:
    counts = []
    for line in [*body["groups"], body["totals"]]:
        counts += [line["total"], line["entered_in_error"], line["overdue"]]
        counts += list(line["counts"].values()) + list(line["rejection_reasons"].values())
        counts += [line[name]["count"] for name in DURATION_FIGURES]
    return [c for c in counts if c is not None]


def assert_protected(grid: Grid, extra=()) -> int:
    ranges = feasible_ranges(grid, extra)
    for cell, (low, high) in ranges.items():
        assert high - low >= MIN_CELL - 1e-9, (cell, low, high, grid)
    return len(ranges)


@pytest.mark.parametrize("group_by", list(KEYS))
def test_published_reports_cannot_be_narrowed(client, make_caller, histories, group_by) -> None:
    made, now = histories
    admin = make_caller("admin")
    body = client.get(f"/api/v1/reports/referrals?group_by={group_by}", headers=admin.headers).json
    assert body["min_cell"] == MIN_CELL
    assert not any(0 < count < MIN_CELL for count in published_counts(body))
    expected = brute_force(made, now, group_by)
    hidden = 0
    for line in body["groups"]:
        truth = expected[line["key"]]
        for status, count in line["counts"].items():
            assert count in (None, truth["counts"][status]), (line["key"], status)
        assert line["total"] in (None, truth["total"])
        if None in line["counts"].values() or line["total"] is None:
            assert line["suppressed"], line["key"]
        for name in DURATION_FIGURES:
            if line[name]["median"] is not None:
                assert line[name]["median"] == truth[name]["median"]
                assert truth[name]["count"] >= MIN_CELL
    grid, sums = main_table(body)
    hidden += assert_protected(grid, sums)
    for name in ("entered_in_error", "overdue", *DURATION_FIGURES):
        hidden += assert_protected(column_table(body, name))
    assert hidden > 0  # the generated history has small groups to hide


def test_suppressed_groups_are_marked(client, make_caller, histories) -> None:
    admin = make_caller("admin")
    body = client.get("/api/v1/reports/referrals?group_by=organization", headers=admin.headers).json
    marked = [g for g in body["groups"] if g["suppressed"]]
    assert marked
    for group in body["groups"]:
        nulls = [v for v in group["counts"].values() if v is None]
        if nulls:
            assert group["suppressed"]


def test_unsuppressed_is_for_admins_and_audited(client, session, make_caller, histories) -> None:
    coordinator = make_caller("coordinator", coverage_code="53")
    refused = client.get("/api/v1/reports/referrals?suppress=false", headers=coordinator.headers)
    assert refused.status_code == 403
    assert "suppress=false" in refused.json["detail"]
    admin = make_caller("admin")
    body = client.get(
        "/api/v1/reports/referrals?suppress=false&group_by=risk_level", headers=admin.headers
    ).json
    assert body["min_cell"] is None
    assert not any(g["suppressed"] for g in body["groups"])
    events = session.query(AuditEvent).filter_by(action="report.unsuppressed").all()
    assert len(events) == 1
    assert events[0].actor_principal_id == admin.principal.id
    assert '"group_by":"risk_level"' in events[0].summary


def test_coordinator_periods_are_whole_months(client, make_caller, histories) -> None:
    coordinator = make_caller("coordinator", coverage_code="53")
    body = client.get(
        "/api/v1/reports/referrals?from=2026-10-17T08:00:00Z&to=2026-11-03T00:00:00Z",
        headers=coordinator.headers,
    ).json
    assert (body["from"], body["to"]) == ("2026-10-01T00:00:00Z", "2026-12-01T00:00:00Z")
    made, now = histories
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) - timedelta(days=20)
    start = month.replace(day=1)
    mid = start + timedelta(days=12)
    assert any(start <= r.created_at < mid for r, _, _ in made)  # a day's difference to hide
    admin = make_caller("admin")

    def report(caller, moment):
        return client.get(
            f"/api/v1/reports/referrals?region=53&group_by=risk_level&from="
            f"{moment.strftime('%Y-%m-%dT%H:%M:%SZ')}",
            headers=caller.headers,
        ).json

    assert report(coordinator, mid)["groups"] == report(admin, start)["groups"]
    assert report(admin, mid)["from"] == mid.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert report(admin, mid)["groups"] != report(admin, start)["groups"]


def test_whole_months() -> None:
    def at(*parts: int) -> datetime:
        return datetime(*parts, tzinfo=UTC)

    assert whole_months(at(2026, 12, 31, 23, 59), at(2026, 12, 1)) == (
        at(2026, 12, 1),
        at(2026, 12, 1),
    )
    assert whole_months(None, at(2026, 12, 31, 23, 59)) == (None, at(2027, 1, 1))
    assert whole_months(at(2026, 1, 31), at(2026, 1, 31) + timedelta(seconds=1)) == (
        at(2026, 1, 1),
        at(2026, 2, 1),
    )


def test_bad_suppress_value_is_422(client, make_caller) -> None:
    admin = make_caller("admin")
    response = client.get("/api/v1/reports/referrals?suppress=maybe", headers=admin.headers)
    assert response.status_code == 422
    assert "suppress" in response.json["errors"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(COUNTS, min_size=1, max_size=12),
    st.sets(st.integers(0, 11), max_size=3),
    st.booleans(),
)
def test_a_single_column_keeps_every_hidden_count_ranging(counts, forced, hide_total) -> None:
    forced = {i for i in forced if i < len(counts)}
    column = disclosure.suppress_column(
        counts, min_cell=MIN_CELL, forced=forced, hide_total=hide_total
    )
    assert forced <= column.hidden_rows
    assert {i for i, c in enumerate(counts) if 0 < c < MIN_CELL} <= column.hidden_rows
    total = sum(counts)
    if hide_total or 0 < total < MIN_CELL:
        assert column.total
    grid: Grid = [[None, None] if i in column.hidden_rows else [c, c] for i, c in enumerate(counts)]
    grid.append([None, None] if column.total else [total, total])
    for cell, (low, high) in feasible_ranges(grid).items():
        assert high - low >= MIN_CELL - 1e-9, (counts, forced, cell, low, high)
