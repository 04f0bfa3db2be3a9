"""A service's opening hours as HSDS 3.1 `schedule` objects, and back.

The directory keeps weekly spans (`services/hours.py`: byday, opens_at, closes_at, in
each site's own time zone) and `open_24_7`. Each span is published as one WEEKLY
schedule (`byday` comma separated, as iCal); `open_24_7` as one schedule for every day
from 00:00 to 24:00 (the span it stands for). Times are HH:MM:SS, as the tabular
package's `time` fields and the official examples have them. The free-text `hours` stays
a schedule with only a `description`.

Read back, only a plain weekly schedule (no `interval` but 1, no week, month or year
days, no validity dates or counts) becomes a span: anything richer cannot be told from
a weekly span, so its description joins the free text and `open_now` does not guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..hours import DAYS, WIB, WIT, WITA
from . import mapping

ALL_WEEK = ",".join(DAYS)
# Spans close at 24:00 at the latest; a time of day ends at 23:59:59 (published so).
END_OF_DAY = "23:59:59"
# Indonesia's zones keep no daylight saving: their UTC offset (HSDS `timezone`) is fixed.
FIXED_ZONES = (WIB, WITA, WIT)
# Columns that make a schedule more than "these weekdays, these hours".
_NOT_WEEKLY: tuple[str, ...] = ("byweekno", "bymonthday", "byyearday", "dtstart")
_NOT_WEEKLY += ("valid_from", "valid_to", "until", "count")


def to_hsds(
    service_id: str,
    *,
    schedule: Iterable[Mapping[str, Any]] | None,
    open_24_7: bool,
    hours: str | None,
    zones: set[str | None],
) -> list[dict[str, Any]]:
    """The service's `schedules`: its spans (or 24/7), then its free-text hours."""
    common: dict[str, Any] = {"service_id": service_id, "freq": "WEEKLY", "wkst": "MO"}
    zone = next(iter(zones)) if len(zones) == 1 else None
    if zone in FIXED_ZONES:
        offset = datetime.now(ZoneInfo(str(zone))).utcoffset() or timedelta(0)
        common["timezone"] = int(offset.total_seconds()) // 3600  # whole hours
    result = []
    if open_24_7:
        whole_week = {"byday": ALL_WEEK, "opens_at": "00:00:00", "closes_at": END_OF_DAY}
        result.append(
            {"id": mapping.derived_id("schedule", service_id, "24/7"), **common, **whole_week}
        )
    else:
        for i, span in enumerate(schedule or []):
            result.append(
                {
                    "id": mapping.derived_id("schedule", service_id, i),
                    **common,
                    "byday": ",".join(span["byday"]),
                    "opens_at": to_time(span["opens_at"]),
                    "closes_at": to_time(span["closes_at"]),
                }
            )
    if hours:
        free_text = {"service_id": service_id, "description": hours}
        result.append({"id": mapping.derived_id("schedule", service_id), **free_text})
    return result


def to_time(clock: str) -> str:
    """`HH:MM` as a time of day, HH:MM:SS (the data package's `time`): `24:00`, the end
    of a day, as its last second."""
    return END_OF_DAY if clock == "24:00" else f"{clock}:00"


def is_weekly_span(values: Mapping[str, Any]) -> bool:
    """Whether an HSDS schedule is a plain weekly span this directory can keep."""
    if not (values.get("byday") or values.get("opens_at") or values.get("closes_at")):
        return False
    if str(values.get("freq") or "WEEKLY") != "WEEKLY":
        return False
    if str(values.get("interval") or 1) not in ("1", "1.0"):
        return False
    return not any(values.get(column) not in (None, "") for column in _NOT_WEEKLY)


def span_of(values: Mapping[str, Any]) -> dict[str, Any]:
    """A weekly span from an HSDS schedule (`is_weekly_span`), HH:MM:SS cut to HH:MM; the
    service's request schema then checks it like any span sent to the API."""

    def clock(value: Any) -> Any:
        text = str(value).strip() if value is not None else value
        if text == END_OF_DAY:
            return "24:00"
        return text[:5] if isinstance(text, str) and len(text) == 8 else text

    byday = values.get("byday")
    days = [d.strip() for d in str(byday).split(",")] if byday not in (None, "") else []
    return {
        "byday": days,
        "opens_at": clock(values.get("opens_at")),
        "closes_at": clock(values.get("closes_at")),
    }


def week_order(span: Mapping[str, Any]) -> tuple[int, str, str]:
    """Spans sort by their first day and opening time: a package lists its rows by id, and
    their order means nothing (a service is open if any span is)."""
    days = [DAYS.index(d) for d in span["byday"] if d in DAYS]
    return (min(days, default=len(DAYS)), str(span["opens_at"]), str(span["closes_at"]))


def is_24_7(span: Mapping[str, Any]) -> bool:
    return (
        sorted(span["byday"], key=str) == sorted(DAYS)
        and span["opens_at"] == "00:00"
        and span["closes_at"] in ("24:00", "00:00")
    )
