"""Opening hours: a site's time zone, and whether a service is open there at an instant.

Indonesia keeps three zones without daylight saving: WIB (UTC+7), WITA (UTC+8) and WIT
(UTC+9), fixed by province. A site abroad takes its country's zone from the tz
database's `zone.tab` (the first zone listed for the country: its most populous one).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
WIB, WITA, WIT = "Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"
# Province code -> zone, for the provinces outside WIB (Permen/Keppres 41/1987).
_NOT_WIB = {
    # Bali, Nusa Tenggara, Kalimantan Selatan/Timur/Utara, Sulawesi.
    **dict.fromkeys(("51", "52", "53", "63", "64", "65"), WITA),
    **dict.fromkeys(("71", "72", "73", "74", "75", "76"), WITA),
    # Maluku, Maluku Utara and the Papua provinces.
    **dict.fromkeys(("81", "82", "91", "92", "93", "94", "95", "96", "97"), WIT),
}


def zone_name(region_code: str | None, country: str) -> str | None:
    """The IANA zone of a site: by province in Indonesia, by country abroad."""
    if country == "ID":
        if not region_code or region_code == "ID":
            return None
        return _NOT_WIB.get(region_code[:2], WIB)
    return _country_zones().get(country)


@cache
def _country_zones() -> dict[str, str]:
    """Country code -> its first zone in the tz database's zone.tab (empty if absent)."""
    zones: dict[str, str] = {}
    for directory in zoneinfo.TZPATH:
        path = Path(directory) / "zone.tab"
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                country, _, name = line.split("\t")[:3]
                zones.setdefault(country, name)
        break
    return zones


def minutes(clock: str) -> int:
    """`HH:MM` -> minutes after midnight (`24:00` is 1440)."""
    hours, mins = clock.split(":")
    return int(hours) * 60 + int(mins)


def is_open(
    schedule: Sequence[Mapping[str, Any]] | None,
    *,
    open_24_7: bool,
    zone: str | None,
    at: datetime,
) -> bool | None:
    """Whether the service is open at `at` in the site's zone; None when not known.

    A span whose closing time is not after its opening time runs overnight: it opens on
    the days listed and closes the next morning.
    """
    if open_24_7:
        return True
    if schedule is None or zone is None:
        return None
    local = at.astimezone(zoneinfo.ZoneInfo(zone))
    today, now = DAYS[local.weekday()], local.hour * 60 + local.minute
    yesterday = DAYS[(local - timedelta(days=1)).weekday()]
    for span in schedule:
        opens, closes = minutes(span["opens_at"]), minutes(span["closes_at"])
        days = span["byday"]
        if opens < closes:
            if today in days and opens <= now < closes:
                return True
        elif (today in days and now >= opens) or (yesterday in days and now < closes):
            return True
    return False
