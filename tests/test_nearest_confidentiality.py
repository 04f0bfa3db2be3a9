"""An attacker triangulating a safe house with repeated nearest searches learns nothing."""

import json
import math

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


def test_twenty_points_around_a_safe_house(client, session, directory_entry, make_caller) -> None:
    house = directory_entry(
        region_code="53.71",
        latitude=SAFE[0],
        longitude=SAFE[1],
        confidential=True,
        address=STREET,
        service_types=("temporary_shelter",),
    )
    location_id = str(house["location"].id)
    regency = session.get(Region, "53.71")
    centroid = (regency.latitude, regency.longitude)
    outsider = make_caller("caseworker")  # another organization's caseworker
    member = make_caller("caseworker", organization=house["organization"])

    for point in ring(SAFE):
        query = {"lat": point[0], "lng": point[1], "service_type": "temporary_shelter"}
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
