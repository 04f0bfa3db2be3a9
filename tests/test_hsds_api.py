"""The HSDS read API's parameters, envelopes, profile and refusals (one transaction per
test, on the run's database)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from referral_api.services import directory
from referral_api.services.actors import Actor
from referral_api.services.hsds import mapping

from .test_hsds import requires_hsds

HSDS = "/api/hsds"


def get(client: Any, path: str, status: int = 200, **params: Any) -> Any:
    response = client.get(HSDS + path, query_string=params)
    assert response.status_code == status, response.get_json()
    return response.get_json()


def test_root_declares_version_profile_and_api(client) -> None:
    root = get(client, "/")
    assert root["version"] == "3.1"
    assert root["profile"].endswith("/api/hsds/profile")
    assert root["openapi_url"].endswith("/openapi.json")
    # HSDS clients ask for `{base}/`; the OpenAPI document names the paths without a slash
    assert get(client, "") == root
    assert get(client, "/schema") == get(client, "/schema/")
    profile = get(client, "/profile/")
    assert get(client, "/profile") == profile
    assert set(profile["patches"]) >= {"service", "organization", "taxonomy_term"}


@requires_hsds
def test_profile_schema_is_the_official_one_with_the_patch_merged(client) -> None:
    patch = get(client, "/profile/service.json")
    area = patch["properties"]["service_areas"]["items"]
    assert area["required"] == ["id", "name", "region_code"]
    compiled = get(client, "/schema/service.json")
    merged_area = compiled["properties"]["service_areas"]["items"]
    assert merged_area["required"] == ["id", "name", "region_code"]
    # the official properties are kept beside the profile's
    assert {"extent", "region_code", "service_id"} <= set(merged_area["properties"])
    assert compiled["required"] == ["id", "name", "status"]
    assert get(client, "/schema/nothing.json", status=404)["status"] == 404
    assert get(client, "/profile/nothing.json", status=404)["status"] == 404


def test_a_safe_house_stays_out_even_for_an_admin_token(
    client, directory_entry, make_caller
) -> None:
    entry = directory_entry(confidential=True, region_code="53.71.01", coverage=[])
    service_id = str(entry["service"].id)
    admin = make_caller("admin")
    body = client.get(f"{HSDS}/services/{service_id}", headers=admin.headers).get_json()
    assert body["service_at_locations"] == []
    # given only at a safe house: its regency (not the district) is the service area
    assert [a["region_code"] for a in body["service_areas"]] == ["53.71"]
    text = client.get(f"{HSDS}/services", query_string={"full": "true", "per_page": 100}).text
    assert str(entry["location"].id) not in text and "Melati" not in text
    org = get(client, f"/organizations/{entry['organization'].id}")
    assert org["locations"] == [] and [s["id"] for s in org["services"]] == [service_id]
    sals = get(client, "/service_at_locations", per_page=100, organization_id=org["id"])
    assert sals["empty"] is True and sals["contents"] == []
    hidden_sal = mapping.service_at_location_id(service_id, entry["location"].id)
    assert get(client, f"/service_at_locations/{hidden_sal}", status=404)["status"] == 404


def test_public_site_is_listed_with_its_address_and_regions(client, directory_entry) -> None:
    entry = directory_entry(region_code="53.71.01", beds_total=None)
    sal_id = mapping.service_at_location_id(entry["service"].id, entry["location"].id)
    sal = get(client, f"/service_at_locations/{sal_id}")
    address = sal["location"]["addresses"][0]
    assert address["address_1"] == "Jl. Melati No. 7, Oebobo"
    assert address["region_code"] == "53.71.01"
    assert address["state_province"] == "Nusa Tenggara Timur"
    assert address["city"] == "Kota Kupang"


def test_capacity_is_in_beds(client, directory_entry) -> None:
    entry = directory_entry(capacity={"beds_total": 12, "beds_available": 3})
    body = get(client, f"/services/{entry['service'].id}")
    (capacity,) = body["capacities"]
    assert (capacity["available"], capacity["maximum"]) == (3, 12)
    assert capacity["unit"]["name"] == "bed"


def test_pages_and_their_envelope(client, directory_entry) -> None:
    ids = {str(directory_entry()["organization"].id) for _ in range(3)}
    first = get(client, "/organizations", per_page=2, page=1)
    total_pages = first["total_pages"]
    last = get(client, "/organizations", per_page=2, page=total_pages)
    assert first["first_page"] and not first["last_page"] and first["size"] == 2
    assert last["last_page"] and last["page_number"] == total_pages
    assert first["total_items"] >= 3 and first["empty"] is False
    seen = {
        o["id"]
        for n in range(1, total_pages + 1)
        for o in get(client, "/organizations", per_page=2, page=n)["contents"]
    }
    assert ids <= seen
    nothing = get(client, "/services", search="tidak-ada-layanan-seperti-ini")
    assert nothing["empty"] is True and nothing["total_items"] == 0 and nothing["contents"] == []


def test_taxonomy_term_filters_by_type_and_pillar(client, directory_entry) -> None:
    shelter = directory_entry(service_types=("temporary_shelter",))["service"]
    legal = directory_entry(service_types=("legal_aid",))["service"]
    terms = get(client, "/taxonomy_terms", per_page=100)["contents"]
    by_code = {t["code"]: t for t in terms}
    legal_type = next(t for t in mapping.SERVICE_TYPES if t.code == "legal_aid")
    assert (by_code["legal_aid"]["name"], by_code["legal_aid"]["name_en"]) == (
        legal_type.label_id,
        legal_type.label_en,
    )
    assert by_code["temporary_shelter"]["parent_id"] == by_code["protection"]["id"]
    listed = get(client, "/services", per_page=100, taxonomy_term_id=by_code["legal_aid"]["id"])
    ids = {s["id"] for s in listed["contents"]}
    assert str(legal.id) in ids and str(shelter.id) not in ids
    pillar = by_code[legal_type.pillar]
    in_pillar = get(client, "/services", per_page=100, taxonomy_term_id=pillar["id"])
    assert str(legal.id) in {s["id"] for s in in_pillar["contents"]}
    term = get(client, f"/taxonomy_terms/{by_code['legal_aid']['id']}")
    assert term["taxonomy_detail"]["id"] == term["taxonomy_id"]


def test_modified_after_and_minimal_sync_to_the_full_set(client, session, directory_entry) -> None:
    entries = [directory_entry() for _ in range(3)]
    everything = get(client, "/services", per_page=100, minimal="true")
    full = get(client, "/services", per_page=100)
    assert everything["total_items"] == full["total_items"]
    assert set(everything["contents"][0]) == {"id", "name", "status", "last_modified"}
    time.sleep(0.01)
    since = datetime.now(UTC)
    time.sleep(0.01)
    changed = entries[1]["service"]
    directory.update_service(
        session, actor=Actor.system(), service_id=changed.id, data={"name": "Nama baru"}
    )
    directory.update_location(
        session,
        actor=Actor.system(),
        location_id=entries[2]["location"].id,
        data={"address": "Jl. Baru 1"},
    )
    session.flush()
    delta = get(client, "/services", per_page=100, minimal="true", modified_after=since.isoformat())
    assert {s["id"] for s in delta["contents"]} == {str(changed.id), str(entries[2]["service"].id)}
    synced = {s["id"]: s for s in everything["contents"]}
    synced.update({s["id"]: s for s in delta["contents"]})
    now = {s["id"]: s for s in get(client, "/services", per_page=100, minimal="true")["contents"]}
    assert synced == now


def test_ndjson_streams_every_result(client, directory_entry) -> None:
    for _ in range(3):
        directory_entry()
    response = client.get(f"{HSDS}/services", query_string={"format": "ndjson"})
    assert response.mimetype == "application/x-ndjson"
    lines = response.get_data(as_text=True).splitlines()
    assert len(lines) == get(client, "/services", per_page=1)["total_items"] >= 3


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"per_page": 101}, "per_page"),
        ({"page": 0}, "page"),
        ({"format": "xml"}, "format"),
        ({"taxonomy_term_id": "not-a-uuid"}, "taxonomy_term_id"),
        ({"taxonomy_term_id": "3f7b145d-84af-42d7-8fae-eaca714b02b2"}, "taxonomy_term_id"),
        ({"modified_after": "yesterday"}, "modified_after"),
        ({"postcode": "85111"}, "postcode"),
    ],
)
def test_bad_parameters_are_refused_naming_the_field(client, params, field) -> None:
    response = client.get(f"{HSDS}/services", query_string=params)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in response.get_json()["errors"]


def test_the_feed_is_read_only(client, make_caller) -> None:
    admin = make_caller("admin")
    for path in ("/services", "/organizations", "/taxonomy_terms"):
        response = client.post(HSDS + path, json={}, headers=admin.headers)
        assert response.status_code == 405
