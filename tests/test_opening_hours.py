"""Opening hours in each site's own time zone (WIB, WITA, WIT; abroad the country's)."""

from datetime import UTC, datetime

import pytest
import time_machine

from referral_api.services.hours import is_open, zone_name

WEEKDAYS = ["MO", "TU", "WE", "TH", "FR"]
OFFICE = [{"byday": WEEKDAYS, "opens_at": "08:00", "closes_at": "16:00"}]
# Intake on Friday and Saturday nights, closing the next morning.
NIGHTS = [{"byday": ["FR", "SA"], "opens_at": "20:00", "closes_at": "06:00"}]
# Monday 2 February 2026.
MONDAY = datetime(2026, 2, 2, tzinfo=UTC)


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return MONDAY.replace(day=day, hour=hour, minute=minute)


def test_zones_follow_the_province_and_the_country() -> None:
    assert zone_name("31.71", "ID") == "Asia/Jakarta"  # Jakarta: WIB
    assert zone_name("61.71.01", "ID") == "Asia/Jakarta"  # Pontianak: WIB
    assert zone_name("53.71", "ID") == "Asia/Makassar"  # Kupang: WITA
    assert zone_name("64.72", "ID") == "Asia/Makassar"  # Samarinda: WITA
    assert zone_name("81.71", "ID") == "Asia/Jayapura"  # Ambon: WIT
    assert zone_name("91.71", "ID") == "Asia/Jayapura"  # Jayapura: WIT
    assert zone_name(None, "MY") == "Asia/Kuala_Lumpur"
    assert zone_name(None, "SA") == "Asia/Riyadh"
    assert zone_name(None, "ID") is None  # an Indonesian site without a region


@pytest.mark.parametrize(
    ("at", "wib", "wita", "wit"),
    [
        # 00:30 UTC Monday = 07:30 WIB, 08:30 WITA, 09:30 WIT.
        (utc(2, 0, 30), False, True, True),
        # 08:30 UTC = 15:30 WIB, 16:30 WITA, 17:30 WIT.
        (utc(2, 8, 30), True, False, False),
        # 23:30 UTC Sunday = 06:30 WIB Monday, 07:30 WITA, 08:30 WIT: the day has turned.
        (utc(1, 23, 30), False, False, True),
        # 16:59 UTC Friday = 23:59 WIB, 00:59 WITA and 01:59 WIT on Saturday.
        (utc(6, 16, 59), False, False, False),
    ],
)
def test_office_hours_in_three_zones(at, wib, wita, wit) -> None:
    seen = [
        is_open(OFFICE, open_24_7=False, zone=zone, at=at)
        for zone in ("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura")
    ]
    assert seen == [wib, wita, wit]


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (utc(6, 11, 59), False),  # Friday 19:59 WITA
        (utc(6, 12, 0), True),  # Friday 20:00 WITA
        (utc(6, 16, 0), True),  # Saturday 00:00 WITA: past midnight, still Friday's night
        (utc(6, 21, 59), True),  # Saturday 05:59 WITA
        (utc(6, 22, 0), False),  # Saturday 06:00 WITA: closed
        (utc(7, 17, 0), True),  # Sunday 01:00 WITA: Saturday's night
        (utc(8, 17, 0), False),  # Monday 01:00 WITA: no Sunday night
    ],
)
def test_an_overnight_span_closes_the_next_morning(at, expected) -> None:
    assert is_open(NIGHTS, open_24_7=False, zone="Asia/Makassar", at=at) is expected


def test_unknown_hours_are_not_a_closed_door() -> None:
    at = utc(2, 3)
    assert is_open(None, open_24_7=False, zone="Asia/Jakarta", at=at) is None
    assert is_open(OFFICE, open_24_7=False, zone=None, at=at) is None
    assert is_open(None, open_24_7=True, zone=None, at=at) is True
    assert is_open([], open_24_7=False, zone="Asia/Jakarta", at=at) is False
    whole_day = [{"byday": ["MO"], "opens_at": "00:00", "closes_at": "24:00"}]
    assert is_open(whole_day, open_24_7=False, zone="Asia/Jakarta", at=utc(1, 17)) is True
    assert is_open(whole_day, open_24_7=False, zone="Asia/Jakarta", at=utc(2, 16, 59)) is True
    assert is_open(whole_day, open_24_7=False, zone="Asia/Jakarta", at=utc(2, 17)) is False


@pytest.fixture
def three_zones(directory_entry):
    """The same office hours in Jakarta (WIB), Kupang (WITA) and Jayapura (WIT), a 24/7
    shelter and a service whose hours are not known."""
    shelter = ("temporary_shelter",)
    return {
        "jakarta": directory_entry(
            region_code="31.71", latitude=-6.18, longitude=106.82, schedule=OFFICE
        ),
        "kupang": directory_entry(
            region_code="53.71", latitude=-10.17, longitude=123.60, schedule=OFFICE
        ),
        "jayapura": directory_entry(
            region_code="91.71", latitude=-2.54, longitude=140.70, schedule=OFFICE
        ),
        "always": directory_entry(
            region_code="53.71", latitude=-10.16, longitude=123.61, open_24_7=True
        ),
        "unknown": directory_entry(
            region_code="53.71", latitude=-10.15, longitude=123.62, service_types=shelter
        ),
    }


def nearest(client, **query):
    query = {"lat": -6.2, "lng": 120.0, "limit": 100, **query}
    response = client.get("/api/v1/services/nearest", query_string=query)
    assert response.status_code == 200, response.json
    return {item["service"]["id"]: item for item in response.json["items"]}


@pytest.mark.parametrize(
    ("at", "open_names"),
    [
        (utc(2, 0, 30), {"kupang", "jayapura", "always"}),
        (utc(2, 8, 30), {"jakarta", "always"}),
        (utc(1, 23, 30), {"jayapura", "always"}),  # Monday has begun only in WIT
        (utc(2, 16, 59), {"always"}),  # 23:59 WIB: past midnight in WITA and WIT
    ],
)
def test_open_now_at_a_frozen_clock(client, three_zones, at, open_names) -> None:
    by_name = {str(entry["service"].id): name for name, entry in three_zones.items()}
    with time_machine.travel(at, tick=False):
        every = nearest(client)
        only_open = nearest(client, open_now="true")
    said = {by_name[sid]: item["open_now"] for sid, item in every.items() if sid in by_name}
    assert said == {name: name in open_names for name in three_zones} | {"unknown": None}
    assert {by_name[sid] for sid in only_open if sid in by_name} == open_names
    assert all(item["open_now"] is True for item in only_open.values())


def test_hours_are_validated(client, make_caller, directory_entry) -> None:
    entry = directory_entry()
    admin = make_caller("org_admin", organization=entry["organization"])
    url = f"/api/v1/services/{entry['service'].id}"
    bad = [
        ({"byday": ["MO"], "opens_at": "25:00", "closes_at": "06:00"}, "opens_at"),
        ({"byday": ["MO"], "opens_at": "08:00", "closes_at": "08:00"}, "closes_at"),
        ({"byday": ["XX"], "opens_at": "08:00", "closes_at": "16:00"}, "byday"),
        ({"byday": ["MO", "MO"], "opens_at": "08:00", "closes_at": "16:00"}, "byday"),
        ({"byday": [], "opens_at": "08:00", "closes_at": "16:00"}, "byday"),
        ({"opens_at": "08:00", "closes_at": "16:00"}, "byday"),
    ]
    for span, field in bad:
        response = client.patch(url, json={"schedule": [span]}, headers=admin.headers)
        assert response.status_code == 422, span
        assert response.content_type == "application/problem+json"
        assert field in str(response.json["errors"]), (span, response.json)
    unchanged = client.get(url).json
    assert unchanged["schedule"] is None and unchanged["open_24_7"] is False

    good = client.patch(url, json={"schedule": NIGHTS, "open_24_7": False}, headers=admin.headers)
    assert good.status_code == 200, good.json
    assert good.json["schedule"] == NIGHTS
