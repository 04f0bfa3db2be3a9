"""A partner's first referral through a client generated from openapi.yaml by
openapi-python-client (tests/test_generated_client.py generates it, runs this against a
live demo and checks this file with mypy --strict).

Usage: python scenario.py BASE_URL SENDER_TOKEN RECEIVER_TOKEN RECEIVER_ORGANIZATION_ID
"""

from __future__ import annotations

import datetime
import sys
from uuid import UUID

from referral_client import AuthenticatedClient
from referral_client.api.referrals import create_referral, get_referral, transition_referral
from referral_client.api.services import list_nearest_services
from referral_client.models import (
    ClientProfile,
    Consent,
    ConsentBasis,
    ConsentMethod,
    ExploitationType,
    Gender,
    Nearest,
    NewCase,
    Problem,
    Referral,
    ReferralCreate,
    RiskLevel,
    ServiceTypeCode,
    Transition,
    TransitionStatus,
    WorkerRole,
)


def main(base_url: str, sender_token: str, receiver_token: str, receiver: UUID) -> str:
    sender = AuthenticatedClient(base_url=base_url, token=sender_token)
    shelter = AuthenticatedClient(base_url=base_url, token=receiver_token)

    nearest = list_nearest_services.sync(
        client=sender, lat=-10.1772, lng=123.607, service_type=[ServiceTypeCode.TEMPORARY_SHELTER]
    )
    assert isinstance(nearest, Nearest), nearest
    confidential = [item.location.name for item in nearest.items if item.location.confidential]

    body = ReferralCreate(
        case=NewCase(
            reference="TRC-2026-017",
            client=ClientProfile(
                alias="W",
                age=16,
                gender=Gender.FEMALE,
                exploitation_types=[ExploitationType.SEXUAL],
                needs=[ServiceTypeCode.TEMPORARY_SHELTER],
            ),
        ),
        to_organization_id=receiver,
        service_type=ServiceTypeCode.TEMPORARY_SHELTER,
        risk_level=RiskLevel.HIGH,
        reason="Korban eksploitasi seksual, butuh rumah aman malam ini",
        worker_role=WorkerRole.BROKER,
        consent=Consent(
            basis=ConsentBasis.GUARDIAN_CONSENT,
            obtained_by="Pekerja sosial TRC",
            obtained_at=datetime.datetime(2026, 11, 20, 8, 15, tzinfo=datetime.UTC),
            method=ConsentMethod.WRITTEN,
            scope="Rujukan ke rumah aman",
        ),
    )
    created = create_referral.sync(client=sender, body=body)
    assert isinstance(created, Referral), created
    version: int = created.version  # required: an int, never "unset"

    accepted = transition_referral.sync(
        created.id,
        client=shelter,
        body=Transition(status=TransitionStatus.ACCEPTED),
        if_match=f'"{version}"',
    )
    assert isinstance(accepted, Referral), accepted
    stale = transition_referral.sync(
        created.id,
        client=shelter,
        body=Transition(status=TransitionStatus.IN_PROGRESS),
        if_match=f'"{version}"',
    )
    assert isinstance(stale, Problem) and stale.status == 412, stale

    read = get_referral.sync(created.id, client=sender)
    assert isinstance(read, Referral), read
    basis: str = read.consent.basis  # a typed consent, not a free dict
    return f"{read.status} v{read.version} basis={basis} confidential_sites={len(confidential)}"


if __name__ == "__main__":
    url, sender_token, receiver_token, receiver = sys.argv[1:5]
    print(main(url, sender_token, receiver_token, UUID(receiver)))
