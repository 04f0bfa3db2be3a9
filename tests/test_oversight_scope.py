"""Coordinators: every referral endpoint, with an in-coverage and an out-of-coverage coordinator."""

import dataclasses

import pytest
from sqlalchemy import select

from referral_api.models import AuditEvent

from .referral_helpers import move, referral_body, send


@pytest.fixture
def world(client, directory_entry, make_caller):
    """Referrals in NTT (53), in Jawa Barat (32), and one whose service is given in NTT."""
    ntt_a = directory_entry(region_code="53.71", org_type="uptd_ppa", service_types=("legal_aid",))
    ntt_b = directory_entry(
        region_code="53.01",
        latitude=-10.0,
        longitude=123.9,
        org_type="ngo",
        service_types=("legal_aid",),
    )
    jb_a = directory_entry(
        region_code="32.73",
        latitude=-6.9,
        longitude=107.6,
        org_type="ngo",
        service_types=("legal_aid",),
    )
    jb_b = directory_entry(
        region_code="32.04",
        latitude=-7.0,
        longitude=107.5,
        org_type="ngo",
        service_types=("legal_aid",),
    )
    # Home region in Jakarta, service given at a site in Kupang.
    national = directory_entry(
        region_code="53.71",
        org_region_code="31.71",
        org_type="central_government",
        service_types=("legal_aid",),
    )
    callers = {
        k: make_caller("caseworker", organization=e["organization"])
        for k, e in (("ntt_a", ntt_a), ("jb_a", jb_a), ("jb_b", jb_b))
    }
    in_ntt = send(client, callers["ntt_a"], referral_body(ntt_b["organization"].id)).json
    in_jb = send(client, callers["jb_a"], referral_body(jb_b["organization"].id)).json
    via_site = send(
        client,
        callers["jb_b"],
        referral_body(national["organization"].id, to_service_id=str(national["service"].id)),
    ).json
    assert (
        move(
            client,
            make_caller("caseworker", organization=ntt_b["organization"]),
            in_ntt["id"],
            "received",
            1,
        ).status_code
        == 200
    )
    return {
        "in_ntt": in_ntt,
        "in_jb": in_jb,
        "via_site": via_site,
        "ntt": make_caller("coordinator", coverage_code="53"),
        "jb": make_caller("coordinator", coverage_code="32"),
        "national": make_caller("coordinator", coverage_code="ID"),
        "callers": callers,
    }


def test_lists_hold_only_referrals_in_coverage(client, world) -> None:
    def listed(caller):
        return {
            i["id"]
            for i in client.get("/api/v1/referrals?per_page=100", headers=caller.headers).json[
                "items"
            ]
        }

    ids = {k: world[k]["id"] for k in ("in_ntt", "in_jb", "via_site")}
    assert listed(world["ntt"]) == {ids["in_ntt"], ids["via_site"]}
    assert listed(world["jb"]) == {ids["in_jb"], ids["via_site"]}
    assert listed(world["national"]) >= set(ids.values())
    response = client.get("/api/v1/referrals?direction=incoming", headers=world["ntt"].headers)
    assert response.status_code == 422 and "direction" in response.json["errors"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/referrals/{referral}",
        "/api/v1/referrals/{referral}/events",
        "/api/v1/cases/{case}/chain",
    ],
)
def test_items_in_coverage_only(client, world, path) -> None:
    inside = path.format(referral=world["in_ntt"]["id"], case=world["in_ntt"]["case_id"])
    outside = path.format(referral=world["in_jb"]["id"], case=world["in_jb"]["case_id"])
    response = client.get(inside, headers=world["ntt"].headers)
    assert response.status_code == 200
    assert "client" not in response.json and "Melati" not in response.get_data(as_text=True)
    assert client.get(outside, headers=world["ntt"].headers).status_code == 404
    assert client.get(inside, headers=world["jb"].headers).status_code == 404


def test_client_profile_is_403_and_audited_in_coverage_404_outside(client, session, world) -> None:
    case_id = world["in_ntt"]["case_id"]
    response = client.get(f"/api/v1/cases/{case_id}", headers=world["ntt"].headers)
    assert response.status_code == 403
    assert "Melati" not in response.get_data(as_text=True)
    attempts = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "case.read_client_denied", AuditEvent.entity_id == case_id
        )
    ).all()
    assert len(attempts) == 1
    assert attempts[0].actor_principal_id == world["ntt"].principal.id
    assert client.get(f"/api/v1/cases/{case_id}", headers=world["jb"].headers).status_code == 404
    national = client.get(f"/api/v1/cases/{case_id}", headers=world["national"].headers)
    assert national.status_code == 403


def test_coordinators_cannot_move_or_send(client, world) -> None:
    # Refused by role before the referral is looked at: the answer is the same for a
    # referral in coverage, outside it, or none at all, so it reveals nothing.
    for rid in (
        world["in_ntt"]["id"],
        world["in_jb"]["id"],
        "6f1c1e1e-0000-4000-8000-000000000000",
    ):
        assert move(client, world["ntt"], rid, "accepted", 2).status_code == 403


def test_reports_and_audit_events_respect_coverage(app, client, world) -> None:
    # Two referrals are in view: small counts must be published for the test to see them.
    app.config["REFERRAL_API"] = dataclasses.replace(app.config["REFERRAL_API"], min_cell=2)
    ntt = client.get("/api/v1/reports/referrals?group_by=risk_level", headers=world["ntt"].headers)
    assert ntt.status_code == 200
    assert ntt.json["region"] == "53"
    assert sum(g["total"] for g in ntt.json["groups"]) == 2
    assert (
        client.get("/api/v1/reports/referrals?region=32", headers=world["ntt"].headers).status_code
        == 403
    )
    kupang = client.get("/api/v1/reports/referrals?region=53.71", headers=world["ntt"].headers)
    assert sum(g["total"] for g in kupang.json["groups"]) == 2
    caseworker = world["callers"]["ntt_a"]
    assert client.get("/api/v1/reports/referrals", headers=caseworker.headers).status_code == 403

    events = client.get("/api/v1/audit/events?per_page=100", headers=world["ntt"].headers).json
    about = {(e["entity_type"], e["entity_id"]) for e in events["items"]}
    assert ("referral", world["in_ntt"]["id"]) in about
    assert ("case", world["in_ntt"]["case_id"]) in about
    assert ("referral", world["via_site"]["id"]) in about
    assert ("referral", world["in_jb"]["id"]) not in about
    assert all(e["entity_type"] in ("referral", "case") for e in events["items"])
    text = str(events)
    assert "Melati" not in text
    assert client.get("/api/v1/audit/events", headers=caseworker.headers).status_code == 403


def test_overdue_list_oldest_first_with_who_must_act(client, session, world) -> None:
    import uuid
    from datetime import timedelta

    from referral_api.models import Referral
    from referral_api.models.base import utcnow

    for key, minutes in (("in_ntt", 30), ("via_site", 90)):
        referral = session.get(Referral, uuid.UUID(world[key]["id"]))
        referral.ack_due_at = utcnow() - timedelta(minutes=minutes)
        referral.acknowledged_at = None
        session.flush()
    items = client.get("/api/v1/referrals?overdue=true", headers=world["ntt"].headers).json["items"]
    assert [i["id"] for i in items] == [world["via_site"]["id"], world["in_ntt"]["id"]]
    assert items[0]["overdue_by_s"] >= 90 * 60 - 5
    assert items[0]["must_act_organization_id"] == world["via_site"]["to_organization_id"]
    assert items[0]["overdue_reasons"] == ["acknowledge"]


def test_moving_an_organization_moves_no_referral_out_of_sight(
    client, session, world, make_caller
) -> None:
    """The regions a referral was sent between are fixed when it is sent: moving the
    organizations and their sites afterwards changes nothing a coordinator sees, and an
    org_admin cannot move its organization at all."""
    from referral_api.models import Location, Organization

    def listed(caller) -> set[str]:
        page = client.get("/api/v1/referrals?per_page=100", headers=caller.headers).json
        return {item["id"] for item in page["items"]}

    before = {k: listed(world[k]) for k in ("ntt", "jb")}
    sender = world["callers"]["ntt_a"].principal.organization_id
    own_admin = make_caller("org_admin", organization=session.get(Organization, sender))
    refused = client.patch(
        f"/api/v1/organizations/{sender}", json={"region_code": "32.73"}, headers=own_admin.headers
    )
    assert refused.status_code == 403 and "region_code" in refused.json["detail"]
    # An admin (or anyone with the database) moves every organization and site anyway.
    for organization in session.scalars(select(Organization)):
        organization.region_code = "11.01"
    for location in session.scalars(select(Location)):
        location.region_code = "11.01"
    session.flush()
    assert {k: listed(world[k]) for k in ("ntt", "jb")} == before
    assert world["in_ntt"]["id"] in before["ntt"]
