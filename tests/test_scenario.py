"""The case this project grew from, driven through the HTTP API by each organization.

A 16-year-old girl from a poor family, recruited through a Facebook job post promising
work in Singapore, exploited in a spa in Jakarta, evacuated by the Kemensos rapid-response
team (TRC) with the police.
"""

import pytest

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
