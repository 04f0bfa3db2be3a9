"""A safe house's site never leaks: walk every directory endpoint as an outsider."""

import re

import pytest

SECRET_ADDRESS = "Jl. Kenanga Rahasia No. 13"
SECRET_LAT, SECRET_LNG = -10.16473, 123.59821
DISTRICT = "53.71.02"
# Everything else under /api/v1 is the directory (and is walked below).
NOT_DIRECTORY = (
    "/api/v1/me",
    "/api/v1/tokens",
    "/api/v1/audit",
    "/api/v1/referrals",
    "/api/v1/cases",
    "/api/v1/reports",
    "/api/v1/webhooks",
)


@pytest.fixture
def safe_house(directory_entry):
    return directory_entry(
        region_code=DISTRICT,
        org_region_code="53.71",
        latitude=SECRET_LAT,
        longitude=SECRET_LNG,
        confidential=True,
        address=SECRET_ADDRESS,
        coverage=["53"],
        open_24_7=True,
    )


def directory_urls(app, safe_house) -> list[str]:
    """Every GET endpoint of the directory, with every id and filter that could match."""
    ids = {
        "organization_id": str(safe_house["organization"].id),
        "service_id": str(safe_house["service"].id),
        "location_id": str(safe_house["location"].id),
        "code": DISTRICT,
    }
    filters = [
        {},
        {"organization_id": ids["organization_id"]},
        {"region": DISTRICT},
        {"region": "53.71"},
        {"region": "53"},
        {"service_type": "temporary_shelter"},
        {"per_page": "100"},
        # The nearest search from a place named in words, open now.
        {"near": "kupang", "open_now": "true", "service_type": "temporary_shelter"},
    ]
    urls = []
    for rule in app.url_map.iter_rules():
        path = rule.rule
        if "GET" not in rule.methods or not path.startswith("/api/v1/"):
            continue
        if path.startswith(NOT_DIRECTORY):
            continue
        for name in rule.arguments:
            path = path.replace(f"<{rule._converters[name].__class__.__name__.lower()}:", "<")
        concrete = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: ids[m.group(1)], path)
        if rule.arguments:
            urls.append(concrete)
        else:
            urls += [concrete + "?" + "&".join(f"{k}={v}" for k, v in f.items()) for f in filters]
    return urls


def leaks(text: str) -> list[str]:
    found = [s for s in (SECRET_ADDRESS, "Kenanga") if s in text]
    found += [s for s in (str(SECRET_LAT), str(SECRET_LNG), "10.1647", "123.5982") if s in text]
    return found


def test_public_callers_never_see_the_safe_house(app, client, safe_house) -> None:
    location_id = str(safe_house["location"].id)
    urls = directory_urls(app, safe_house)
    assert len(urls) >= 30
    for url in urls:
        response = client.get(url)
        text = response.get_data(as_text=True)
        assert not leaks(text), (url, leaks(text))
        if response.status_code != 404:  # a 404 may echo the id the caller sent
            assert location_id not in text, url  # not even that it exists
    assert client.get(f"/api/v1/locations/{location_id}").status_code == 404


def test_other_organizations_see_only_the_regency(app, client, safe_house, make_caller) -> None:
    outsider = make_caller("caseworker")
    coordinator = make_caller("coordinator", coverage_code="53")
    for caller in (outsider, coordinator):
        for url in directory_urls(app, safe_house):
            response = client.get(url, headers=caller.headers)
            text = response.get_data(as_text=True)
            assert not leaks(text), (url, leaks(text))
            assert DISTRICT not in text or url.endswith(DISTRICT) or f"region={DISTRICT}" in url
        location = client.get(
            f"/api/v1/locations/{safe_house['location'].id}", headers=caller.headers
        ).json
        assert location["confidential"] is True
        assert location["region_code"] == "53.71"
        assert location["address"] is None and location["latitude"] is None
    # A district filter must not reveal which district the safe house is in.
    listed = client.get(
        "/api/v1/locations", query_string={"region": DISTRICT}, headers=outsider.headers
    ).json
    assert str(safe_house["location"].id) not in {loc["id"] for loc in listed["items"]}


def test_members_and_admins_see_the_site(client, safe_house, make_caller) -> None:
    member = make_caller("caseworker", organization=safe_house["organization"])
    admin = make_caller("admin")
    for caller in (member, admin):
        location = client.get(
            f"/api/v1/locations/{safe_house['location'].id}", headers=caller.headers
        ).json
        assert location["address"] == SECRET_ADDRESS
        assert location["latitude"] == SECRET_LAT
        assert location["region_code"] == DISTRICT
