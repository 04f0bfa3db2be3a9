"""Races: 10 threads moving the same referral (one winner per step, no lost events), and
retries of one create racing with the same Idempotency-Key (one referral)."""

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from referral_api import create_app, migrate
from referral_api.db import make_engine
from referral_api.models import Organization, Referral, ReferralEvent
from referral_api.services import audit, principals, seeding
from referral_api.services.actors import Actor

from .conftest import config_for, requires_postgres
from .referral_helpers import referral_body

# Per step: who tries what (side, status, extra fields), 10 contenders in all.
STEPS = {
    "requested": [("receiver", "accepted", {})] * 4
    + [("receiver", "rejected", {"reason": "no_capacity"})] * 3
    + [("sender", "cancelled", {})] * 3,
    "accepted": [("receiver", "in-progress", {})] * 4
    + [("receiver", "failed", {"reason": "client_unreachable"})] * 3
    + [("sender", "cancelled", {})] * 3,
    "in-progress": [("receiver", "completed", {"outcome": "Selesai"})] * 4
    + [("receiver", "on-hold", {})] * 3
    + [("sender", "cancelled", {})] * 3,
    "on-hold": [("receiver", "in-progress", {})] * 5 + [("sender", "cancelled", {})] * 5,
}


def race_step(app, headers, referral_id: str, version: int, contenders) -> list[tuple[int, str]]:
    """Start every contender at once against the same version; collect the answers."""
    barrier = threading.Barrier(len(contenders))
    results: list[tuple[int, str]] = []
    lock = threading.Lock()

    def race(side: str, target: str, fields: dict) -> None:
        local = app.test_client()
        barrier.wait()
        response = local.post(
            f"/api/v1/referrals/{referral_id}/transitions",
            json={"status": target, **fields},
            headers={**headers[side], "If-Match": f'"{version}"'},
        )
        with lock:
            results.append((response.status_code, target))

    threads = [threading.Thread(target=race, args=c) for c in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.fixture
def served(fresh_databases) -> Iterator[tuple[Flask, Engine, dict, Organization]]:
    """A database of its own with a sender and a receiver, and the app serving it."""
    url = fresh_databases.new()
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        seeding.seed(session)
        sender_org = Organization(name="TRC", type="central_government", region_code="31.71")
        receiver_org = Organization(name="RPTC", type="social_rehabilitation", region_code="31.71")
        session.add_all([sender_org, receiver_org])
        session.flush()
        tokens = {
            side: principals.create_token(
                session, actor=Actor.system(), role="caseworker", name=side, organization_id=org
            )[1]
            for side, org in (("sender", sender_org.id), ("receiver", receiver_org.id))
        }
    app = create_app(config_for(url))
    headers = {side: {"Authorization": f"Bearer {token}"} for side, token in tokens.items()}
    yield app, engine, headers, receiver_org
    app.extensions["referral_api.db"].engine.dispose()
    engine.dispose()


def test_racing_transitions_have_one_winner_per_step(served) -> None:
    app, engine, headers, receiver_org = served
    client = app.test_client()

    winners_total = 0
    for _ in range(3):
        created = client.post(
            "/api/v1/referrals", json=referral_body(receiver_org.id), headers=headers["sender"]
        )
        assert created.status_code == 201
        referral_id = created.json["id"]
        status, version = "requested", 1
        while status in STEPS:
            results = race_step(app, headers, referral_id, version, STEPS[status])
            codes = sorted(code for code, _ in results)
            winners = [target for code, target in results if code == 200]
            assert len(winners) == 1, results
            assert all(code in (200, 409, 412) for code in codes), results
            winners_total += 1
            status, version = winners[0], version + 1
            current = client.get(f"/api/v1/referrals/{referral_id}", headers=headers["sender"])
            assert current.json["status"] == status
            assert current.json["version"] == version

        with Session(engine) as session:
            events = session.scalar(
                select(func.count())
                .select_from(ReferralEvent)
                .where(ReferralEvent.referral_id == uuid.UUID(referral_id))
            )
        assert events == version  # the creation plus one per successful change

    with Session(engine) as session:
        verdict = audit.verify(session)
    assert verdict.ok, verdict
    assert winners_total >= 3


def test_racing_retries_with_one_idempotency_key_create_one_referral(served) -> None:
    """Eight copies of one create, sent at once with the same key: one referral, and
    every copy answered with it."""
    app, engine, headers, receiver_org = served
    # Record the token's use first: its last_used_at update would queue the copies.
    assert app.test_client().get("/api/v1/me", headers=headers["sender"]).status_code == 200
    body = referral_body(receiver_org.id)
    barrier = threading.Barrier(8)
    answers: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def retry() -> None:
        local = app.test_client()
        barrier.wait()
        response = local.post(
            "/api/v1/referrals",
            json=body,
            headers={**headers["sender"], "Idempotency-Key": "retry-1"},
        )
        with lock:
            answers.append((response.status_code, (response.json or {}).get("id")))

    threads = [threading.Thread(target=retry) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {code for code, _ in answers} == {201}, answers
    assert len({referral_id for _, referral_id in answers}) == 1, answers
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Referral)) == 1
        assert session.scalar(select(func.count()).select_from(ReferralEvent)) == 1
        assert audit.verify(session).ok


@requires_postgres
def test_a_withdrawal_racing_a_new_referral_in_the_case_cancels_it(served) -> None:
    """The new referral has passed its consent checks and is still writing when the
    owner withdraws consent for everyone: the withdrawal waits for it, then cancels it."""
    app, engine, headers, receiver_org = served
    client = app.test_client()
    first = client.post(
        "/api/v1/referrals", json=referral_body(receiver_org.id), headers=headers["sender"]
    )
    assert first.status_code == 201
    case_id = first.json["case_id"]
    onward = referral_body(
        receiver_org.id, case_id=case_id, case=None, service_type="psychosocial_support"
    )
    answers: dict[str, int] = {}

    def send_onward() -> None:
        answers["create"] = (
            app.test_client()
            .post("/api/v1/referrals", json=onward, headers=headers["sender"])
            .status_code
        )

    def withdraw() -> None:
        answers["withdraw"] = (
            app.test_client()
            .post(
                f"/api/v1/cases/{case_id}/consent-withdrawal",
                json={"scope": "all", "note": "Keluarga menarik persetujuan"},
                headers=headers["sender"],
            )
            .status_code
        )

    with engine.connect() as holder:
        # Hold the create between its checks and its insert (reads go on).
        holder.execute(text("LOCK TABLE referrals IN EXCLUSIVE MODE"))
        creating = threading.Thread(target=send_onward)
        creating.start()
        _wait_for_lock_waiters(engine, 1)
        withdrawing = threading.Thread(target=withdraw)
        withdrawing.start()
        _wait_for_lock_waiters(engine, 2)  # the withdrawal waits for the new referral
        holder.rollback()
    creating.join()
    withdrawing.join()
    assert answers == {"create": 201, "withdraw": 200}, answers
    with Session(engine) as session:
        statuses = session.execute(
            select(Referral.status, Referral.status_reason).where(
                Referral.case_id == uuid.UUID(case_id)
            )
        ).all()
    assert sorted(statuses) == [("cancelled", "consent_withdrawn")] * 2, statuses


def _wait_for_lock_waiters(engine: Engine, count: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            if waiting >= count:
                return
            conn.rollback()
            time.sleep(0.02)
    raise AssertionError(f"fewer than {count} sessions waited for a lock")
