"""Regression tests for the problems a review of the whole service found."""

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from referral_api import create_app, migrate
from referral_api.db import make_engine
from referral_api.models import Organization, Referral
from referral_api.services import principals, seeding
from referral_api.services.actors import Actor

from .conftest import config_for
from .referral_helpers import move, referral_body, send


def test_district_coordinator_cannot_locate_a_safe_house(client, directory_entry, make_caller):
    """A confidential site counts at regency level for coverage and report filters."""
    house = directory_entry(
        region_code="53.71.03",
        org_region_code="53.71",
        confidential=True,
        service_types=("temporary_shelter",),
        org_type="shelter",
    )
    sender = make_caller("caseworker")
    sent = send(
        client,
        sender,
        referral_body(
            house["organization"].id,
            to_service_id=str(house["service"].id),
            service_type="temporary_shelter",
            case={"client": {"alias": "X", "age": 30, "gender": "female"}},
        ),
    )
    assert sent.status_code == 201
    ntt = make_caller("coordinator", coverage_code="53")
    district_coordinator = make_caller("coordinator", coverage_code="53.71.03")
    for district in ("53.71.01", "53.71.02", "53.71.03"):
        report = client.get(
            f"/api/v1/reports/referrals?region={district}&group_by=receiving_organization",
            headers=ntt.headers,
        ).json
        keys = {g["key"] for g in report["groups"]}
        assert str(house["organization"].id) not in keys, district
    assert (
        client.get(
            f"/api/v1/referrals/{sent.json['id']}", headers=district_coordinator.headers
        ).status_code
        == 404
    )
    # At regency level the referral is in view (its receiver's home region is 53.71).
    assert (
        client.get(f"/api/v1/referrals/{sent.json['id']}", headers=ntt.headers).status_code == 200
    )


def test_location_list_order_does_not_reveal_a_secret_name(client, directory_entry, make_caller):
    secret = directory_entry(confidential=True)
    secret["location"].name = "Aaa Rumah Rahasia"
    visible = directory_entry()
    visible["location"].name = "Aab Kantor"
    outsider = make_caller("caseworker")
    items = client.get("/api/v1/locations?per_page=100", headers=outsider.headers).json["items"]
    names = [i["name"] for i in items]
    assert names == sorted(names)  # sorted by the names the caller sees


def test_a_mere_party_cannot_transfer_the_case_away(client, make_caller, directory_entry):
    owner_entry, b_entry, c_entry = directory_entry(), directory_entry(), directory_entry()
    owner = make_caller("caseworker", organization=owner_entry["organization"])
    b = make_caller("caseworker", organization=b_entry["organization"])
    first = send(client, owner, referral_body(b_entry["organization"].id)).json
    onward = referral_body(
        c_entry["organization"].id, case=None, case_id=first["case_id"], kind="transfer"
    )
    assert send(client, b, onward).status_code == 403
    # Once B serves the client (accepted), it may hand the case over.
    assert move(client, b, first["id"], "accepted", 1).status_code == 200
    assert send(client, b, onward).status_code == 201


def test_entered_in_error_receiver_loses_the_profile(client, make_caller, directory_entry):
    a, wrong = directory_entry(), directory_entry()
    sender = make_caller("caseworker", organization=a["organization"])
    mistaken = make_caller("caseworker", organization=wrong["organization"])
    r = send(client, sender, referral_body(wrong["organization"].id)).json
    assert client.get(f"/api/v1/cases/{r['case_id']}", headers=mistaken.headers).status_code == 200
    assert (
        move(client, sender, r["id"], "entered-in-error", 1, note="Salah alamat").status_code == 200
    )
    assert client.get(f"/api/v1/cases/{r['case_id']}", headers=mistaken.headers).status_code == 404
    assert client.get(f"/api/v1/cases/{r['case_id']}", headers=sender.headers).status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/services?page=99999999999999999999",
        "/api/v1/organizations?verified_since=0001-01-01T00:00:00%2B14:00",
        "/api/v1/services?verified_since=9999-12-31T23:59:59-14:00",
        "/api/v1/audit/events?since=0001-01-01T00:00:00%2B14:00",
        "/api/v1/reports/referrals?from=0001-01-01T00:00:00%2B14:00",
    ],
)
def test_extreme_query_values_are_422(client, make_caller, url):
    admin = make_caller("admin")
    response = client.get(url, headers=admin.headers)
    assert response.status_code == 422, (url, response.status_code)


def test_extreme_body_values_are_422(client, make_caller, directory_entry):
    admin = make_caller("admin")
    entry = directory_entry()
    response = client.patch(
        f"/api/v1/services/{entry['service'].id}",
        json={"capacity": {"beds_total": 10**30}},
        headers=admin.headers,
    )
    assert response.status_code == 422 and "capacity.beds_total" in response.json["errors"]
    response = client.post(
        "/api/v1/tokens",
        json={"role": "admin", "name": "x", "expires_days": 1e12},
        headers=admin.headers,
    )
    assert response.status_code == 422 and "expires_days" in response.json["errors"]
    sender = make_caller("caseworker")
    body = referral_body(entry["organization"].id)
    body["consent"]["obtained_at"] = "0001-01-01T00:00:00+14:00"
    response = send(client, sender, body)
    assert response.status_code == 422 and "consent.obtained_at" in response.json["errors"]


@pytest.mark.parametrize(
    "header", ['"\u00b9"', '"\u00b2"', '"1e3"', '"-1"', '"99999999999999999999"']
)
def test_odd_if_match_is_412_not_500(client, make_caller, directory_entry, header):
    entry = directory_entry()
    sender = make_caller("caseworker")
    r = send(client, sender, referral_body(entry["organization"].id)).json
    response = client.post(
        f"/api/v1/referrals/{r['id']}/transitions",
        json={"status": "cancelled"},
        headers={**sender.headers, "If-Match": header},
    )
    assert response.status_code == 412


def test_concurrent_profile_reads_and_writes_succeed(fresh_databases):
    """Audited profile reads (GET that writes) alongside referral writes: no 503s."""
    url = fresh_databases.new()
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        seeding.seed(session)
        a = Organization(name="A", type="ngo", region_code="53.71")
        b = Organization(name="B", type="ngo", region_code="53.71")
        session.add_all([a, b])
        session.flush()
        token = principals.create_token(
            session, actor=Actor.system(), role="caseworker", name="w", organization_id=a.id
        )[1]
    app = create_app(config_for(url))
    headers = {"Authorization": f"Bearer {token}"}
    first = app.test_client().post("/api/v1/referrals", json=referral_body(b.id), headers=headers)
    case_id = first.json["case_id"]
    codes: list[int] = []
    lock = threading.Lock()

    def write() -> None:
        client = app.test_client()
        for _ in range(15):
            code = client.post(
                "/api/v1/referrals", json=referral_body(b.id), headers=headers
            ).status_code
            with lock:
                codes.append(code)

    def read() -> None:
        client = app.test_client()
        for _ in range(15):
            code = client.get(f"/api/v1/cases/{case_id}", headers=headers).status_code
            with lock:
                codes.append(code)

    threads = [threading.Thread(target=f) for f in (write, write, read, read)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    app.extensions["referral_api.db"].engine.dispose()
    with Session(engine) as session:
        created = session.scalar(select(func.count()).select_from(Referral))
    engine.dispose()
    assert sorted(set(codes)) <= [200, 201], codes
    assert created == 31


def test_which_requests_lock_for_writing(app) -> None:
    from referral_api.boundary import request_writes

    case_url = "/api/v1/cases/6f1c1e1e-0000-4000-8000-000000000000"
    expectations = [
        ("GET", case_url, True),  # an audited profile read writes
        ("GET", case_url + "/chain", False),
        ("GET", "/api/v1/services/nearest?lat=-10&lng=123", False),
        ("POST", "/api/v1/referrals", True),
    ]
    for method, url, writes in expectations:
        with app.test_request_context(url, method=method):
            assert request_writes() is writes, (method, url)
