"""Referrals: creation rules, consent, lifecycle, deadlines, reading, idempotency."""

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import false, func, select, text
from sqlalchemy.orm import Session

from referral_api.models import AuditEvent, Case, Organization, Referral, ReferralEvent
from referral_api.models.base import utcnow
from referral_api.services.referrals import lifecycle

from .referral_helpers import ADULT, CONSENT, move, referral_body, send


@pytest.fixture
def parties(make_caller, directory_entry):
    """A sender (TRC) and a receiver (a legal aid institute with a service)."""
    receiver_entry = directory_entry(service_types=("legal_aid",), org_type="legal_service")
    sender = make_caller("caseworker")
    receiver = make_caller("caseworker", organization=receiver_entry["organization"])
    return sender, receiver, receiver_entry


def test_create_returns_referral_with_etag_and_deadlines(client, session, parties) -> None:
    sender, _receiver, entry = parties
    response = send(client, sender, referral_body(entry["organization"].id, risk_level="high"))
    assert response.status_code == 201, response.json
    body = response.json
    assert response.headers["ETag"] == '"1"'
    assert body["status"] == "requested" and body["version"] == 1
    assert body["from_organization_id"] == str(sender.principal.organization_id)
    assert body["overdue"] is False and body["overdue_reasons"] == []
    referral = session.get(Referral, uuid.UUID(body["id"]))
    assert referral.ack_due_at - referral.created_at == timedelta(hours=1)
    assert referral.start_due_at is None
    case = session.get(Case, uuid.UUID(body["case_id"]))
    assert case.owner_organization_id == sender.principal.organization_id
    events = session.scalars(select(ReferralEvent).where(ReferralEvent.referral_id == referral.id))
    assert [(e.from_status, e.to_status) for e in events] == [(None, "requested")]
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity_id.in_([body["id"], body["case_id"]]))
    ).all()
    assert set(actions) == {"case.create", "referral.create"}


def test_start_deadline_for_reintegration(client, session, make_caller, directory_entry) -> None:
    entry = directory_entry(service_types=("reintegration",), org_type="uptd_ppa")
    sender = make_caller("caseworker")
    body = send(
        client,
        sender,
        referral_body(entry["organization"].id, service_type="reintegration", risk_level="low"),
    ).json
    referral = session.get(Referral, uuid.UUID(body["id"]))
    assert referral.start_due_at - referral.created_at == timedelta(days=7)
    assert referral.ack_due_at - referral.created_at == timedelta(hours=72)


def test_client_profile_is_encrypted_at_rest(fresh_databases) -> None:
    """A raw dump of the database (the SQLite file, or every row as text) shows no client."""
    from referral_api import create_app, migrate
    from referral_api.db import make_engine
    from referral_api.services import principals, seeding
    from referral_api.services.actors import Actor

    from .conftest import config_for

    url = fresh_databases.new()
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        seeding.seed(session)
        orgs = [Organization(name=n, type="ngo", region_code="53.71") for n in ("A", "B")]
        session.add_all(orgs)
        session.flush()
        _, token = principals.create_token(
            session, actor=Actor.system(), role="caseworker", name="w", organization_id=orgs[0].id
        )
    client_data = {**ADULT, "alias": "Kenanga-Zq7", "disabilities": ["tunarungu-unik"]}
    body = referral_body(orgs[1].id, case={"reference": "R1", "client": client_data})
    app = create_app(config_for(url))
    response = app.test_client().post(
        "/api/v1/referrals", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 201
    assert "Kenanga" not in response.get_data(as_text=True)
    app.extensions["referral_api.db"].engine.dispose()
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        dump = Path(engine.url.database).read_bytes()
    else:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT CAST(c AS text) FROM cases c")).scalars().all()
        dump = "\n".join(rows).encode()
    engine.dispose()
    assert b"Kenanga-Zq7" not in dump
    assert b"tunarungu" not in dump
    assert len(dump) > 1000 or engine.dialect.name != "sqlite"


def test_case_profile_only_for_parties_and_every_read_audited(
    client, session, parties, make_caller
) -> None:
    sender, receiver, entry = parties
    body = send(client, sender, referral_body(entry["organization"].id)).json
    url = f"/api/v1/cases/{body['case_id']}"
    for caller in (sender, receiver, make_caller("admin")):
        response = client.get(url, headers=caller.headers)
        assert response.status_code == 200
        assert response.json["client"]["alias"] == "Melati"
    reads = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "case.read_client", AuditEvent.entity_id == body["case_id"]
        )
    ).all()
    assert len(reads) == 3
    assert all("Melati" not in str(e.summary) for e in reads)
    outsider = make_caller("caseworker")
    for path in (
        url,
        f"{url}/chain",
        f"/api/v1/referrals/{body['id']}",
        f"/api/v1/referrals/{body['id']}/events",
    ):
        assert client.get(path, headers=outsider.headers).status_code == 404, path
    assert client.get(url).status_code == 401


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"consent": {**CONSENT, "basis": None}}, "consent.basis"),
        (
            {"consent": {k: v for k, v in CONSENT.items() if k != "obtained_by"}},
            "consent.obtained_by",
        ),
        ({"consent": {**CONSENT, "method": "telepathy"}}, "consent.method"),
        ({"consent": {**CONSENT, "obtained_at": "2099-01-01T00:00:00Z"}}, "consent.obtained_at"),
        ({"consent": {**CONSENT, "basis": "vital_interest"}}, "consent.justification"),
        (
            {"case": {"client": {**ADULT, "age": 16}}},
            "consent.basis",
        ),
        ({"case": {"client": {**ADULT, "age": None, "birth_year": 2010}}}, "consent.basis"),
        (
            {"case": {"client": {k: v for k, v in ADULT.items() if k != "alias"}}},
            "case.client.alias",
        ),
        ({"case": {"client": {**ADULT, "age": None}}}, "case.client.age"),
        ({"case": {"client": {**ADULT, "gender": "girl"}}}, "case.client.gender"),
        (
            {"case": {"client": {**ADULT, "exploitation_types": ["spa"]}}},
            "case.client.exploitation_types.0",
        ),
        ({"case": None}, "case_id"),
        ({"kind": "handover"}, "kind"),
        ({"risk_level": "urgent"}, "risk_level"),
        ({"worker_role": "boss"}, "worker_role"),
        ({"service_type": "massage"}, "service_type"),
        ({"to_organization_id": "6f1c1e1e-0000-4000-8000-000000000000"}, "to_organization_id"),
        ({"parent_referral_id": "6f1c1e1e-0000-4000-8000-000000000000"}, "parent_referral_id"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_create_validation_names_the_field(client, parties, change, field) -> None:
    sender, _, entry = parties
    response = send(client, sender, {**referral_body(entry["organization"].id), **change})
    assert response.status_code == 422, response.json
    assert field in response.json["errors"], response.json


def test_child_with_guardian_consent_is_accepted(client, parties) -> None:
    sender, _, entry = parties
    body = referral_body(
        entry["organization"].id,
        case={"client": {**ADULT, "age": 16}},
        consent={**CONSENT, "basis": "guardian_consent"},
    )
    assert send(client, sender, body).status_code == 201
    vital = referral_body(
        entry["organization"].id,
        case={"client": {**ADULT, "age": 16}},
        consent={**CONSENT, "basis": "vital_interest", "justification": "Korban dalam bahaya"},
    )
    assert send(client, sender, vital).status_code == 201


def test_target_rules(client, session, parties, make_caller, directory_entry) -> None:
    sender, _, entry = parties
    org_id = entry["organization"].id
    own = referral_body(sender.principal.organization_id)
    assert "to_organization_id" in send(client, sender, own).json["errors"]

    wrong_type = referral_body(
        org_id, to_service_id=str(entry["service"].id), service_type="medical_care"
    )
    assert "service_type" in send(client, sender, wrong_type).json["errors"]

    other = directory_entry()
    foreign_service = referral_body(
        org_id, to_service_id=str(other["service"].id), service_type="temporary_shelter"
    )
    assert "to_service_id" in send(client, sender, foreign_service).json["errors"]

    entry["service"].status = "inactive"
    session.flush()
    inactive = referral_body(org_id, to_service_id=str(entry["service"].id))
    assert "to_service_id" in send(client, sender, inactive).json["errors"]
    entry["organization"].status = "inactive"
    session.flush()
    assert "to_organization_id" in send(client, sender, referral_body(org_id)).json["errors"]


def test_full_shelter_needs_capacity_override(client, make_caller, directory_entry) -> None:
    shelter = directory_entry(capacity={"beds_total": 5, "beds_available": 0})
    sender = make_caller("caseworker")
    body = referral_body(
        shelter["organization"].id,
        to_service_id=str(shelter["service"].id),
        service_type="temporary_shelter",
    )
    response = send(client, sender, body)
    assert response.status_code == 422
    assert "capacity_override" in response.json["errors"]
    body["capacity_override"] = "Anak 16 tahun, tidak ada tempat aman lain malam ini"
    assert send(client, sender, body).status_code == 201


def test_parent_from_another_case_is_refused(client, parties) -> None:
    sender, _, entry = parties
    first = send(client, sender, referral_body(entry["organization"].id)).json
    second = send(client, sender, referral_body(entry["organization"].id)).json
    body = referral_body(
        entry["organization"].id,
        case=None,
        case_id=second["case_id"],
        parent_referral_id=first["id"],
    )
    response = send(client, sender, body)
    assert response.status_code == 422
    assert "parent_referral_id" in response.json["errors"]


def test_lifecycle_and_who_may_do_what(client, session, parties) -> None:
    sender, receiver, entry = parties
    r = send(client, sender, referral_body(entry["organization"].id)).json
    rid = r["id"]
    # The sender cannot accept; the receiver cannot cancel.
    assert move(client, sender, rid, "accepted", 1).status_code == 403
    assert move(client, receiver, rid, "cancelled", 1).status_code == 403
    # Missing If-Match is 428; stale is 412.
    no_match = client.post(
        f"/api/v1/referrals/{rid}/transitions",
        json={"status": "received"},
        headers=receiver.headers,
    )
    assert no_match.status_code == 428
    step = move(client, receiver, rid, "received", 1)
    assert step.status_code == 200 and step.headers["ETag"] == '"2"'
    assert move(client, receiver, rid, "accepted", 1).status_code == 412
    # A forbidden move is 409 naming what is allowed.
    bad = move(client, receiver, rid, "completed", 2)
    assert bad.status_code == 409
    assert bad.json["allowed"] == ["accepted", "rejected"]
    moved = {}
    for status, version in (
        ("accepted", 2),
        ("in-progress", 3),
        ("on-hold", 4),
        ("in-progress", 5),
    ):
        response = move(client, receiver, rid, status, version)
        assert response.status_code == 200, status
        moved.setdefault(status, response.json)
    missing_outcome = move(client, receiver, rid, "completed", 6)
    assert missing_outcome.status_code == 422 and "outcome" in missing_outcome.json["errors"]
    done = move(client, receiver, rid, "completed", 6, outcome="Laporan polisi dibuat")
    assert done.status_code == 200
    body = done.json
    assert body["status"] == "completed" and body["outcome"] == "Laporan polisi dibuat"
    assert body["acknowledged_at"] and body["decided_at"] and body["started_at"]
    assert body["completed_at"]
    # Terminal: only entered-in-error, by the sender.
    assert move(client, receiver, rid, "in-progress", 7).json["allowed"] == []
    assert move(client, sender, rid, "cancelled", 7).json["allowed"] == ["entered-in-error"]
    assert move(client, sender, rid, "entered-in-error", 7, note="Salah kirim").status_code == 200
    events = client.get(f"/api/v1/referrals/{rid}/events", headers=sender.headers).json["items"]
    assert [e["to_status"] for e in events] == [
        "requested",
        "received",
        "accepted",
        "in-progress",
        "on-hold",
        "in-progress",
        "completed",
        "entered-in-error",
    ]
    assert [e["role"] for e in events][-1] == "sender"
    assert [e["version"] for e in events] == list(range(1, 9))
    assert [e["from_status"] for e in events] == [None] + [e["to_status"] for e in events[:-1]]
    # Later moves keep what earlier ones recorded: the outcome, and each first time.
    final = client.get(f"/api/v1/referrals/{rid}", headers=sender.headers).json
    assert final["outcome"] == "Laporan polisi dibuat"
    assert final["started_at"] == moved["in-progress"]["started_at"]
    for first in ("acknowledged_at", "decided_at", "started_at", "completed_at"):
        assert final[first] == body[first], first


def test_a_move_the_one_statement_update_misses_is_made_under_lock(
    client, parties, monkeypatch
) -> None:
    """If the guarded UPDATE matches nothing although the move is allowed (the referral
    changed between it and the lock), the locked path makes the move after all."""
    sender, receiver, entry = parties
    rid = send(client, sender, referral_body(entry["organization"].id)).json["id"]
    guarded, guards = lifecycle.move, []

    def missing(status, with_outcome, guard):
        guards.append(guard)
        statement = guarded(status, with_outcome, guard)
        return statement if guard is None else statement.where(false())

    monkeypatch.setattr(lifecycle, "move", missing)
    moved = move(client, receiver, rid, "received", 1)
    assert moved.status_code == 200 and guards == ["version", None]
    assert moved.json["version"] == 2 and moved.json["acknowledged_at"]
    events = client.get(f"/api/v1/referrals/{rid}/events", headers=sender.headers).json["items"]
    assert [(e["from_status"], e["to_status"]) for e in events] == [
        (None, "requested"),
        ("requested", "received"),
    ]
    assert move(client, receiver, rid, "received", 2).status_code == 409


def test_reject_and_fail_need_reason_codes(client, parties) -> None:
    sender, receiver, entry = parties
    rid = send(client, sender, referral_body(entry["organization"].id)).json["id"]
    response = move(client, receiver, rid, "rejected", 1)
    assert response.status_code == 422 and "reason" in response.json["errors"]
    response = move(client, receiver, rid, "rejected", 1, reason="other")
    assert response.status_code == 422 and "note" in response.json["errors"]
    response = move(client, receiver, rid, "rejected", 1, reason="sleepy")
    assert response.status_code == 422 and "reason" in response.json["errors"]
    response = move(client, receiver, rid, "rejected", 1, reason="no_capacity")
    assert response.status_code == 200
    assert response.json["status_reason"] == "no_capacity"
    assert response.json["decided_at"] is not None


def test_transfer_acceptance_moves_case_ownership(client, session, parties) -> None:
    sender, receiver, entry = parties
    r = send(client, sender, referral_body(entry["organization"].id, kind="transfer")).json
    case = session.get(Case, uuid.UUID(r["case_id"]))
    assert case.owner_organization_id == sender.principal.organization_id
    assert move(client, receiver, r["id"], "accepted", 1).status_code == 200
    session.refresh(case)
    assert case.owner_organization_id == receiver.principal.organization_id


def test_overdue_until_acknowledged(client, session, parties) -> None:
    sender, receiver, entry = parties
    r = send(client, sender, referral_body(entry["organization"].id, risk_level="high")).json
    referral = session.get(Referral, uuid.UUID(r["id"]))
    referral.ack_due_at = utcnow() - timedelta(minutes=5)
    session.flush()
    body = client.get(f"/api/v1/referrals/{r['id']}", headers=receiver.headers).json
    assert body["overdue"] is True and body["overdue_reasons"] == ["acknowledge"]
    listed = client.get(
        "/api/v1/referrals?direction=incoming&overdue=true", headers=receiver.headers
    ).json
    assert [i["id"] for i in listed["items"]] == [r["id"]]
    assert move(client, receiver, r["id"], "received", 1).status_code == 200
    body = client.get(f"/api/v1/referrals/{r['id']}", headers=receiver.headers).json
    assert body["overdue"] is False
    listed = client.get("/api/v1/referrals?overdue=true", headers=receiver.headers).json
    assert listed["total"] == 0


def test_listing_by_direction_and_filters(client, parties) -> None:
    sender, receiver, entry = parties
    a = send(client, sender, referral_body(entry["organization"].id)).json
    b = send(client, sender, referral_body(entry["organization"].id, risk_level="high")).json
    out = client.get("/api/v1/referrals?direction=outgoing", headers=sender.headers).json
    assert {i["id"] for i in out["items"]} == {a["id"], b["id"]}
    assert (
        client.get("/api/v1/referrals?direction=incoming", headers=sender.headers).json["total"]
        == 0
    )
    high = client.get("/api/v1/referrals?risk_level=high", headers=receiver.headers).json
    assert [i["id"] for i in high["items"]] == [b["id"]]
    by_case = client.get(f"/api/v1/referrals?case_id={a['case_id']}", headers=receiver.headers)
    assert [i["id"] for i in by_case.json["items"]] == [a["id"]]
    bad = client.get("/api/v1/referrals?direction=sideways", headers=receiver.headers)
    assert bad.status_code == 422 and "direction" in bad.json["errors"]


def test_idempotent_create(client, session, parties) -> None:
    sender, _, entry = parties
    body = referral_body(entry["organization"].id)
    first = send(client, sender, body, **{"Idempotency-Key": "abc-1"})
    again = send(client, sender, body, **{"Idempotency-Key": "abc-1"})
    assert first.status_code == again.status_code == 201
    assert first.json == again.json
    count = session.scalar(
        select(func.count())
        .select_from(Referral)
        .where(Referral.case_id == uuid.UUID(first.json["case_id"]))
    )
    assert count == 1
    changed = send(client, sender, {**body, "reason": "lain"}, **{"Idempotency-Key": "abc-1"})
    assert changed.status_code == 422 and "Idempotency-Key" in changed.json["errors"]
    # Keys are per principal: another caseworker may use the same key.
    from .conftest import Caller  # noqa: F401 - documentation of the fixture type

    assert send(client, sender, body, **{"Idempotency-Key": "abc-2"}).json["id"] != first.json["id"]


def test_idempotency_keys_are_per_principal(client, parties, make_caller) -> None:
    sender, _, entry = parties
    colleague = make_caller("caseworker")
    body = referral_body(entry["organization"].id)
    a = send(client, sender, body, **{"Idempotency-Key": "same"})
    b = send(client, colleague, body, **{"Idempotency-Key": "same"})
    assert a.status_code == b.status_code == 201
    assert a.json["id"] != b.json["id"]


def test_coordinator_and_admin_cannot_send(client, parties, make_caller) -> None:
    _, _, entry = parties
    for role in ("coordinator", "admin"):
        caller = make_caller(role)
        assert send(client, caller, referral_body(entry["organization"].id)).status_code == 403
