import pytest
from sqlalchemy import select

from referral_api.models import AuditEvent


def last_audit(session) -> AuditEvent:
    return session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()


ORG = {
    "name": "Lembaga Bantuan Hukum APIK NTB",
    "aliases": ["LBH APIK NTB"],
    "type": "legal_service",
    "level": "provincial",
    "region_code": "52.71",
    "website": "https://lbhapikntb.example.org",
    "email": "kontak@lbhapikntb.example.org",
    "phones": ["+62370612345"],
    "hotlines": ["129", "+6281234567890"],
    "languages": ["id", "sas"],
}


def test_admin_creates_org_location_service_and_public_reads_them(
    client, session, make_caller
) -> None:
    admin = make_caller("admin")
    org = client.post("/api/v1/organizations", json=ORG, headers=admin.headers)
    assert org.status_code == 201, org.json
    org_id = org.json["id"]
    assert org.json["status"] == "active"
    assert org.json["demo"] is False
    assert last_audit(session).action == "organization.create"

    location = client.post(
        "/api/v1/locations",
        json={
            "organization_id": org_id,
            "name": "Kantor Mataram",
            "address": "Jl. Pejanggik No. 1, Mataram",
            "region_code": "52.71",
            "latitude": -8.5833,
            "longitude": 116.1167,
        },
        headers=admin.headers,
    )
    assert location.status_code == 201, location.json
    service = client.post(
        "/api/v1/services",
        json={
            "organization_id": org_id,
            "name": "Pendampingan hukum korban TPPO",
            "service_types": ["legal_aid", "restitution"],
            "eligibility": {"age_min": 0, "age_max": 99, "genders": ["female"], "notes": "x"},
            "languages": ["id"],
            "coverage": ["52"],
            "location_ids": [location.json["id"]],
        },
        headers=admin.headers,
    )
    assert service.status_code == 201, service.json
    body = service.json
    assert body["service_types"] == ["legal_aid", "restitution"]
    assert body["eligibility"]["genders"] == ["female"]
    assert body["location_ids"] == [location.json["id"]]
    assert body["coverage"] == ["52"]
    assert body["fees"] == "free"
    assert body["capacity"] is None

    # Public reads.
    assert client.get(f"/api/v1/organizations/{org_id}").json["name"] == ORG["name"]
    listed = client.get("/api/v1/services", query_string={"organization_id": org_id}).json
    assert [s["id"] for s in listed["items"]] == [body["id"]]
    by_region = client.get("/api/v1/services", query_string={"region": "52.71.01"}).json
    assert body["id"] in {s["id"] for s in by_region["items"]}
    by_type = client.get(
        "/api/v1/organizations", query_string={"type": "legal_service", "region": "52"}
    ).json
    assert org_id in {o["id"] for o in by_type["items"]}
    by_name = client.get("/api/v1/organizations", query_string={"q": "apik ntb"}).json
    assert [o["id"] for o in by_name["items"]] == [org_id]


def test_org_admin_edits_own_entries_but_gets_403_on_others(
    client, session, make_caller, directory_entry
) -> None:
    mine, theirs = directory_entry(), directory_entry()
    admin = make_caller("org_admin", organization=mine["organization"])
    own = client.patch(
        f"/api/v1/services/{mine['service'].id}",
        json={"capacity": {"beds_total": 12, "beds_available": 3}},
        headers=admin.headers,
    )
    assert own.status_code == 200, own.json
    assert own.json["capacity"]["beds_available"] == 3
    assert own.json["capacity"]["updated_at"].endswith("Z")
    assert last_audit(session).action == "service.update"

    for method, url, body in [
        ("patch", f"/api/v1/organizations/{theirs['organization'].id}", {"name": "x"}),
        ("patch", f"/api/v1/services/{theirs['service'].id}", {"name": "x"}),
        ("patch", f"/api/v1/locations/{theirs['location'].id}", {"name": "x"}),
        ("delete", f"/api/v1/services/{theirs['service'].id}", None),
        ("post", f"/api/v1/organizations/{theirs['organization'].id}/verify", None),
        (
            "post",
            "/api/v1/services",
            {
                "organization_id": str(theirs["organization"].id),
                "name": "x",
                "service_types": ["legal_aid"],
            },
        ),
    ]:
        response = getattr(client, method)(url, json=body, headers=admin.headers)
        assert response.status_code == 403, (method, url, response.json)
    assert client.post("/api/v1/organizations", json=ORG, headers=admin.headers).status_code == 403


def test_caseworker_and_public_cannot_write(client, make_caller, directory_entry) -> None:
    entry = directory_entry()
    url = f"/api/v1/organizations/{entry['organization'].id}"
    assert client.patch(url, json={"name": "x"}).status_code == 401
    caseworker = make_caller("caseworker", organization=entry["organization"])
    assert client.patch(url, json={"name": "x"}, headers=caseworker.headers).status_code == 403


def test_delete_deactivates_and_nothing_is_removed(client, make_caller, directory_entry) -> None:
    entry = directory_entry()
    admin = make_caller("org_admin", organization=entry["organization"])
    org_url = f"/api/v1/organizations/{entry['organization'].id}"
    for url in (
        f"/api/v1/services/{entry['service'].id}",
        f"/api/v1/locations/{entry['location'].id}",
        org_url,
    ):
        response = client.delete(url, headers=admin.headers)
        assert response.status_code == 200
        assert response.json["status"] == "inactive"
        assert client.get(url).status_code == 200  # still there, just inactive
    org_id = str(entry["organization"].id)
    active = client.get("/api/v1/organizations", query_string={"q": entry["organization"].name})
    assert org_id not in {o["id"] for o in active.json["items"]}
    inactive = client.get("/api/v1/organizations", query_string={"status": "inactive"})
    assert org_id in {o["id"] for o in inactive.json["items"]}


def test_verify_sets_verified_at_and_filters_stale(client, make_caller, directory_entry) -> None:
    fresh, stale = directory_entry(), directory_entry()
    url = f"/api/v1/organizations/{fresh['organization'].id}/verify"
    own = make_caller("org_admin", organization=fresh["organization"])
    assert client.post(url, headers=own.headers).status_code == 403  # not its own check
    elsewhere = make_caller("coordinator", coverage_code="32")
    assert client.post(url, headers=elsewhere.headers).status_code == 403
    admin = make_caller("coordinator", coverage_code="53")  # the entry lies in 53.71
    response = client.post(url, headers=admin.headers)
    assert response.status_code == 200
    assert response.json["verified_by"] == str(admin.principal.id)
    since = response.json["verified_at"]
    listed = client.get(
        "/api/v1/organizations", query_string={"verified_since": since, "per_page": 100}
    ).json
    ids = {o["id"] for o in listed["items"]}
    assert str(fresh["organization"].id) in ids
    assert str(stale["organization"].id) not in ids


def test_pagination_headers(client, directory_entry) -> None:
    for _ in range(3):
        directory_entry(region_code="61.71", latitude=-0.03, longitude=109.33)
    response = client.get(
        "/api/v1/organizations", query_string={"region": "61.71", "per_page": 2, "page": 1}
    )
    assert response.json["total"] == 3 and len(response.json["items"]) == 2
    assert response.headers["X-Total-Count"] == "3"
    assert 'rel="next"' in response.headers["Link"]
    assert "page=2" in response.headers["Link"]
    last = client.get(
        "/api/v1/organizations", query_string={"region": "61.71", "per_page": 2, "page": 2}
    )
    assert len(last.json["items"]) == 1
    assert 'rel="next"' not in last.headers["Link"]


# -- validation: every rule names its field ----------------------------------------------------


@pytest.fixture
def admin_headers(make_caller):
    return make_caller("admin").headers


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"phones": ["0380-833300"]}, "phones.0"),
        ({"hotlines": ["call us"]}, "hotlines.0"),
        ({"languages": ["indonesian"]}, "languages.0"),
        ({"languages": ["xx"]}, "languages.0"),
        ({"type": "militia"}, "type"),
        ({"region_code": "99.99"}, "region_code"),
        ({"region_code": "Kupang"}, "region_code"),
        ({"email": "not-an-email"}, "email"),
        ({"website": "ftp://x"}, "website"),
        ({"secret_field": 1}, "secret_field"),
        ({"name": ""}, "name"),
    ],
)
def test_organization_validation(client, admin_headers, patch, field) -> None:
    response = client.post("/api/v1/organizations", json={**ORG, **patch}, headers=admin_headers)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in response.json["errors"], response.json


@pytest.fixture
def org_id(client, admin_headers) -> str:
    return client.post("/api/v1/organizations", json=ORG, headers=admin_headers).json["id"]


LOCATION = {
    "name": "Kantor",
    "address": "Jl. Pejanggik No. 1",
    "region_code": "52.71",
    "latitude": -8.58,
    "longitude": 116.11,
}


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"latitude": 91}, "latitude"),
        ({"latitude": -90.5}, "latitude"),
        ({"longitude": 180.01}, "longitude"),
        ({"latitude": "north"}, "latitude"),
        ({"longitude": None}, "longitude"),
        ({"country": "Malaysia"}, "country"),
        ({"country": "XX"}, "country"),
        ({"region_code": "52.99"}, "region_code"),
        ({"region_code": None}, "region_code"),
        # An embassy in Kuala Lumpur carries a country and no Indonesian region.
        ({"country": "MY", "latitude": 3.16, "longitude": 101.72}, "region_code"),
        ({"unknown": True}, "unknown"),
    ],
)
def test_location_validation(client, admin_headers, org_id, patch, field) -> None:
    body = {"organization_id": org_id, **LOCATION, **patch}
    response = client.post("/api/v1/locations", json=body, headers=admin_headers)
    assert response.status_code == 422
    assert field in response.json["errors"], response.json


def test_location_abroad_is_accepted_without_region(client, admin_headers, org_id) -> None:
    body = {
        "organization_id": org_id,
        "name": "KBRI Kuala Lumpur",
        "address": "233 Jalan Tun Razak, Kuala Lumpur",
        "region_code": None,
        "country": "MY",
        "latitude": 3.1612,
        "longitude": 101.7197,
    }
    response = client.post("/api/v1/locations", json=body, headers=admin_headers)
    assert response.status_code == 201, response.json
    assert response.json["country"] == "MY" and response.json["region_code"] is None


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"eligibility": {"age_min": 18, "age_max": 17}}, "eligibility.age_min"),
        ({"eligibility": {"age_min": -1}}, "eligibility.age_min"),
        ({"eligibility": {"genders": ["woman"]}}, "eligibility.genders.0"),
        ({"capacity": {"beds_total": 4, "beds_available": 5}}, "capacity.beds_available"),
        ({"capacity": {"beds_total": -1}}, "capacity.beds_total"),
        ({"service_types": ["massage"]}, "service_types.0"),
        ({"service_types": []}, "service_types"),
        ({"coverage": ["53", "77.77"]}, "coverage"),
        ({"coverage": ["Jawa"]}, "coverage.0"),
        ({"languages": ["zz"]}, "languages.0"),
        ({"location_ids": ["6f1c1e1e-0000-4000-8000-000000000000"]}, "location_ids"),
        ({"status": "closed"}, "status"),
        ({"extra": 1}, "extra"),
    ],
)
def test_service_validation(client, admin_headers, org_id, patch, field) -> None:
    body = {"organization_id": org_id, "name": "Layanan", "service_types": ["legal_aid"], **patch}
    response = client.post("/api/v1/services", json=body, headers=admin_headers)
    assert response.status_code == 422
    assert field in response.json["errors"], response.json


def test_service_patch_checks_merged_values(client, admin_headers, directory_entry) -> None:
    entry = directory_entry(eligibility={"age_min": 10, "age_max": 17})
    url = f"/api/v1/services/{entry['service'].id}"
    response = client.patch(url, json={"eligibility": {"age_max": 9}}, headers=admin_headers)
    assert response.status_code == 422
    assert "eligibility.age_min" in response.json["errors"]
    assert client.get(url).json["eligibility"]["age_max"] == 17  # nothing half-written


def test_service_cannot_use_another_organizations_location(
    client, admin_headers, directory_entry
) -> None:
    mine, theirs = directory_entry(), directory_entry()
    response = client.patch(
        f"/api/v1/services/{mine['service'].id}",
        json={"location_ids": [str(theirs["location"].id)]},
        headers=admin_headers,
    )
    assert response.status_code == 422
    assert "location_ids" in response.json["errors"]


def test_unknown_ids_are_404(client) -> None:
    for kind in ("organizations", "services", "locations"):
        response = client.get(f"/api/v1/{kind}/6f1c1e1e-0000-4000-8000-000000000000")
        assert response.status_code == 404


def test_unknown_query_parameter_is_refused(client) -> None:
    response = client.get("/api/v1/services?servce_type=legal_aid")
    assert response.status_code == 422
    assert response.json["errors"] == {"servce_type": ["Unknown field."]}
