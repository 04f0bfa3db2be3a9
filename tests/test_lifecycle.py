"""The client data lifecycle (UU PDP 27/2022): the access window, consent withdrawal,
case closure, the subject export and a purged profile, through the API."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update

from referral_api.models import AuditEvent, Case, ConsentWithdrawal, Event, Referral, ReferralEvent
from referral_api.models.base import utcnow
from referral_api.services import retention

from .conftest import ON_POSTGRES
from .referral_helpers import CONSENT, move, referral_body, send


@pytest.fixture
def world(make_caller, make_organization):
    """A case owned by `owner` with open referrals to `b`, `c` and `d`."""
    owner_org = make_organization(name="TRC Uji")
    owner = make_caller("caseworker", organization=owner_org)
    callers = {"owner": owner, "admin": make_caller("org_admin", organization=owner_org)}
    for name in ("b", "c", "d", "outsider"):
        callers[name] = make_caller("caseworker")
    return callers


def org_of(caller):
    return caller.principal.organization_id


def new_case(client, world, to="b", **fields):
    response = send(client, world["owner"], referral_body(org_of(world[to]), **fields))
    assert response.status_code == 201, response.json
    return response.json


def onward(client, world, case_id, sender, to, consent=None):
    body = referral_body(org_of(world[to]), case_id=case_id, case=None)
    if consent is not None:
        body["consent"] = consent
    return send(client, world[sender], body)


def read(client, caller, case_id):
    return client.get(f"/api/v1/cases/{case_id}", headers=caller.headers)


def withdraw(client, caller, case_id, scope, note="Keluarga menarik persetujuan"):
    return client.post(
        f"/api/v1/cases/{case_id}/consent-withdrawal",
        json={"scope": scope, "note": note},
        headers=caller.headers,
    )


def close(client, caller, case_id, **body):
    return client.post(
        f"/api/v1/cases/{case_id}/close",
        json={"outcome": "services_completed", **body},
        headers=caller.headers,
    )


def now_text(delta=timedelta()):
    return (utcnow() + delta).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def denied_reads(session, case_id):
    return session.scalar(
        select(func.count()).where(
            AuditEvent.action == "case.read_client_denied", AuditEvent.entity_id == case_id
        )
    )


# -- the access window --------------------------------------------------------------------


def test_a_receiver_that_rejects_loses_the_profile_and_cannot_refer_onward(
    client, session, world
) -> None:
    referral = new_case(client, world)
    case_id = referral["case_id"]
    assert read(client, world["b"], case_id).json["client"]["alias"] == "Melati"
    assert (
        move(client, world["b"], referral["id"], "rejected", 1, reason="no_capacity").status_code
        == 200
    )

    refused = read(client, world["b"], case_id)
    assert refused.status_code == 403
    assert "Melati" not in refused.get_data(as_text=True)
    assert "access to this client's profile has ended" in refused.json["detail"]
    assert denied_reads(session, case_id) == 1
    # Passing the client on is refused exactly as for an organization never party to it.
    as_former = onward(client, world, case_id, "b", "c")
    as_outsider = onward(client, world, case_id, "outsider", "c")
    assert as_former.status_code == as_outsider.status_code == 422
    assert as_former.json["errors"] == as_outsider.json["errors"] == {"case_id": ["No such case."]}
    # Its own referral stays readable: the record of what it was asked, without the client.
    assert (
        client.get(f"/api/v1/referrals/{referral['id']}", headers=world["b"].headers).status_code
        == 200
    )
    assert read(client, world["owner"], case_id).status_code == 200


def test_cancelled_ends_access_at_once(client, world) -> None:
    referral = new_case(client, world)
    assert move(client, world["owner"], referral["id"], "cancelled", 1).status_code == 200
    assert read(client, world["b"], referral["case_id"]).status_code == 403


def test_a_completed_receiver_keeps_the_profile_for_the_window_only(client, session, world) -> None:
    referral = new_case(client, world)
    for version, status in enumerate(("accepted", "in-progress"), start=1):
        assert move(client, world["b"], referral["id"], status, version).status_code == 200
    assert (
        move(client, world["b"], referral["id"], "completed", 3, outcome="Didampingi").status_code
        == 200
    )
    assert read(client, world["b"], referral["case_id"]).status_code == 200
    # 29 days later still; 31 days later no more (REFERRAL_API_CLOSED_ACCESS_DAYS=30).
    for days, allowed in ((29, True), (31, False)):
        session.execute(
            update(Referral)
            .where(Referral.id == uuid.UUID(referral["id"]))
            .values(closed_at=utcnow() - timedelta(days=days))
        )
        assert read(client, world["b"], referral["case_id"]).status_code == (
            200 if allowed else 403
        )
    assert read(client, world["owner"], referral["case_id"]).status_code == 200


def test_consent_that_expires_ends_access(client, session, world) -> None:
    past = {**CONSENT, "expires_at": now_text(-timedelta(minutes=1))}
    refused = send(client, world["owner"], referral_body(org_of(world["b"]), consent=past))
    assert refused.status_code == 422
    assert list(refused.json["errors"]) == ["consent.expires_at"]

    future = {**CONSENT, "expires_at": now_text(timedelta(days=90))}
    referral = new_case(client, world, consent=future)
    assert referral["consent"]["expires_at"].endswith("Z")
    assert read(client, world["b"], referral["case_id"]).status_code == 200
    session.execute(
        update(Referral)
        .where(Referral.id == uuid.UUID(referral["id"]))
        .values(consent_expires_at=utcnow() - timedelta(seconds=1))
    )
    assert read(client, world["b"], referral["case_id"]).status_code == 403
    assert onward(client, world, referral["case_id"], "b", "c").status_code == 422


# -- consent withdrawal -------------------------------------------------------------------


def test_withdrawal_cancels_the_receivers_referrals_and_ends_their_access(
    client, session, world
) -> None:
    first = new_case(client, world)
    case_id = first["case_id"]
    to_c = onward(client, world, case_id, "owner", "c").json
    assert move(client, world["b"], first["id"], "accepted", 1).status_code == 200

    response = withdraw(client, world["owner"], case_id, [str(org_of(world["b"]))])
    assert response.status_code == 200, response.json
    assert response.json["cancelled_referral_ids"] == [first["id"]]
    assert response.json["organization_ids"] == [str(org_of(world["b"]))]

    cancelled = client.get(f"/api/v1/referrals/{first['id']}", headers=world["owner"].headers)
    assert cancelled.json["status"] == "cancelled"
    assert cancelled.json["status_reason"] == "consent_withdrawn"
    last = session.scalars(
        select(ReferralEvent)
        .where(ReferralEvent.referral_id == uuid.UUID(first["id"]))
        .order_by(ReferralEvent.version.desc())
    ).first()
    assert (last.to_status, last.role, last.reason) == ("cancelled", "owner", "consent_withdrawn")
    partner_event = session.scalars(
        select(Event).where(
            Event.referral_id == uuid.UUID(first["id"]), Event.type == "referral.status_changed"
        )
    ).all()[-1]
    assert partner_event.data["status"] == "cancelled"
    assert session.scalar(
        select(func.count()).where(
            AuditEvent.action == "case.consent_withdrawal", AuditEvent.entity_id == case_id
        )
    )

    assert read(client, world["b"], case_id).status_code == 403
    assert read(client, world["c"], case_id).status_code == 200  # the rest of the chain continues
    assert client.get(f"/api/v1/referrals/{to_c['id']}", headers=world["c"].headers).json[
        "status"
    ] == ("requested")
    # A new referral to B needs consent obtained after the withdrawal.
    again = onward(client, world, case_id, "owner", "b")
    assert again.status_code == 422
    assert list(again.json["errors"]) == ["consent"]
    renewed = onward(
        client, world, case_id, "owner", "b", consent={**CONSENT, "obtained_at": now_text()}
    )
    assert renewed.status_code == 201, renewed.json
    assert read(client, world["b"], case_id).status_code == 200


def test_withdrawal_from_all_reaches_every_party_but_the_owner(client, session, world) -> None:
    first = new_case(client, world)
    case_id = first["case_id"]
    onward(client, world, case_id, "owner", "c")
    for version, status in enumerate(("accepted", "in-progress"), start=1):
        assert move(client, world["b"], first["id"], status, version).status_code == 200
    assert (
        move(client, world["b"], first["id"], "completed", 3, outcome="Selesai").status_code == 200
    )

    response = withdraw(client, world["owner"], case_id, "all")
    assert response.status_code == 200, response.json
    assert response.json["organization_ids"] is None
    assert len(response.json["cancelled_referral_ids"]) == 1  # C's; B's had completed
    # B was inside its closed-access window: the withdrawal ends it too.
    for name in ("b", "c"):
        assert read(client, world[name], case_id).status_code == 403
    assert read(client, world["owner"], case_id).status_code == 200
    assert onward(client, world, case_id, "owner", "d").status_code == 422


@pytest.mark.parametrize(
    ("scope", "field"),
    [
        ("some", "scope"),
        ([], "scope"),
        (["not-a-uuid"], "scope"),
        ([str(uuid.uuid4())], "scope"),
        ("owner", "scope"),
    ],
)
def test_a_bad_scope_is_refused_naming_it_and_nothing_is_written(
    client, session, world, scope, field
) -> None:
    referral = new_case(client, world)
    if scope == "owner":
        scope = [str(org_of(world["owner"]))]
    response = withdraw(client, world["owner"], referral["case_id"], scope)
    assert response.status_code == 422, response.json
    assert response.headers["Content-Type"] == "application/problem+json"
    assert list(response.json["errors"]) == [field]
    assert session.scalar(select(func.count()).select_from(ConsentWithdrawal)) == 0
    assert session.get(Referral, uuid.UUID(referral["id"])).status == "requested"


def test_only_the_owner_withdraws(client, world) -> None:
    referral = new_case(client, world)
    by_receiver = withdraw(client, world["b"], referral["case_id"], "all")
    assert by_receiver.status_code == 403
    assert withdraw(client, world["outsider"], referral["case_id"], "all").status_code == 404
    assert withdraw(client, world["owner"], str(uuid.uuid4()), "all").status_code == 404


def _refuse_cancelling(session, referral_id: str) -> None:
    """A trigger made for the test: the database refuses to cancel this one referral."""
    if ON_POSTGRES:
        session.execute(
            text(
                "CREATE FUNCTION refuse_cancel() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
            )
        )
        session.execute(
            text(
                "CREATE TRIGGER refuse_cancel BEFORE UPDATE ON referrals FOR EACH ROW "
                f"WHEN (NEW.id = '{referral_id}'::uuid AND NEW.status = 'cancelled') "
                "EXECUTE FUNCTION refuse_cancel()"
            )
        )
    else:
        session.execute(
            text(
                "CREATE TRIGGER refuse_cancel BEFORE UPDATE ON referrals "
                f"WHEN NEW.id = '{uuid.UUID(referral_id).hex}' AND NEW.status = 'cancelled' "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
        )


@pytest.mark.parametrize("action", ["withdraw", "close"])
def test_a_failure_in_the_middle_of_cancelling_leaves_nothing_half_written(
    client, session, world, action
) -> None:
    first = new_case(client, world)
    case_id = first["case_id"]
    second = onward(client, world, case_id, "owner", "c").json
    third = onward(client, world, case_id, "owner", "d").json
    ids = [uuid.UUID(r["id"]) for r in (first, second, third)]
    _refuse_cancelling(session, second["id"])
    audit_before = session.scalar(select(func.count()).select_from(AuditEvent))
    events_before = session.scalar(select(func.count()).select_from(Event))

    if action == "withdraw":
        response = withdraw(client, world["owner"], case_id, "all")
    else:
        response = close(client, world["owner"], case_id, cancel_open=True)
    assert response.status_code >= 400  # the database refused (409 on SQLite, 500 on PG)

    statuses = session.scalars(select(Referral.status).where(Referral.id.in_(ids))).all()
    assert statuses == ["requested"] * 3  # the first one's cancellation was undone too
    assert (
        session.scalar(
            select(func.count()).where(
                ReferralEvent.referral_id.in_(ids), ReferralEvent.version > 1
            )
        )
        == 0
    )
    assert session.scalar(select(func.count()).select_from(ConsentWithdrawal)) == 0
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == audit_before
    assert session.scalar(select(func.count()).select_from(Event)) == events_before
    case = session.get(Case, uuid.UUID(case_id))
    session.refresh(case)
    assert case.closed_at is None and case.status == "open"
    assert read(client, world["b"], case_id).status_code == 200


# -- case closure -------------------------------------------------------------------------


def test_closing_needs_the_open_referrals_ended_or_cancelled(client, session, world) -> None:
    first = new_case(client, world)
    case_id = first["case_id"]
    second = onward(client, world, case_id, "owner", "c").json

    refused = close(client, world["owner"], case_id)
    assert refused.status_code == 409
    assert sorted(refused.json["open_referrals"]) == sorted([first["id"], second["id"]])
    assert first["id"] in refused.json["detail"] or "2 open referral" in refused.json["detail"]

    closed = close(client, world["owner"], case_id, cancel_open=True, note="Kembali ke keluarga")
    assert closed.status_code == 200, closed.json
    assert closed.json["status"] == "closed" and closed.json["outcome"] == "services_completed"
    assert sorted(closed.json["cancelled_referral_ids"]) == sorted([first["id"], second["id"]])
    reasons = session.scalars(
        select(Referral.status_reason).where(Referral.case_id == uuid.UUID(case_id))
    ).all()
    assert reasons == ["case_closed", "case_closed"]
    case = read(client, world["owner"], case_id).json
    assert case["status"] == "closed" and case["closed_at"] is not None

    again = close(client, world["owner"], case_id)
    assert again.status_code == 409 and "closed" in again.json["detail"]
    assert withdraw(client, world["owner"], case_id, "all").status_code == 409
    new_referral = onward(client, world, case_id, "owner", "d")
    assert new_referral.status_code == 422
    assert list(new_referral.json["errors"]) == ["case_id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"outcome": "finished"}, "outcome"),
        ({"outcome": "other"}, "note"),
        ({"outcome": "other", "note": "  "}, "note"),
        ({"outcome": "services_completed", "cancel_open": "maybe"}, "cancel_open"),
    ],
)
def test_a_bad_closure_is_refused_naming_the_field(client, session, world, body, field) -> None:
    referral = new_case(client, world)
    assert move(client, world["owner"], referral["id"], "cancelled", 1).status_code == 200
    response = client.post(
        f"/api/v1/cases/{referral['case_id']}/close", json=body, headers=world["owner"].headers
    )
    assert response.status_code == 422, response.json
    assert list(response.json["errors"]) == [field]
    assert session.get(Case, uuid.UUID(referral["case_id"])).closed_at is None


def test_only_the_owner_closes(client, world) -> None:
    referral = new_case(client, world)
    assert close(client, world["b"], referral["case_id"]).status_code == 403
    assert close(client, world["outsider"], referral["case_id"]).status_code == 404


# -- subject export and purge -------------------------------------------------------------


def test_subject_export_holds_everything_and_every_read(client, session, world) -> None:
    referral = new_case(client, world)
    case_id = referral["case_id"]
    assert read(client, world["b"], case_id).status_code == 200
    assert (
        move(client, world["b"], referral["id"], "rejected", 1, reason="no_capacity").status_code
        == 200
    )
    assert read(client, world["b"], case_id).status_code == 403
    withdraw(client, world["owner"], case_id, [str(org_of(world["c"]))])

    for caller, status in (("owner", 403), ("b", 403), ("outsider", 404)):
        response = client.get(
            f"/api/v1/cases/{case_id}/subject-export", headers=world[caller].headers
        )
        assert response.status_code == status
    response = client.get(f"/api/v1/cases/{case_id}/subject-export", headers=world["admin"].headers)
    assert response.status_code == 200, response.json
    document = response.json
    assert document["client"]["alias"] == "Melati"
    assert document["case"]["id"] == case_id
    (exported,) = document["referrals"]
    assert exported["referral"]["consent"]["basis"] == "informed_consent"
    assert [e["to_status"] for e in exported["events"]] == ["requested", "rejected"]
    assert document["consent_withdrawals"][0]["organization_id"] == str(org_of(world["c"]))
    accesses = [(a["action"], a["organization_id"]) for a in document["profile_accesses"]]
    assert accesses == [
        ("case.read_client", str(org_of(world["b"]))),
        ("case.read_client_denied", str(org_of(world["b"]))),
    ]
    assert document["profile_accesses"][0]["principal_name"] == "caseworker under test"
    # The export is itself audited: the next one lists it.
    again = client.get(f"/api/v1/cases/{case_id}/subject-export", headers=world["admin"].headers)
    assert again.json["profile_accesses"][-1]["action"] == "case.subject_export"


def test_a_purged_profile_is_gone_and_the_history_stays(client, session, world) -> None:
    referral = new_case(client, world)
    case_id = referral["case_id"]
    kept = new_case(client, world)
    for case in (case_id, kept["case_id"]):
        assert close(client, world["owner"], case, cancel_open=True).status_code == 200
    session.execute(
        update(Case)
        .where(Case.id == uuid.UUID(case_id))
        .values(closed_at=utcnow() - timedelta(days=1826))
    )
    assert retention.due(session, now=utcnow(), retention_days=1825) == [uuid.UUID(case_id)]
    assert retention.purge(session, now=utcnow(), retention_days=1825) == [uuid.UUID(case_id)]

    gone = read(client, world["owner"], case_id)
    assert gone.status_code == 410 and gone.json["type"].endswith(":gone")
    export = client.get(f"/api/v1/cases/{case_id}/subject-export", headers=world["admin"].headers)
    assert export.status_code == 410
    assert read(client, world["owner"], kept["case_id"]).status_code == 200  # closed too recently
    stored = session.get(Case, uuid.UUID(case_id))
    session.refresh(stored)
    assert stored.client_ciphertext == b"" and stored.data_key is None
    chain = client.get(f"/api/v1/cases/{case_id}/chain", headers=world["owner"].headers)
    assert chain.status_code == 200 and chain.json["roots"][0]["id"] == referral["id"]
    events = client.get(
        f"/api/v1/referrals/{referral['id']}/events", headers=world["owner"].headers
    )
    assert [e["to_status"] for e in events.json["items"]] == ["requested", "cancelled"]
    assert (
        session.scalar(
            select(func.count()).where(
                AuditEvent.action == "case.purge", AuditEvent.entity_id == case_id
            )
        )
        == 1
    )
    assert retention.purge(session, now=utcnow(), retention_days=1825) == []
