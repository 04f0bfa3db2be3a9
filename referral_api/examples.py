"""Request examples of the OpenAPI document, by operationId: contract.py puts them on the
request bodies, and tests/test_examples.py sends every one of them to a live app and
expects the documented success. The ids are placeholders for entries of your own (the
test stands real ones in for them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# The entries the examples name.
SENDER_ORGANIZATION = "0d3c9a52-7f0e-4c1b-9a47-5d2b6e8f1a01"  # sends referrals
SHELTER_ORGANIZATION = "0d3c9a52-7f0e-4c1b-9a47-5d2b6e8f1a02"  # a safe house: receives them
CLINIC_ORGANIZATION = "0d3c9a52-7f0e-4c1b-9a47-5d2b6e8f1a03"  # where a case is transferred
SHELTER_LOCATION = "0d3c9a52-7f0e-4c1b-9a47-5d2b6e8f1a04"
SHELTER_SERVICE = "0d3c9a52-7f0e-4c1b-9a47-5d2b6e8f1a05"
CASE = "0d3c9a52-7f0e-4c1b-9a47-5d2b6e8f1a06"  # a case the shelter serves (accepted)
ACCEPTED_REFERRAL = "0d3c9a52-7f0e-4c1b-9a47-5d2b6e8f1a07"  # the referral that brought it
# Two more shelters' services (of two more organizations), asked with SHELTER_SERVICE in an offer.
SECOND_SHELTER_SERVICE = "0d3c9a52-7f0e-4c1b-9a47-5d2b6e8f1a08"
THIRD_SHELTER_SERVICE = "0d3c9a52-7f0e-4c1b-9a47-5d2b6e8f1a09"
# A signed checkpoint of the audit chain as GET /audit/checkpoint serves it (this one is
# signed by a throwaway key: it stands for one of your own).
CHECKPOINT = (
    "referral-api/audit\n42\nnzqfOp86nzqfOp86nzqfOp86nzqfOp86nzqfOp86nzo=\n"
    "time 2026-11-29T06:00:00Z\n\n"
    "\u2014 referral-api/audit llFIqzg+hPxyKayDse8/b9qswOavVIB/Hjc0aZo+tgO2xtmCmc7R8AZ8zM4iD6"
    "7Kb04blELb+ARFzvoPsNVa4+KAfQg=\n"
)
PLACEHOLDERS = (
    SENDER_ORGANIZATION,
    SHELTER_ORGANIZATION,
    CLINIC_ORGANIZATION,
    SHELTER_LOCATION,
    SHELTER_SERVICE,
    CASE,
    ACCEPTED_REFERRAL,
    SECOND_SHELTER_SERVICE,
    THIRD_SHELTER_SERVICE,
    CHECKPOINT,
)

GUARDIAN_CONSENT = {
    "basis": "guardian_consent",
    "obtained_by": "Pekerja sosial TRC Kupang",
    "obtained_at": "2026-11-20T08:15:00Z",
    "method": "written",
    "scope": "Rujukan ke rumah aman dan berbagi data untuk layanan ini",
    "justification": None,
}

_MINOR = {
    "case_id": None,
    "case": {
        "reference": "TRC-2026-017",
        "client": {
            "alias": "W",
            "age": 16,
            "gender": "female",
            "nationality": "ID",
            "languages": ["id"],
            "disabilities": [],
            "exploitation_types": ["sexual"],
            "needs": ["temporary_shelter", "psychosocial_support"],
        },
    },
    "parent_referral_id": None,
    "kind": "referral",
    "to_organization_id": SHELTER_ORGANIZATION,
    "to_service_id": SHELTER_SERVICE,
    "service_type": "temporary_shelter",
    "risk_level": "high",
    "reason": "Korban eksploitasi seksual, 16 tahun; butuh rumah aman malam ini.",
    "worker_role": "broker",
    "consent": GUARDIAN_CONSENT,
    "capacity_override": None,
}

_TRANSFER = {
    "case_id": CASE,
    "case": None,
    "parent_referral_id": ACCEPTED_REFERRAL,
    "kind": "transfer",
    "to_organization_id": CLINIC_ORGANIZATION,
    "to_service_id": None,
    "service_type": "medical_care",
    "risk_level": "medium",
    "reason": "Perlu perawatan medis lanjutan; kasus dipindahkan ke layanan kesehatan.",
    "worker_role": "broker",
    "consent": {**GUARDIAN_CONSENT, "scope": "Pemindahan kasus ke layanan kesehatan"},
    "capacity_override": None,
}


# The same girl offered to three shelters at once: the first to accept takes her; until
# then each sees a de-identified summary.
_OFFER = {
    **{k: v for k, v in _MINOR.items() if k not in ("to_organization_id", "to_service_id")},
    "to_service_ids": [SHELTER_SERVICE, SECOND_SHELTER_SERVICE, THIRD_SHELTER_SERVICE],
    "expires_in_minutes": 120,
}

# An organization's own service as HSDS 3.1 JSON (fully nested), its service type named by
# the profile's taxonomy term (`GET /api/hsds/taxonomy_terms`).
TEMPORARY_SHELTER_TERM = "0c1ea9bf-e3da-58c0-95d8-3a7b647e2a9d"
_HSDS_SERVICE = {
    "id": SHELTER_SERVICE,
    "organization_id": SHELTER_ORGANIZATION,
    "name": "Penampungan sementara perempuan dan anak",
    "description": "Rumah aman 24 jam bagi perempuan dan anak korban TPPO.",
    "status": "active",
    "fees_description": "free",
    "attributes": [
        {
            "id": "0d3c9a52-7f0e-4c1b-9a47-5d2b6e8f1a11",
            "link_entity": "service",
            "link_type": "service",
            "taxonomy_term_id": TEMPORARY_SHELTER_TERM,
        }
    ],
    "service_areas": [
        {
            "id": "0d3c9a52-7f0e-4c1b-9a47-5d2b6e8f1a12",
            "extent_type": "text",
            "name": "Nusa Tenggara Timur",
            "region_code": "53",
        }
    ],
}


def _one(summary: str, value: Any) -> dict[str, dict[str, Any]]:
    return {"example": {"summary": summary, "value": value}}


# operationId -> name -> {summary, value}
REQUEST_EXAMPLES: dict[str, dict[str, dict[str, Any]]] = {
    "create_referral": {
        "minor_with_guardian_consent": {
            "summary": "A 16-year-old girl referred to a shelter with her guardian's consent",
            "value": _MINOR,
        },
        "transfer": {
            "summary": "The shelter serving a case transfers it to a clinic",
            "value": _TRANSFER,
        },
    },
    "transition_referral": {
        "accept": {"summary": "The receiver accepts", "value": {"status": "accepted"}},
        "reject_with_reason": {
            "summary": "The receiver rejects, saying why",
            "value": {
                "status": "rejected",
                "reason": "no_capacity",
                "note": "Semua tempat tidur terisi sampai Jumat.",
                "outcome": None,
            },
        },
    },
    "withdraw_consent": {
        "from_one_organization": {
            "summary": "The client withdraws consent from the clinic only",
            "value": {
                "scope": [CLINIC_ORGANIZATION],
                "note": "Klien tidak ingin data dibagikan ke layanan kesehatan.",
            },
        },
        "from_all": {
            "summary": "The client withdraws consent from every organization but the owner",
            "value": {"scope": "all", "note": None},
        },
    },
    "close_case": _one(
        "Close a case whose services are done, cancelling what is still open",
        {
            "outcome": "services_completed",
            "note": "Klien kembali ke keluarga.",
            "cancel_open": True,
        },
    ),
    "create_token": _one(
        "A caseworker's token for an organization",
        {
            "role": "caseworker",
            "name": "Pekerja sosial TRC Kupang",
            "organization_id": SENDER_ORGANIZATION,
            "coverage_code": None,
            "expires_days": 90,
        },
    ),
    "create_organization": _one(
        "A regency's women and children protection unit",
        {
            "name": "UPTD PPA Kabupaten Timor Tengah Selatan",
            "aliases": ["UPTD PPA TTS"],
            "type": "uptd_ppa",
            "level": "regency",
            "region_code": "53.04",
            "description": "Layanan pengaduan, penjangkauan dan pendampingan korban.",
            "website": None,
            "email": "uptdppa.tts@example.go.id",
            "phones": ["+6238821234"],
            "hotlines": ["129"],
            "languages": ["id", "aoz"],
        },
    ),
    "update_organization": _one(
        "New contact details",
        {"email": "pengaduan.tts@example.go.id", "phones": ["+6238821235"]},
    ),
    "create_location": _one(
        "A confidential safe house (its street and coordinates are never public)",
        {
            "organization_id": SHELTER_ORGANIZATION,
            "name": "Rumah Aman Melati",
            "address": "Jl. Melati No. 7, Oebobo, Kupang",
            "region_code": "53.71",
            "country": "ID",
            "latitude": -10.1772,
            "longitude": 123.607,
            "confidential": True,
        },
    ),
    "update_location": _one("A new address", {"address": "Jl. Kenanga No. 3, Oebobo, Kupang"}),
    "create_service": _one(
        "Temporary shelter for women and girls, with beds",
        {
            "organization_id": SHELTER_ORGANIZATION,
            "name": "Penampungan sementara perempuan dan anak",
            "service_types": ["temporary_shelter", "psychosocial_support"],
            "eligibility": {"age_min": 0, "age_max": 99, "genders": ["female"], "notes": None},
            "languages": ["id"],
            "fees": "free",
            "hours": "24 jam",
            "capacity": {"beds_total": 12, "beds_available": 4},
            "coverage": ["53"],
            "location_ids": [SHELTER_LOCATION],
        },
    ),
    "update_service": _one(
        "Today's bed count (send If-Match with the ETag you read)",
        {"capacity": {"beds_total": 12, "beds_available": 3}},
    ),
    "create_webhook": _one(
        "Referral events for a partner's case system",
        {
            "url": "https://partner.example.org/hooks/referral-api",
            "event_types": ["referral.created", "referral.status_changed"],
            "description": "Sistem kasus mitra",
        },
    ),
    "create_referral_offer": _one(
        "A 16-year-old girl offered to three shelters tonight; the first to accept takes her",
        _OFFER,
    ),
    "import_hsds_package": _one(
        "An organization's admin updates its own service from HSDS 3.1 JSON",
        [_HSDS_SERVICE],
    ),
    "verify_audit_checkpoint": _one(
        "Whether the chain still holds a checkpoint kept away from the database",
        {"checkpoint": CHECKPOINT},
    ),
    "redeliver_webhook": _one("Send events 10 to 20 again", {"from_number": 10, "to_number": 20}),
}


# operationId -> status -> the answer to that operation's first request example, as the
# live app gave it (ids of the entries above as their placeholders). tests/test_examples.py
# checks each against the documented schema and against the live answer's fields.
RESPONSE_EXAMPLES: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).with_name("response_examples.json")).read_text(encoding="utf-8")
)
