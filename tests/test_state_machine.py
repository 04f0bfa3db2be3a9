"""The referral lifecycle as partners see it, generated from the transition table: every
(current status, requested status, side) is either a move made or the exact refusal."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection
from sqlalchemy.orm import sessionmaker

from referral_api import create_app
from referral_api.db import Database
from referral_api.services.referrals.rules import NEXT, RECEIVER_STATUSES, SENDER_STATUSES

from .conftest import config_for
from .referral_helpers import move, referral_body, send

SIDES = ("sender", "receiver")
PROBLEM = "urn:referral-api:problem:"
# What a request must carry for these statuses (DESIGN.md, "Referral status"): without
# it the move would be refused as invalid input, which is not what this test is about.
FIELDS: dict[str, dict[str, str]] = {
    "rejected": {"reason": "no_capacity"},
    "failed": {"reason": "client_unreachable"},
    "completed": {"outcome": "Pendampingan selesai; laporan polisi diterima"},
}


def setter(status: str) -> str:
    """The side that sets a status, as the table says."""
    return "sender" if status in SENDER_STATUSES else "receiver"


def expected(current: str, requested: str, side: str) -> tuple[int, list[str] | None]:
    """What the table says the API answers: 200; 409 with the statuses this side may set
    next, when the table has no such move; 403 when the move is the other side's; 404 to
    the receiver of a referral entered in error, which is no longer its to know of."""
    if current == "entered-in-error" and side == "receiver":
        return 404, None
    mine = SENDER_STATUSES if side == "sender" else RECEIVER_STATUSES
    if requested not in NEXT[current]:
        return 409, sorted(NEXT[current] & mine)
    if requested not in mine:
        return 403, None
    return 200, None


def shortest_paths(start: str) -> dict[str, list[str]]:
    """For every status reachable from `start`, the fewest moves that reach it."""
    paths: dict[str, list[str]] = {start: []}
    queue = deque([start])
    while queue:
        here = queue.popleft()
        for there in sorted(NEXT[here]):
            if there not in paths:
                paths[there] = [*paths[here], there]
                queue.append(there)
    return paths


PATHS = shortest_paths("requested")
CASES = [
    pytest.param(current, requested, side, id=f"{current}->{requested} by {side}")
    for current in sorted(NEXT)
    for requested in sorted(NEXT)
    for side in SIDES
]


@pytest.fixture(scope="module")
def shared_app(database_url: str) -> Flask:
    """One app for all the cases here: building one takes longer than a case runs."""
    app = create_app(config_for(database_url))
    app.extensions[Database.key].engine.dispose()
    return app


@pytest.fixture
def app(shared_app: Flask, connection: Connection) -> Flask:
    """conftest's `app`, built once: its requests run in this test's transaction."""
    shared_app.extensions[Database.key].session_factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return shared_app


@pytest.mark.parametrize(("current", "requested", "side"), CASES)
def test_transition(client, make_caller, current: str, requested: str, side: str) -> None:
    callers = {"sender": make_caller("caseworker"), "receiver": make_caller("caseworker")}
    created = send(
        client,
        callers["sender"],
        referral_body(callers["receiver"].principal.organization_id),
    )
    assert created.status_code == 201, created.json
    referral: dict[str, Any] = created.json
    assert current in PATHS, f"no move in the table leads from requested to {current}"
    for step in PATHS[current]:
        made = move(
            client,
            callers[setter(step)],
            referral["id"],
            step,
            referral["version"],
            **FIELDS.get(step, {}),
        )
        assert made.status_code == 200, (step, made.json)
        referral = made.json
    assert referral["status"] == current

    fields = FIELDS.get(requested, {})
    response = move(client, callers[side], referral["id"], requested, referral["version"], **fields)

    status_code, allowed = expected(current, requested, side)
    body = response.json
    assert response.status_code == status_code, body
    if status_code == 200:
        assert body["status"] == requested
        assert body["version"] == referral["version"] + 1
        assert response.headers["ETag"] == f'"{referral["version"] + 1}"'
        if "reason" in fields:
            assert body["status_reason"] == fields["reason"]
        if "outcome" in fields:
            assert body["outcome"] == fields["outcome"]
        return
    assert response.mimetype == "application/problem+json"
    if status_code == 409:
        assert set(body) == {"type", "title", "status", "detail", "allowed"}
        assert body["type"] == PROBLEM + "invalid-transition"
        assert body["allowed"] == allowed
    else:
        assert set(body) == {"type", "title", "status", "detail"}
        assert body["type"] == PROBLEM + {403: "forbidden", 404: "not-found"}[status_code]
    assert body["status"] == status_code
    # Refused: nothing changed. (Read as the sender: an entered-in-error referral is no
    # longer the receiver's to see.)
    after = client.get(f"/api/v1/referrals/{referral['id']}", headers=callers["sender"].headers)
    assert after.status_code == 200, after.json
    assert (after.json["status"], after.json["version"]) == (current, referral["version"])
