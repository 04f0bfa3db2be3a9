"""Conditional requests on directory entries: ETag, If-None-Match (304), If-Match (412)."""

import threading

import pytest
from sqlalchemy import select

from referral_api.models import Organization, Service


def _entry(directory_entry, make_caller, **service_fields):
    entry = directory_entry(beds_total=10, beds_available=4, **service_fields)
    admin = make_caller("org_admin", organization=entry["organization"])
    return entry, admin


def test_a_stale_if_match_on_a_bed_count_is_refused_and_nothing_changes(
    client, session, directory_entry, make_caller
) -> None:
    entry, admin = _entry(directory_entry, make_caller)
    url = f"/api/v1/services/{entry['service'].id}"
    read = client.get(url, headers=admin.headers)
    etag = read.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')

    first = client.patch(
        url,
        json={"capacity": {"beds_total": 10, "beds_available": 3}},
        headers={**admin.headers, "If-Match": etag},
    )
    assert first.status_code == 200, first.json
    assert first.headers["ETag"] != etag
    # The answer's ETag is the one a read gives now.
    assert client.get(url, headers=admin.headers).headers["ETag"] == first.headers["ETag"]

    for stale in (etag, '"999"', 'W/"999"'):
        again = client.patch(
            url,
            json={"capacity": {"beds_total": 10, "beds_available": 2}},
            headers={**admin.headers, "If-Match": stale},
        )
        assert again.status_code == 412, again.json
        assert again.content_type == "application/problem+json"
        assert "changed since you read it" in again.json["detail"]
    session.expire_all()
    assert session.get(Service, entry["service"].id).beds_available == 3


def test_if_match_star_or_current_applies_and_no_if_match_is_last_write_wins(
    client, directory_entry, make_caller
) -> None:
    entry, admin = _entry(directory_entry, make_caller)
    url = f"/api/v1/services/{entry['service'].id}"
    star = client.patch(
        url,
        json={"capacity": {"beds_total": 10, "beds_available": 1}},
        headers={**admin.headers, "If-Match": "*"},
    )
    assert star.status_code == 200 and star.json["capacity"]["beds_available"] == 1
    weak = client.patch(
        url,
        json={"capacity": {"beds_total": 10, "beds_available": 2}},
        headers={**admin.headers, "If-Match": "W/" + star.headers["ETag"]},
    )
    assert weak.status_code == 200 and weak.json["capacity"]["beds_available"] == 2
    # Documented behaviour: without If-Match the change is applied as before.
    bare = client.patch(
        url, json={"capacity": {"beds_total": 10, "beds_available": 0}}, headers=admin.headers
    )
    assert bare.status_code == 200 and bare.json["capacity"]["beds_available"] == 0


@pytest.mark.parametrize("kind", ["organizations", "locations", "services"])
def test_item_reads_answer_304_to_a_matching_if_none_match_and_200_once_changed(
    client, directory_entry, make_caller, kind
) -> None:
    entry, admin = _entry(directory_entry, make_caller)
    item = {"organizations": "organization", "locations": "location", "services": "service"}
    url = f"/api/v1/{kind}/{entry[item[kind]].id}"
    read = client.get(url)
    etag = read.headers["ETag"]
    assert read.headers["Vary"] == "Authorization"

    unchanged = client.get(url, headers={"If-None-Match": f'"other", {etag}'})
    assert unchanged.status_code == 304
    assert unchanged.data == b""
    assert unchanged.headers["ETag"] == etag

    changed = client.patch(
        url, json={"name": "Nama baru"}, headers={**admin.headers, "If-Match": etag}
    )
    assert changed.status_code == 200, changed.json
    fresh = client.get(url, headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.json["name"] == "Nama baru"
    assert fresh.headers["ETag"] == changed.headers["ETag"]

    stale_delete = client.delete(url, headers={**admin.headers, "If-Match": etag})
    assert stale_delete.status_code == 412
    assert client.get(url).json["status"] == "active"


def test_a_redacted_site_has_an_etag_of_its_own(client, directory_entry, make_caller) -> None:
    entry = directory_entry(confidential=True)
    insider = make_caller("caseworker", organization=entry["organization"])
    outsider = make_caller("caseworker")
    url = f"/api/v1/locations/{entry['location'].id}"
    inside = client.get(url, headers=insider.headers)
    outside = client.get(url, headers=outsider.headers)
    assert outside.json["address"] is None and inside.json["address"]
    assert inside.headers["ETag"] != outside.headers["ETag"]
    # The redacted view's ETag does not validate the full one.
    probe = client.get(url, headers={**insider.headers, "If-None-Match": outside.headers["ETag"]})
    assert probe.status_code == 200 and probe.json["address"]


def test_racing_changes_made_with_one_etag_have_one_winner(fresh_databases) -> None:
    """Eight org admins' forms, read at the same moment, saved at once: one bed count is
    applied, the seven others are told (412) rather than silently overwriting it."""
    from sqlalchemy.orm import Session

    from referral_api import create_app
    from referral_api.services import directory, principals
    from referral_api.services.actors import Actor

    from .conftest import config_for, database_with_a_caseworker

    url, engine, _ = database_with_a_caseworker(fresh_databases)
    with Session(engine) as session, session.begin():
        organization = session.scalars(select(Organization)).one()
        service = directory.create_service(
            session,
            actor=Actor.system(),
            data={
                "organization_id": organization.id,
                "name": "Penampungan",
                "service_types": ["temporary_shelter"],
                "capacity": {"beds_total": 20, "beds_available": 10},
            },
        )
        service_id = service.id
        _, token = principals.create_token(
            session,
            actor=Actor.system(),
            role="org_admin",
            name="a",
            organization_id=organization.id,
        )
    app = create_app(config_for(url))
    headers = {"Authorization": f"Bearer {token}"}
    url_path = f"/api/v1/services/{service_id}"
    etag = app.test_client().get(url_path, headers=headers).headers["ETag"]
    barrier = threading.Barrier(8)
    answers: list[tuple[int, int]] = []

    def save(beds: int) -> None:
        barrier.wait()
        response = app.test_client().patch(
            url_path,
            json={"capacity": {"beds_total": 20, "beds_available": beds}},
            headers={**headers, "If-Match": etag},
        )
        answers.append((response.status_code, beds))

    threads = [threading.Thread(target=save, args=(beds,)) for beds in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [beds for status, beds in answers if status == 200]
    assert sorted(status for status, _ in answers) == [200] + [412] * 7, answers
    with Session(engine) as session:
        assert session.get(Service, service_id).beds_available == winners[0]
    engine.dispose()


def test_confidential_must_be_a_json_boolean(client, directory_entry, make_caller) -> None:
    entry = directory_entry()
    admin = make_caller("org_admin", organization=entry["organization"])
    for value in (0, 1, "yes"):
        response = client.patch(
            f"/api/v1/locations/{entry['location'].id}",
            json={"confidential": value},
            headers=admin.headers,
        )
        assert response.status_code == 422, response.json
        assert "confidential" in response.json["errors"]


def test_an_over_long_conditional_header_is_422_naming_it(client, directory_entry) -> None:
    entry = directory_entry()
    response = client.get(
        f"/api/v1/services/{entry['service'].id}", headers={"If-None-Match": '"0"' * 1000}
    )
    assert response.status_code == 422
    assert list(response.json["errors"]) == ["If-None-Match"]
