"""The outbox and the change feed: what each change emits, who sees it, paging."""

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from referral_api.models import Event, OverdueNotice
from referral_api.models.base import utcnow
from referral_api.services import events
from referral_api.services.actors import Actor

from .event_helpers import all_after, feed, head_cursor, positioned  # noqa: F401
from .referral_helpers import ADULT, move, referral_body, send

pytestmark = pytest.mark.usefixtures("positioned")


@pytest.fixture
def world(make_caller, directory_entry):
    """A sender in Kupang (NTT), a receiver shelter there, an unrelated organization,
    coordinators in and out of coverage, an admin."""
    receiver_entry = directory_entry(service_types=("legal_aid",), org_type="legal_service")
    third_entry = directory_entry(service_types=("legal_aid",), org_type="legal_service")
    return {
        "sender": make_caller("caseworker"),
        "receiver": make_caller("caseworker", organization=receiver_entry["organization"]),
        "receiver_entry": receiver_entry,
        "third": make_caller("org_admin", organization=third_entry["organization"]),
        "third_entry": third_entry,
        "ntt": make_caller("coordinator", coverage_code="53"),
        "jabar": make_caller("coordinator", coverage_code="32"),
        "admin": make_caller("admin"),
    }


def _scenario(client, world):
    """Send, receive, accept, start: the events a partner should hear about."""
    sender, receiver = world["sender"], world["receiver"]
    created = send(client, sender, referral_body(world["receiver_entry"]["organization"].id))
    assert created.status_code == 201, created.json
    rid = created.json["id"]
    for version, status in enumerate(("received", "accepted", "in-progress"), start=1):
        assert move(client, receiver, rid, status, version).status_code == 200
    return created.json


def test_a_referral_emits_its_lifecycle_to_both_parties(client, world) -> None:
    start = head_cursor(client, world["admin"])
    referral = _scenario(client, world)
    for side in ("sender", "receiver"):
        items = [
            i for i in all_after(client, world[side], start) if i["type"].startswith("referral.")
        ]
        assert [i["type"] for i in items] == ["referral.created"] + ["referral.status_changed"] * 3
        assert [
            (i["data"].get("from"), i["data"]["status"], i["data"]["version"]) for i in items
        ] == [
            (None, "requested", 1),
            ("requested", "received", 2),
            ("received", "accepted", 3),
            ("accepted", "in-progress", 4),
        ]
        assert {i["data"]["referral_id"] for i in items} == {referral["id"]}
        cursors = [int(i["cursor"]) for i in items]
        assert cursors == sorted(cursors) and len(set(cursors)) == 4
        assert all(uuid.UUID(i["id"]) for i in items)
        created = items[0]["data"]
        assert created["risk_level"] == "medium" and created["service_type"] == "legal_aid"
        assert created["to_organization_id"] == str(world["receiver_entry"]["organization"].id)
        # Thin payloads: nothing of the client, no free text.
        text = json.dumps(items)
        for value in (ADULT["alias"], "Pendampingan hukum", "consent", "client"):
            assert value not in text


def test_unrelated_org_and_other_coordinator_see_nothing_of_the_case(client, world) -> None:
    start = head_cursor(client, world["admin"])
    referral = _scenario(client, world)
    for outsider in ("third", "jabar"):
        seen = all_after(client, world[outsider], start)
        assert not [i for i in seen if i["data"].get("referral_id") == referral["id"]], outsider
    covered = all_after(client, world["ntt"], start, types="referral.status_changed")
    assert len([i for i in covered if i["data"]["referral_id"] == referral["id"]]) == 3
    everything = all_after(client, world["admin"], start)
    assert len([i for i in everything if i["data"].get("referral_id") == referral["id"]]) == 4


def test_transfer_accepted_changes_owner_event(client, world) -> None:
    start = head_cursor(client, world["admin"])
    sender, receiver = world["sender"], world["receiver"]
    body = referral_body(world["receiver_entry"]["organization"].id, kind="transfer")
    rid = send(client, sender, body).json["id"]
    assert move(client, receiver, rid, "accepted", 1).status_code == 200
    owner = [i for i in all_after(client, sender, start, types="case.owner_changed")]
    assert len(owner) == 1
    assert owner[0]["data"]["owner_organization_id"] == str(
        world["receiver_entry"]["organization"].id
    )
    assert owner[0]["data"]["referral_id"] == rid


def test_directory_writes_are_public_events_and_confidential_sites_stay_hidden(
    client, world, directory_entry, session
) -> None:
    start = head_cursor(client, world["admin"])
    entry = directory_entry(
        confidential=True,
        region_code="53.71.01",
        org_region_code="53.71",
        address="Jl. Rahasia 9",
        latitude=-10.2,
        longitude=123.6,
        capacity={"beds_total": 5, "beds_available": 2},
    )
    items = all_after(client, world["third"], start)
    types = [i["type"] for i in items]
    assert types == ["organization.updated", "location.updated", "service.updated"]
    location = items[1]["data"]
    assert location["confidential"] is True
    assert location["region_code"] == "53.71"  # the regency, not the district
    text = json.dumps(items)
    for secret in ("Rahasia", "-10.2", "123.6", "53.71.01", "Rumah Aman Melati"):
        assert secret not in text
    assert items[2]["data"]["capacity"]["beds_available"] == 2
    # A capacity change is an event too, naming what changed.
    from referral_api.services import directory

    directory.update_service(
        session,
        actor=Actor.system(),
        service_id=entry["service"].id,
        data={"capacity": {"beds_total": 5, "beds_available": 0}},
    )
    session.flush()
    later = all_after(client, world["third"], items[-1]["cursor"], types="service.updated")
    assert later[-1]["data"]["fields"] == ["beds_available"]
    assert later[-1]["data"]["capacity"]["beds_available"] == 0


def test_paging_returns_everything_once_in_order(client, world) -> None:
    start = head_cursor(client, world["admin"])
    for _ in range(3):
        _scenario(client, world)
    paged = all_after(client, world["sender"], start, limit=2)
    whole = all_after(client, world["sender"], start, limit=1000)
    assert [i["id"] for i in paged] == [i["id"] for i in whole]
    assert len(whole) == 12
    page = feed(client, world["sender"], after=start, limit=5)
    assert len(page["items"]) == 5 and page["next_cursor"] == page["items"][-1]["cursor"]


def test_bad_cursor_and_unknown_type_are_422_naming_the_field(client, world) -> None:
    headers = world["sender"].headers
    for params, field in (
        ({"after": "abc"}, "after"),
        ({"after": "-1"}, "after"),
        ({"after": str(10**15)}, "after"),
        ({"types": "referral.created,referral.teleported"}, "types"),
        ({"limit": "0"}, "limit"),
    ):
        response = client.get("/api/v1/events", query_string=params, headers=headers)
        assert response.status_code == 422, params
        assert response.mimetype == "application/problem+json"
        assert field in response.json["errors"], response.json
    assert client.get("/api/v1/events").status_code == 401


def test_overdue_is_emitted_once_per_missed_deadline(client, session, world) -> None:
    start = head_cursor(client, world["admin"])
    body = referral_body(world["receiver_entry"]["organization"].id, risk_level="high")
    rid = uuid.UUID(send(client, world["sender"], body).json["id"])
    later = utcnow() + timedelta(hours=2)
    assert events.emit_overdue(session, now=later) >= 1
    assert events.emit_overdue(session, now=later + timedelta(minutes=1)) == 0
    session.flush()
    notices = session.scalars(
        select(OverdueNotice.deadline).where(OverdueNotice.referral_id == rid)
    ).all()
    assert notices == ["acknowledge"]
    overdue = [
        i
        for i in all_after(client, world["receiver"], start, types="referral.overdue")
        if i["data"]["referral_id"] == str(rid)
    ]
    assert len(overdue) == 1 and overdue[0]["data"]["deadline"] == "acknowledge"
    assert not [
        i
        for i in all_after(client, world["third"], start, types="referral.overdue")
        if i["data"]["referral_id"] == str(rid)
    ]


def test_events_are_written_in_the_changing_transaction(client, session, world) -> None:
    """A refused change leaves no event behind."""
    before = session.scalar(select(Event.id).order_by(Event.position.desc()).limit(1))
    body = referral_body(world["receiver_entry"]["organization"].id, risk_level="extreme")
    assert send(client, world["sender"], body).status_code == 422
    after = session.scalar(select(Event.id).order_by(Event.position.desc()).limit(1))
    assert before == after
