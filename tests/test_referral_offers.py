"""Shelter offers: one request to five shelters, the first acceptance wins."""

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from referral_api import create_app, migrate
from referral_api.config import DEMO_SECRET_KEY
from referral_api.db import make_engine
from referral_api.models import (
    Case,
    Event,
    Organization,
    Referral,
    ReferralEvent,
    ReferralOffer,
)
from referral_api.models.base import utcnow
from referral_api.schemas.referral import ClientSummarySchema
from referral_api.services import audit, directory, principals, seeding
from referral_api.services.actors import Actor
from referral_api.services.referrals import offers
from referral_api.worker import Worker, WorkerSettings

from .conftest import config_for, requires_postgres
from .referral_helpers import CONSENT

GIRL = {
    "alias": "Mawar",
    "initials": "MW",
    "age": 16,
    "gender": "female",
    "nationality": "ID",
    "languages": ["id", "en"],
    "disabilities": ["hearing"],
    "exploitation_types": ["sexual"],
    "needs": ["temporary_shelter", "psychosocial_support"],
}
IDENTIFYING = {"alias", "initials", "age", "birth_year", "nationality", "disabilities"}
IDENTIFYING |= {"exploitation_types", "client", "reference"}


def offer_body(service_ids, **overrides):
    body = {
        "case_id": None,
        "case": {"reference": "TRC-2026-017", "client": dict(GIRL)},
        "parent_referral_id": None,
        "kind": "referral",
        "to_service_ids": [str(i) for i in service_ids],
        "service_type": "temporary_shelter",
        "risk_level": "high",
        "reason": "Anak perempuan 16 tahun perlu rumah aman malam ini",
        "worker_role": "broker",
        "consent": {**CONSENT, "basis": "guardian_consent"},
        "capacity_override": None,
    }
    body.update(overrides)
    return body


@pytest.fixture
def shelters(directory_entry) -> list[dict]:
    return [
        directory_entry(
            latitude=-10.16 - i / 100,
            longitude=123.60,
            capacity={"beds_total": 6, "beds_available": 2},
        )
        for i in range(5)
    ]


@pytest.fixture
def parties(make_caller, shelters):
    return {
        "sender": make_caller("caseworker"),
        "receivers": [make_caller("caseworker", organization=s["organization"]) for s in shelters],
    }


def send_offer(client, caller, body, **headers):
    return client.post("/api/v1/referral-offers", json=body, headers={**caller.headers, **headers})


def accept(client, caller, referral):
    return client.post(
        f"/api/v1/referrals/{referral['id']}/transitions",
        json={"status": "accepted"},
        headers={**caller.headers, "If-Match": "*"},
    )


def test_first_acceptance_wins_and_only_the_winner_reads_the_profile(
    client, session, shelters, parties
) -> None:
    sender, receivers = parties["sender"], parties["receivers"]
    created = send_offer(client, sender, offer_body([s["service"].id for s in shelters]))
    assert created.status_code == 201, created.json
    offer = created.json
    referrals = offer["referrals"]
    assert len(referrals) == 5 and {r["offer_id"] for r in referrals} == {offer["offer_id"]}
    assert [r["to_service_id"] for r in referrals] == [str(s["service"].id) for s in shelters]
    assert len({r["case_id"] for r in referrals}) == 1
    case_id = referrals[0]["case_id"]

    # Before anyone accepts: the receivers see a de-identified summary, never the profile.
    for receiver, referral in zip(receivers, referrals, strict=True):
        assert client.get(f"/api/v1/cases/{case_id}", headers=receiver.headers).status_code == 403
        summary = client.get(
            f"/api/v1/referrals/{referral['id']}/client-summary", headers=receiver.headers
        )
        assert summary.status_code == 200
        assert ClientSummarySchema().validate(summary.json) == {}
        assert set(summary.json) == set(ClientSummarySchema().fields)
        assert not IDENTIFYING & set(ClientSummarySchema().fields)
        text = json.dumps(summary.json)
        assert "Mawar" not in text and "MW" not in text and "hearing" not in text
        assert summary.json["age_band"] == "12-17" and summary.json["gender"] == "female"
        assert summary.json["from_organization"]["id"] == str(sender.principal.organization_id)
    # Another receiver's summary is not theirs to read.
    other = client.get(
        f"/api/v1/referrals/{referrals[0]['id']}/client-summary", headers=receivers[1].headers
    )
    assert other.status_code in (403, 404)
    events_before = session.scalar(select(func.count()).select_from(Event))

    won = accept(client, receivers[2], referrals[2])
    assert won.status_code == 200, won.json
    statuses = {
        r["id"]: client.get(f"/api/v1/referrals/{r['id']}", headers=sender.headers).json
        for r in referrals
    }
    assert statuses[referrals[2]["id"]]["status"] == "accepted"
    for r in referrals[:2] + referrals[3:]:
        assert statuses[r["id"]]["status"] == "cancelled"
        assert statuses[r["id"]]["status_reason"] == "filled_elsewhere"
    # One partner event per change: the acceptance and four cancellations.
    new_events = session.scalars(select(Event).order_by(Event.occurred_at)).all()[events_before:]
    assert len(new_events) == 5
    assert sorted(e.data["status"] for e in new_events) == ["accepted"] + ["cancelled"] * 4

    winner_view = client.get(f"/api/v1/cases/{case_id}", headers=receivers[2].headers)
    assert winner_view.json["client"]["alias"] == "Mawar"
    losers = zip(receivers[:2] + receivers[3:], referrals[:2] + referrals[3:], strict=True)
    for loser, referral in losers:
        assert client.get(f"/api/v1/cases/{case_id}", headers=loser.headers).status_code == 403
        # The summary was for deciding: once the offer is filled elsewhere, it is gone too.
        summary = client.get(
            f"/api/v1/referrals/{referral['id']}/client-summary", headers=loser.headers
        )
        assert summary.status_code == 403, summary.json
        late = accept(client, loser, referral)
        assert late.status_code == 409, late.json
    kept = client.get(
        f"/api/v1/referrals/{referrals[2]['id']}/client-summary", headers=receivers[2].headers
    )
    assert kept.status_code == 200
    offer_row = session.get(ReferralOffer, uuid.UUID(offer["offer_id"]))
    assert offer_row.status == "filled"
    assert str(offer_row.winner_referral_id) == referrals[2]["id"]


def test_a_bad_offer_is_refused_and_writes_nothing(
    client, session, shelters, parties, directory_entry
) -> None:
    sender = parties["sender"]
    ids = [s["service"].id for s in shelters]
    legal = directory_entry(service_types=("legal_aid",), org_type="legal_service")
    same_org = directory.create_service(
        session,
        actor=Actor.system(),
        data={
            "organization_id": shelters[0]["organization"].id,
            "name": "Shelter kedua",
            "service_types": ["temporary_shelter"],
        },
    )
    before = [session.scalar(select(func.count()).select_from(m)) for m in (Case, Referral)]
    cases = [
        (offer_body(ids[:1]), "to_service_ids"),
        (offer_body(ids * 2), "to_service_ids"),
        (offer_body([ids[0], ids[0]]), "to_service_ids"),
        (offer_body([ids[0], same_org.id]), "to_service_ids"),
        (offer_body([ids[0], legal["service"].id]), "service_type"),
        (offer_body([ids[0], uuid.uuid4()]), "to_service_ids"),
        (offer_body(ids[:2], kind="transfer"), "kind"),
        (offer_body(ids[:2], expires_in_minutes=1), "expires_in_minutes"),
        (offer_body(ids[:2], consent=dict(CONSENT)), "consent.basis"),  # a child
        (offer_body(ids[:2], to_organization_id=str(uuid.uuid4())), "to_organization_id"),
    ]
    for body, field in cases:
        response = send_offer(client, sender, body)
        assert response.status_code == 422, (field, response.json)
        assert response.content_type == "application/problem+json"
        assert field in response.json["errors"], (field, response.json)
    after = [session.scalar(select(func.count()).select_from(m)) for m in (Case, Referral)]
    assert after == before
    own = send_offer(client, parties["receivers"][0], offer_body(ids[:2]))
    assert own.status_code == 422 and "to_service_ids" in own.json["errors"]


def test_an_offer_is_idempotent(client, session, shelters, parties) -> None:
    body = offer_body([s["service"].id for s in shelters[:3]])
    first = send_offer(client, parties["sender"], body, **{"Idempotency-Key": "offer-1"})
    again = send_offer(client, parties["sender"], body, **{"Idempotency-Key": "offer-1"})
    assert first.status_code == again.status_code == 201
    assert first.json == again.json
    count = select(func.count()).select_from(Referral)
    assert session.scalar(count.where(Referral.offer_id == uuid.UUID(first.json["offer_id"]))) == 3
    changed = send_offer(
        client, parties["sender"], {**body, "reason": "lain"}, **{"Idempotency-Key": "offer-1"}
    )
    assert changed.status_code == 422


def test_an_offer_nobody_accepts_expires(client, session, shelters, parties) -> None:
    sender, receivers = parties["sender"], parties["receivers"]
    body = offer_body([s["service"].id for s in shelters[:3]], expires_in_minutes=30)
    created = send_offer(client, sender, body).json
    referrals = created["referrals"]
    received = client.post(
        f"/api/v1/referrals/{referrals[1]['id']}/transitions",
        json={"status": "received"},
        headers={**receivers[1].headers, "If-Match": '"1"'},
    )
    assert received.status_code == 200
    assert offers.expire_offers(session) == 0  # not yet
    with time_machine.travel(utcnow() + timedelta(minutes=31), tick=False):
        late = accept(client, receivers[0], referrals[0])
        assert late.status_code == 409 and "expired" in late.json["detail"]
        assert offers.expire_offers(session) == 3
        assert offers.expire_offers(session) == 0  # once
    for referral in referrals:
        row = session.get(Referral, uuid.UUID(referral["id"]))
        session.refresh(row)
        assert (row.status, row.status_reason) == ("cancelled", "expired")
    assert session.get(ReferralOffer, uuid.UUID(created["offer_id"])).status == "expired"


def test_high_risk_offers_expire_in_two_hours_by_default(client, shelters, parties) -> None:
    created = send_offer(client, parties["sender"], offer_body([s["service"].id for s in shelters]))
    referral = created.json["referrals"][0]
    lasted = _instant(created.json["expires_at"]) - _instant(referral["created_at"])
    assert timedelta(minutes=119) < lasted <= timedelta(minutes=120)


def _instant(text):
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- 20 acceptances at once, on a database of its own ---------------------------------------


@pytest.fixture
def served(fresh_databases) -> Iterator[tuple]:
    url = fresh_databases.new()
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        seeding.seed(session)
        sender_org = Organization(name="TRC", type="central_government", region_code="53.71")
        session.add(sender_org)
        session.flush()
        services, tokens = [], {}
        for n in range(5):
            org = directory.create_organization(
                session,
                actor=Actor.system(),
                data={"name": f"Shelter {n}", "type": "shelter", "region_code": "53.71"},
            )
            services.append(
                directory.create_service(
                    session,
                    actor=Actor.system(),
                    data={
                        "organization_id": org.id,
                        "name": f"Rumah aman {n}",
                        "service_types": ["temporary_shelter"],
                    },
                ).id
            )
            tokens[n] = principals.create_token(
                session,
                actor=Actor.system(),
                role="caseworker",
                name=f"r{n}",
                organization_id=org.id,
            )[1]
        tokens["sender"] = principals.create_token(
            session,
            actor=Actor.system(),
            role="caseworker",
            name="s",
            organization_id=sender_org.id,
        )[1]
    app = create_app(config_for(url))
    headers = {k: {"Authorization": f"Bearer {v}"} for k, v in tokens.items()}
    yield app, engine, headers, services
    app.extensions["referral_api.db"].engine.dispose()
    engine.dispose()


@requires_postgres
def test_twenty_concurrent_acceptances_one_winner(served) -> None:
    app, engine, headers, services = served
    client = app.test_client()
    created = client.post(
        "/api/v1/referral-offers", json=offer_body(services), headers=headers["sender"]
    )
    assert created.status_code == 201, created.json
    referrals = created.json["referrals"]
    case_id = referrals[0]["case_id"]
    for n in range(5):  # record each token's first use, which would queue the racers
        assert client.get("/api/v1/me", headers=headers[n]).status_code == 200
    barrier = threading.Barrier(20)
    answers: list[tuple[int, int]] = []
    lock = threading.Lock()

    def race(n: int) -> None:
        local = app.test_client()
        barrier.wait()
        response = local.post(
            f"/api/v1/referrals/{referrals[n]['id']}/transitions",
            json={"status": "accepted"},
            headers={**headers[n], "If-Match": "*"},
        )
        with lock:
            answers.append((n, response.status_code))

    threads = [threading.Thread(target=race, args=(i % 5,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [code for _, code in answers].count(200) == 1, answers
    assert all(code in (200, 409) for _, code in answers), answers
    winner = next(n for n, code in answers if code == 200)

    with Session(engine) as session:
        rows = {
            str(r.id): r
            for r in session.scalars(select(Referral).where(Referral.case_id == uuid.UUID(case_id)))
        }
        assert sorted(r.status for r in rows.values()) == ["accepted"] + ["cancelled"] * 4
        assert rows[referrals[winner]["id"]].status == "accepted"
        assert {r.status_reason for r in rows.values() if r.status == "cancelled"} == {
            "filled_elsewhere"
        }
        # One status event and one partner event per change: 5 creations + 5 changes.
        ids = [uuid.UUID(i) for i in rows]
        assert (
            session.scalar(
                select(func.count())
                .select_from(ReferralEvent)
                .where(ReferralEvent.referral_id.in_(ids))
            )
            == 10
        )
        assert (
            session.scalar(
                select(func.count()).select_from(Event).where(Event.referral_id.in_(ids))
            )
            == 10
        )
        assert audit.verify(session).ok
    for n in range(5):
        read = client.get(f"/api/v1/cases/{case_id}", headers=headers[n])
        assert read.status_code == (200 if n == winner else 403), (n, read.json)


def test_the_worker_expires_offers(served) -> None:
    """On a database of its own, as the worker runs: its deadline scan closes the offer."""
    app, engine, headers, services = served
    client = app.test_client()
    body = offer_body(services[:2], expires_in_minutes=5)
    created = client.post("/api/v1/referral-offers", json=body, headers=headers["sender"])
    assert created.status_code == 201, created.json
    worker = Worker(
        sessionmaker(bind=engine, expire_on_commit=False),
        WorkerSettings(secret_key=DEMO_SECRET_KEY),
    )
    try:
        assert worker.run_once(check_deadlines=True).expired == 0
        with time_machine.travel(utcnow() + timedelta(minutes=6), tick=False):
            assert worker.run_once(check_deadlines=True).expired == 2
            assert worker.run_once(check_deadlines=True).expired == 0
    finally:
        worker.close()
    for referral in created.json["referrals"]:
        read = client.get(f"/api/v1/referrals/{referral['id']}", headers=headers["sender"]).json
        assert (read["status"], read["status_reason"]) == ("cancelled", "expired")


def test_an_offer_on_an_existing_case(client, shelters, parties, make_caller) -> None:
    sender = parties["sender"]
    ids = [s["service"].id for s in shelters]
    first = send_offer(client, sender, offer_body(ids[:2])).json
    case_id = first["referrals"][0]["case_id"]
    again = send_offer(client, sender, offer_body(ids[2:4], case_id=case_id, case=None))
    assert again.status_code == 201, again.json
    assert {r["case_id"] for r in again.json["referrals"]} == {case_id}
    assert again.json["offer_id"] != first["offer_id"]
    stranger = make_caller("caseworker")
    refused = send_offer(client, stranger, offer_body(ids[2:4], case_id=case_id, case=None))
    assert refused.status_code == 422 and "case_id" in refused.json["errors"]
    both = send_offer(client, sender, offer_body(ids[2:4], case_id=case_id))
    assert both.status_code == 422 and "case_id" in both.json["errors"]
