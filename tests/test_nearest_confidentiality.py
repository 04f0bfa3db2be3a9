"""An attacker triangulating a safe house with repeated nearest searches learns nothing."""

import json
import math

import pytest
from geopy.distance import geodesic

from referral_api.models import Region

SAFE = (-10.14291, 123.63417)
STREET = "Jl. Flamboyan Tersembunyi No. 21"


def ring(center, n=20, radius_deg=0.3):
    return [
        (
            center[0] + radius_deg * math.sin(2 * math.pi * i / n) * (1 + i % 3) / 2,
            center[1] + radius_deg * math.cos(2 * math.pi * i / n) * (1 + i % 3) / 2,
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("extra", [{}, {"open_now": "true"}])
def test_twenty_points_around_a_safe_house(
    client, session, directory_entry, make_caller, extra
) -> None:
    house = directory_entry(
        region_code="53.71",
        latitude=SAFE[0],
        longitude=SAFE[1],
        confidential=True,
        address=STREET,
        service_types=("temporary_shelter",),
        open_24_7=True,
    )
    location_id = str(house["location"].id)
    regency = session.get(Region, "53.71")
    centroid = (regency.latitude, regency.longitude)
    outsider = make_caller("caseworker")  # another organization's caseworker
    member = make_caller("caseworker", organization=house["organization"])

    for point in ring(SAFE):
        query = {"lat": point[0], "lng": point[1], "service_type": "temporary_shelter", **extra}
        public = client.get("/api/v1/services/nearest", query_string=query)
        assert public.status_code == 200
        # The items, that is: the origin echoes the query point, which may share a latitude.
        text = json.dumps(public.json["items"])
        assert location_id not in text and STREET not in text
        assert str(SAFE[0]) not in text and str(SAFE[1]) not in text

        seen = client.get("/api/v1/services/nearest", query_string=query, headers=outsider.headers)
        text = json.dumps(seen.json["items"])
        assert STREET not in text and "Flamboyan" not in text
        assert str(SAFE[0]) not in text and str(SAFE[1]) not in text
        items = [i for i in seen.json["items"] if i["location"]["id"] == location_id]
        assert len(items) == 1
        item = items[0]
        assert item["location"]["confidential"] is True
        assert item["location"]["latitude"] is None and item["location"]["address"] is None
        assert item["location"]["region_code"] == "53.71"
        assert item["distance_km"] == round(geodesic(point, centroid).km, 1)
        assert item["distance_approximate"] is True and item["open_now"] is True

        own = client.get("/api/v1/services/nearest", query_string=query, headers=member.headers)
        mine = next(i for i in own.json["items"] if i["location"]["id"] == location_id)
        assert mine["distance_km"] == round(geodesic(point, SAFE).km, 1)
        assert mine["location"]["address"] == STREET


def test_radius_cannot_probe_the_real_site(client, directory_entry, make_caller, session) -> None:
    """A tiny radius around the real site finds nothing for an outsider."""
    house = directory_entry(
        region_code="53.71", latitude=SAFE[0], longitude=SAFE[1], confidential=True
    )
    outsider = make_caller("caseworker")
    response = client.get(
        "/api/v1/services/nearest",
        query_string={"lat": SAFE[0], "lng": SAFE[1], "radius_km": 0.5},
        headers=outsider.headers,
    )
    assert str(house["location"].id) not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "near", ["Maulafa", "Kec. Maulafa", "Kelapa Lima", "Kota Kupang", "Kabupaten Kupang"]
)
def test_near_a_district_reveals_neither_site_nor_district(
    client, session, directory_entry, make_caller, near
) -> None:
    """Naming the safe house's own district (Maulafa, 53.71.02) or its neighbours as the
    origin gives an outsider the regency centroid's distance, never the district."""
    house = directory_entry(
        region_code="53.71.02",
        org_region_code="53.71",
        latitude=SAFE[0],
        longitude=SAFE[1],
        confidential=True,
        address=STREET,
        open_24_7=True,
    )
    outsider = make_caller("caseworker")
    regency = session.get(Region, "53.71")
    for extra in ({}, {"open_now": "true"}):
        body = client.get(
            "/api/v1/services/nearest",
            query_string={"near": near, "service_type": "temporary_shelter", **extra},
            headers=outsider.headers,
        ).json
        origin = (body["origin"]["latitude"], body["origin"]["longitude"])
        item = next(i for i in body["items"] if i["location"]["id"] == str(house["location"].id))
        text = json.dumps(body["items"])
        assert "53.71.02" not in text and STREET not in text and str(SAFE[0]) not in text
        assert item["location"]["region_code"] == "53.71"
        centroid = (regency.latitude, regency.longitude)
        assert item["distance_km"] == round(geodesic(origin, centroid).km, 1)
        assert item["distance_approximate"] is True
    # Public callers do not learn that it exists.
    public = client.get("/api/v1/services/nearest", query_string={"near": near}).json
    assert str(house["location"].id) not in json.dumps(public["items"])
