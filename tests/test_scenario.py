"""The case this project grew from, driven through the HTTP API by each organization.

A 16-year-old girl from a poor family, recruited through a Facebook job post promising
work in Singapore, exploited in a spa in Jakarta, evacuated by the Kemensos rapid-response
team (TRC) with the police.
"""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

from referral_api.models import Case
from referral_api.models.base import utcnow
from referral_api.services import retention

from .referral_helpers import CONSENT, move, send

GIRL = {
    "alias": "W",
    "age": 16,
    "gender": "female",
    "nationality": "ID",
    "languages": ["id", "su"],
    "disabilities": [],
    "exploitation_types": ["sexual"],
    "needs": ["temporary_shelter", "forensic_examination", "witness_protection", "reintegration"],
}
GUARDIAN = {**CONSENT, "basis": "guardian_consent", "obtained_by": "Pekerja sosial TRC"}


@pytest.fixture
def network(directory_entry, make_caller):
    def org(name, org_type, service_types, region, lat, lng, **service):
        entry = directory_entry(
            region_code=region,
            latitude=lat,
            longitude=lng,
            org_type=org_type,
            service_types=service_types,
            **service,
        )
        entry["organization"].name = name
        entry["caller"] = make_caller("caseworker", organization=entry["organization"])
        return entry

    return {
        "trc": org(
            "Tim Reaksi Cepat Kemensos",
            "central_government",
            ("outreach_rescue",),
            "31.71",
            -6.18,
            106.83,
        ),
        "rptc": org(
            "RPTC Bambu Apus",
            "social_rehabilitation",
            ("temporary_shelter", "psychosocial_support"),
            "31.75",
            -6.31,
            106.89,
            eligibility={"age_min": 0, "age_max": 17, "genders": ["female"]},
            capacity={"beds_total": 30, "beds_available": 4},
        ),
        "rs": org(
            "RS Bhayangkara Tk. I Pusdokkes Polri (PPT)",
            "health_service",
            ("forensic_examination", "medical_care"),
            "31.75",
            -6.27,
            106.87,
        ),
        "lpsk": org(
            "LPSK",
            "witness_protection",
            ("witness_protection", "restitution"),
            "31.71",
            -6.24,
            106.85,
        ),
        "uptd": org(
            "UPTD PPA Kabupaten Cianjur",
            "uptd_ppa",
            ("reintegration", "case_management"),
            "32.03",
            -6.82,
            107.14,
        ),
        "outsider": org("LBH lain", "legal_service", ("legal_aid",), "53.71", -10.17, 123.6),
    }


def body(target, service_type, **fields):
    return {
        "to_organization_id": str(target["organization"].id),
        "to_service_id": str(target["service"].id),
        "service_type": service_type,
        "kind": "referral",
        "risk_level": "medium",
        "reason": "Rujukan lanjutan",
        "worker_role": "broker",
        "consent": GUARDIAN,
        **fields,
    }


def test_trc_to_rptc_to_hospital_lpsk_and_home_uptd(client, network) -> None:
    n = network
    trc, rptc, rs, lpsk, uptd = (n[k]["caller"] for k in ("trc", "rptc", "rs", "lpsk", "uptd"))

    # TRC -> RPTC: temporary shelter, high risk, guardian consent, a new case.
    first = send(
        client,
        trc,
        body(
            n["rptc"],
            "temporary_shelter",
            risk_level="high",
            worker_role="broker",
            reason="Evakuasi dari spa di Jakarta bersama Polri; butuh rumah aman malam ini",
            case={"reference": "TRC-2026-017", "client": GIRL},
        ),
    )
    assert first.status_code == 201, first.json
    shelter = first.json
    case_id = shelter["case_id"]
    assert move(client, rptc, shelter["id"], "received", 1).status_code == 200
    assert move(client, rptc, shelter["id"], "accepted", 2).status_code == 200
    assert move(client, rptc, shelter["id"], "in-progress", 3).status_code == 200

    # RPTC refers onward on the same case.
    onward = {"case_id": case_id, "parent_referral_id": shelter["id"], "worker_role": "mediator"}
    visum = send(client, rptc, body(n["rs"], "forensic_examination", **onward)).json
    protection = send(
        client,
        rptc,
        body(
            n["lpsk"],
            "witness_protection",
            worker_role="advocate",
            case_id=case_id,
            parent_referral_id=shelter["id"],
        ),
    ).json
    home = send(
        client,
        rptc,
        body(
            n["uptd"],
            "reintegration",
            kind="transfer",
            risk_level="low",
            worker_role="facilitator",
            case_id=case_id,
            parent_referral_id=shelter["id"],
        ),
    ).json
    assert home["start_due_at"] is not None

    assert move(client, rs, visum["id"], "accepted", 1).status_code == 200
    assert move(client, rs, visum["id"], "in-progress", 2).status_code == 200
    done = move(client, rs, visum["id"], "completed", 3, outcome="Visum et repertum diterbitkan")
    assert done.status_code == 200
    assert move(client, lpsk, protection["id"], "received", 1).status_code == 200
    assert move(client, lpsk, protection["id"], "accepted", 2).status_code == 200
    assert move(client, uptd, home["id"], "accepted", 1).status_code == 200

    # Ownership moved to the home regency's UPTD PPA with the accepted transfer.
    case = client.get(f"/api/v1/cases/{case_id}", headers=uptd.headers).json
    assert case["owner_organization_id"] == str(n["uptd"]["organization"].id)
    assert case["client"]["age"] == 16 and case["client"]["alias"] == "W"

    # The chain: TRC -> RPTC, then RPTC -> RS / LPSK / UPTD.
    chain = client.get(f"/api/v1/cases/{case_id}/chain", headers=trc.headers).json
    assert "client" not in chain
    (root,) = chain["roots"]
    assert root["id"] == shelter["id"]
    assert root["from_organization"]["name"] == "Tim Reaksi Cepat Kemensos"
    assert root["status"] == "in-progress" and root["worker_role"] == "broker"
    assert root["timings"]["to_acknowledge_s"] >= 0
    assert root["timings"]["to_decide_s"] >= root["timings"]["to_acknowledge_s"]
    assert root["timings"]["to_complete_s"] is None
    children = {c["to_organization"]["name"]: c for c in root["children"]}
    assert set(children) == {
        "RS Bhayangkara Tk. I Pusdokkes Polri (PPT)",
        "LPSK",
        "UPTD PPA Kabupaten Cianjur",
    }
    rs_hop = children["RS Bhayangkara Tk. I Pusdokkes Polri (PPT)"]
    assert rs_hop["status"] == "completed" and rs_hop["service_type"] == "forensic_examination"
    assert rs_hop["timings"]["to_complete_s"] is not None
    assert children["LPSK"]["status"] == "accepted"
    assert children["UPTD PPA Kabupaten Cianjur"]["kind"] == "transfer"
    assert children["UPTD PPA Kabupaten Cianjur"]["worker_role"] == "facilitator"

    # Who sees what: every party reads the profile; an outsider learns nothing.
    for caller in (trc, rptc, rs, lpsk, uptd):
        assert client.get(f"/api/v1/cases/{case_id}", headers=caller.headers).status_code == 200
    outsider = n["outsider"]["caller"]
    for path in (
        f"/api/v1/cases/{case_id}",
        f"/api/v1/cases/{case_id}/chain",
        f"/api/v1/referrals/{visum['id']}",
        f"/api/v1/referrals/{visum['id']}/events",
    ):
        assert client.get(path, headers=outsider.headers).status_code == 404
    assert (
        client.get(f"/api/v1/referrals?case_id={case_id}", headers=outsider.headers).json["total"]
        == 0
    )
    # The hospital sees the case's referrals it is party to in its own lists.
    incoming = client.get("/api/v1/referrals?direction=incoming", headers=rs.headers).json
    assert [r["id"] for r in incoming["items"]] == [visum["id"]]


def test_the_same_case_through_its_data_lifecycle(client, session, network, make_caller) -> None:
    """UU PDP 27/2022 on the same path: the RPTC rejects one hop and loses the profile;
    the family withdraws consent for LPSK and LPSK loses access while the rest of the chain
    continues; the case closes; after the retention period the purge leaves the reports
    and the chain intact and the profile gone (410)."""
    n = network
    trc, rptc, rs, lpsk, uptd = (n[k]["caller"] for k in ("trc", "rptc", "rs", "lpsk", "uptd"))

    def profile(caller):
        return client.get(f"/api/v1/cases/{case_id}", headers=caller.headers)

    full = send(
        client,
        trc,
        body(
            n["rptc"],
            "temporary_shelter",
            risk_level="high",
            case={"reference": "TRC-2026-018", "client": GIRL},
        ),
    ).json
    case_id = full["case_id"]
    assert profile(rptc).status_code == 200
    assert move(client, rptc, full["id"], "rejected", 1, reason="no_capacity").status_code == 200
    # The RPTC said no: it no longer reads the girl's profile, nor passes her on.
    assert profile(rptc).status_code == 403
    onward = {"case_id": case_id, "parent_referral_id": full["id"]}
    assert send(client, rptc, body(n["rs"], "forensic_examination", **onward)).status_code == 422

    # A bed frees up the next morning: the TRC asks again, and the RPTC takes her in.
    shelter = send(client, trc, body(n["rptc"], "temporary_shelter", case_id=case_id)).json
    for version, status in enumerate(("accepted", "in-progress"), start=1):
        assert move(client, rptc, shelter["id"], status, version).status_code == 200
    assert profile(rptc).status_code == 200
    onward = {"case_id": case_id, "parent_referral_id": shelter["id"]}
    visum = send(client, rptc, body(n["rs"], "forensic_examination", **onward)).json
    protection = send(client, rptc, body(n["lpsk"], "witness_protection", **onward)).json
    for version, status in enumerate(("accepted", "in-progress"), start=1):
        assert move(client, rs, visum["id"], status, version).status_code == 200
    assert move(client, rs, visum["id"], "completed", 3, outcome="Visum").status_code == 200
    assert move(client, lpsk, protection["id"], "accepted", 1).status_code == 200
    assert profile(lpsk).status_code == 200

    # The family withdraws consent for LPSK: its referral is cancelled, its access ends.
    withdrawal = client.post(
        f"/api/v1/cases/{case_id}/consent-withdrawal",
        json={"scope": [str(n["lpsk"]["organization"].id)], "note": "Keluarga menolak"},
        headers=trc.headers,
    )
    assert withdrawal.status_code == 200, withdrawal.json
    assert withdrawal.json["cancelled_referral_ids"] == [protection["id"]]
    assert profile(lpsk).status_code == 403
    for caller in (trc, rptc, rs):  # the rest of the chain continues
        assert profile(caller).status_code == 200

    # Home to Cianjur: the transfer makes the UPTD PPA the owner, which closes the case.
    home = send(
        client,
        rptc,
        body(n["uptd"], "reintegration", kind="transfer", risk_level="low", **onward),
    ).json
    assert move(client, uptd, home["id"], "accepted", 1).status_code == 200
    refused = client.post(
        f"/api/v1/cases/{case_id}/close",
        json={"outcome": "services_completed"},
        headers=uptd.headers,
    )
    assert refused.status_code == 409
    assert sorted(refused.json["open_referrals"]) == sorted([shelter["id"], home["id"]])
    assert move(client, rptc, shelter["id"], "completed", 3, outcome="Pulang").status_code == 200
    assert move(client, uptd, home["id"], "in-progress", 2).status_code == 200
    assert move(client, uptd, home["id"], "completed", 3, outcome="Reintegrasi").status_code == 200
    closed = client.post(
        f"/api/v1/cases/{case_id}/close",
        json={"outcome": "services_completed", "note": "Kembali ke keluarga"},
        headers=uptd.headers,
    )
    assert closed.status_code == 200, closed.json

    coordinator = make_caller("coordinator")
    report_path = "/api/v1/reports/referrals?group_by=organization"
    report = client.get(report_path, headers=coordinator.headers).json["groups"]
    chain = client.get(f"/api/v1/cases/{case_id}/chain", headers=uptd.headers).json

    # Five years on, the retention purge destroys the profile and nothing else.
    session.execute(
        update(Case)
        .where(Case.id == uuid.UUID(case_id))
        .values(closed_at=utcnow() - timedelta(days=1826))
    )
    assert uuid.UUID(case_id) in retention.purge(session, now=utcnow(), retention_days=1825)
    assert profile(uptd).status_code == 410
    assert client.get(report_path, headers=coordinator.headers).json["groups"] == report
    assert client.get(f"/api/v1/cases/{case_id}/chain", headers=uptd.headers).json == chain
