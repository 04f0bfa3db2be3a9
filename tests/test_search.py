"""Filtered and nearest search through the API."""

from datetime import UTC, datetime, timedelta

import pytest
from geopy.distance import geodesic

from referral_api.models import Region

KUPANG = (-10.1772, 123.6070)


@pytest.fixture
def kupang_directory(directory_entry):
    """Three services around Kupang with different eligibility and capacity."""
    girls = directory_entry(
        latitude=-10.16,
        longitude=123.60,
        service_types=("temporary_shelter", "psychosocial_support"),
        eligibility={"age_min": 6, "age_max": 17, "genders": ["female"]},
        capacity={"beds_total": 10, "beds_available": 2},
        languages=["id", "en"],
        description="Rumah aman anak perempuan korban perdagangan orang",
    )
    adults = directory_entry(
        latitude=-10.20,
        longitude=123.55,
        service_types=("temporary_shelter",),
        eligibility={"age_min": 18, "genders": ["female", "male"]},
        capacity={"beds_total": 8, "beds_available": 0},
        languages=["id"],
    )
    legal = directory_entry(
        latitude=-10.15,
        longitude=123.62,
        service_types=("legal_aid",),
        org_type="legal_service",
        coverage=["ID"],
    )
    return {"girls": girls, "adults": adults, "legal": legal}


def ids(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [item["id"] for item in response.json["items"]]


def sid(entry) -> str:
    return str(entry["service"].id)


def test_filters_combine(client, kupang_directory) -> None:
    d = kupang_directory
    get = lambda **q: ids(client.get("/api/v1/services", query_string={**q, "per_page": 100}))  # noqa: E731
    assert set(get(region="53.71")) == {sid(d["girls"]), sid(d["adults"]), sid(d["legal"])}
    assert set(get(service_type=["temporary_shelter", "legal_aid"], region="53")) == {
        sid(d["girls"]),
        sid(d["adults"]),
        sid(d["legal"]),
    }
    assert get(service_type="temporary_shelter", age=16, gender="female") == [sid(d["girls"])]
    assert get(service_type="temporary_shelter", age=16, gender="male") == []
    assert get(service_type="temporary_shelter", has_capacity="true") == [sid(d["girls"])]
    assert get(q="perdagangan ANAK") == [sid(d["girls"])]
    assert get(q=d["legal"]["organization"].name.lower()) == [sid(d["legal"])]
    assert get(language="en") == [sid(d["girls"])]
    assert get(organization_type="legal_service", region="53.71") == [sid(d["legal"])]
    # Coverage: a national service matches any region; a NTT service no region in Java.
    assert sid(d["legal"]) in get(region="32.73")
    assert sid(d["girls"]) not in get(region="32.73")


def test_verified_since_filter(client, session, kupang_directory) -> None:
    org = kupang_directory["girls"]["organization"]
    org.verified_at = datetime.now(UTC) - timedelta(days=400)
    session.flush()
    since = (datetime.now(UTC) - timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert sid(kupang_directory["girls"]) not in ids(
        client.get("/api/v1/services", query_string={"verified_since": since})
    )
    older = (datetime.now(UTC) - timedelta(days=500)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(client.get("/api/v1/services", query_string={"verified_since": older})) == [
        sid(kupang_directory["girls"])
    ]


def test_nearest_from_point(client, kupang_directory) -> None:
    response = client.get(
        "/api/v1/services/nearest",
        query_string={"lat": KUPANG[0], "lng": KUPANG[1], "service_type": "temporary_shelter"},
    )
    assert response.status_code == 200
    body = response.json
    assert body["origin"] == {
        "latitude": KUPANG[0],
        "longitude": KUPANG[1],
        "source": "point",
        "place": None,
        "alternatives": [],
    }
    distances = [item["distance_km"] for item in body["items"]]
    assert distances == sorted(distances)
    first = body["items"][0]
    expected = round(geodesic(KUPANG, (-10.16, 123.60)).km, 1)
    assert first["distance_km"] == expected
    assert first["service"]["id"] == sid(kupang_directory["girls"])
    assert first["location"]["id"] == str(kupang_directory["girls"]["location"].id)
    assert first["organization"]["name"] == kupang_directory["girls"]["organization"].name


def test_nearest_filters_limit_and_radius(client, kupang_directory) -> None:
    q = {"lat": KUPANG[0], "lng": KUPANG[1]}
    assert (
        len(client.get("/api/v1/services/nearest", query_string={**q, "limit": 2}).json["items"])
        == 2
    )
    within = client.get("/api/v1/services/nearest", query_string={**q, "radius_km": 3}).json
    assert within["items"] and all(i["distance_km"] <= 3 for i in within["items"])
    girls = client.get(
        "/api/v1/services/nearest", query_string={**q, "age": 16, "gender": "female"}
    ).json["items"]
    assert sid(kupang_directory["adults"]) not in {i["service"]["id"] for i in girls}


def test_nearest_from_region_centroids(client, session, kupang_directory) -> None:
    regency = client.get("/api/v1/services/nearest", query_string={"region": "53.71"}).json
    kota = session.get(Region, "53.71")
    assert regency["origin"] == {
        "latitude": kota.latitude,
        "longitude": kota.longitude,
        "source": "regency_centroid",
        "place": None,
        "alternatives": [],
    }
    district = client.get("/api/v1/services/nearest", query_string={"region": "53.71.01"}).json
    assert district["origin"]["source"] == "regency_centroid"
    province = client.get("/api/v1/services/nearest", query_string={"region": "53"}).json
    assert province["origin"]["source"] == "province_centroid"
    kota.latitude = kota.longitude = None
    session.flush()
    fallback = client.get("/api/v1/services/nearest", query_string={"region": "53.71"}).json
    assert fallback["origin"]["source"] == "province_centroid"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"lat": 91, "lng": 120}, "lat"),
        ({"lat": -10, "lng": 181}, "lng"),
        ({"lat": "utara", "lng": 120}, "lat"),
        ({"lat": "nan", "lng": 120}, "lat"),
        ({"lat": -10}, "lng"),
        ({"lng": 120}, "lat"),
        ({}, "lat"),
        ({"lat": -10, "lng": 120, "region": "53.71"}, "region"),
        ({"region": "99.99"}, "region"),
        ({"region": "ID"}, "region"),
        ({"region": "53.71", "service_type": "massage"}, "service_type.0"),
        ({"region": "53.71", "limit": 101}, "limit"),
        ({"region": "53.71", "limit": 0}, "limit"),
        ({"region": "53.71", "radius_km": -5}, "radius_km"),
        ({"region": "53.71", "radius_km": 2001}, "radius_km"),
        ({"region": "53.71", "within_region": "77"}, "region"),
        ({"region": "53.71", "age": "sixteen"}, "age"),
        ({"region": "53.71", "gender": "girl"}, "gender"),
        ({"region": "53.71", "colour": "red"}, "colour"),
    ],
)
def test_nearest_bad_input_names_the_parameter(client, query, field) -> None:
    response = client.get("/api/v1/services/nearest", query_string=query)
    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    assert field in response.json["errors"], response.json


def test_list_bad_region_is_422(client) -> None:
    response = client.get("/api/v1/services", query_string={"region": "53.99"})
    assert response.status_code == 422
    assert "region" in response.json["errors"]
