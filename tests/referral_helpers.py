"""Request bodies for referral tests."""

from typing import Any

CONSENT = {
    "basis": "informed_consent",
    "obtained_by": "Pekerja sosial TRC",
    "obtained_at": "2026-11-20T08:15:00Z",
    "method": "written",
    "scope": "Rujukan dan berbagi data untuk layanan ini",
    "justification": None,
}
ADULT = {
    "alias": "Melati",
    "age": 24,
    "gender": "female",
    "nationality": "ID",
    "languages": ["id"],
    "disabilities": [],
    "exploitation_types": ["labour"],
    "needs": ["legal_aid"],
}


def referral_body(to_organization_id, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "case_id": None,
        "case": {"reference": "TRC-2026-001", "client": dict(ADULT)},
        "parent_referral_id": None,
        "kind": "referral",
        "to_organization_id": str(to_organization_id),
        "to_service_id": None,
        "service_type": "legal_aid",
        "risk_level": "medium",
        "reason": "Pendampingan hukum untuk laporan polisi",
        "worker_role": "broker",
        "consent": dict(CONSENT),
        "capacity_override": None,
    }
    body.update(overrides)
    return body


def send(client, caller, body, **headers):
    return client.post("/api/v1/referrals", json=body, headers={**caller.headers, **headers})


def move(client, caller, referral_id, status, version, **fields):
    return client.post(
        f"/api/v1/referrals/{referral_id}/transitions",
        json={"status": status, **fields},
        headers={**caller.headers, "If-Match": f'"{version}"'},
    )
