"""Signed checkpoints: a chain rewritten by someone with the database no longer verifies
against a checkpoint taken before, on either database."""

import base64
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from referral_api import create_app
from referral_api.cli import main
from referral_api.config import DEMO_SECRET_KEY
from referral_api.db import make_engine
from referral_api.models import AuditEvent
from referral_api.models.audit import GENESIS_HASH, event_hash
from referral_api.services import checkpoints, principals
from referral_api.services.actors import Actor
from referral_api.worker import Worker, WorkerSettings

from .audit_helpers import tamper
from .conftest import config_for, database_with_a_caseworker


@pytest.fixture
def signing_key() -> str:
    return checkpoints.new_signing_key()


def cli(url: str, key: str, *args: str):
    env = {"DATABASE_URL": url, "REFERRAL_API_AUDIT_SIGNING_KEY": key}
    return CliRunner().invoke(main, ["audit", *args], env=env)


def take_checkpoint(url: str, key: str, tmp_path) -> str:
    result = cli(url, key, "checkpoint")
    assert result.exit_code == 0, result.output
    path = tmp_path / "checkpoint.txt"
    path.write_text(result.output)
    return str(path)


def test_a_checkpoint_is_a_signed_note_that_verifies(chain_url, signing_key, tmp_path) -> None:
    path = take_checkpoint(chain_url, signing_key, tmp_path)
    lines = Path(path).read_text().split("\n")
    assert lines[0] == "referral-api/audit" and lines[1] == "6"
    assert lines[5].startswith("\u2014 referral-api/audit ")
    # More events after the checkpoint: the chain still holds it.
    CliRunner().invoke(
        main,
        ["tokens", "create", "--role", "admin", "--name", "later"],
        env={"DATABASE_URL": chain_url},
    )
    result = cli(chain_url, signing_key, "verify", "--checkpoint", path)
    assert result.exit_code == 0, result.output
    assert "7 events checked, holding the checkpoint at 6" in result.output


def test_tail_truncation_with_a_rewritten_head_is_caught(chain_url, signing_key, tmp_path) -> None:
    path = take_checkpoint(chain_url, signing_key, tmp_path)
    tamper(
        chain_url,
        "DELETE FROM audit_events WHERE seq > 4",
        "UPDATE audit_head SET last_seq = 4, "
        "last_hash = (SELECT hash FROM audit_events WHERE seq = 4)",
    )
    assert cli(chain_url, signing_key, "verify").exit_code == 0  # plain verify is fooled
    result = cli(chain_url, signing_key, "verify", "--checkpoint", path)
    assert result.exit_code == 1
    assert "fewer than the checkpoint's 6" in result.output


def test_a_forged_event_with_every_hash_recomputed_is_caught(
    chain_url,
    signing_key,
    tmp_path,
) -> None:
    path = take_checkpoint(chain_url, signing_key, tmp_path)
    tamper(chain_url, "UPDATE audit_events SET action = 'token.revoke' WHERE seq = 2")
    # Recompute the whole chain, and the head, as an insider with the database could.
    engine = make_engine(chain_url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        rows = conn.execute(select(AuditEvent.__table__).order_by(AuditEvent.seq)).all()
        previous = GENESIS_HASH
        for row in rows:
            digest = event_hash(
                prev_hash=previous,
                seq=row.seq,
                occurred_at=row.occurred_at,
                actor_principal_id=row.actor_principal_id,
                actor_organization_id=row.actor_organization_id,
                action=row.action,
                entity_type=row.entity_type,
                entity_id=row.entity_id,
                summary=row.summary,
            )
            conn.execute(
                text("UPDATE audit_events SET prev_hash = :p, hash = :h WHERE seq = :s"),
                {"p": previous, "h": digest, "s": row.seq},
            )
            previous = digest
        conn.execute(text("UPDATE audit_head SET last_hash = :h"), {"h": previous})
    engine.dispose()
    assert cli(chain_url, signing_key, "verify").exit_code == 0  # plain verify is fooled
    result = cli(chain_url, signing_key, "verify", "--checkpoint", path)
    assert result.exit_code == 1
    assert "BROKEN at seq 6" in result.output and "rewritten" in result.output


def test_a_checkpoint_with_a_bad_signature_is_refused(chain_url, signing_key, tmp_path) -> None:
    path = take_checkpoint(chain_url, signing_key, tmp_path)
    note = Path(path).read_text()
    Path(path).write_text(note.replace("\n6\n", "\n5\n", 1))  # claim a shorter chain
    result = cli(chain_url, signing_key, "verify", "--checkpoint", path)
    assert result.exit_code == 1 and "does not verify" in result.output
    other_key = checkpoints.new_signing_key()
    Path(path).write_text(note)
    result = cli(chain_url, other_key, "verify", "--checkpoint", path)
    assert result.exit_code == 1 and "no signature by this" in result.output


def test_the_api_serves_checkpoints_and_the_public_key(
    app, client, make_caller, signing_key
) -> None:
    config = app.config["REFERRAL_API"]
    assert client.get("/api/v1/audit/public-key").status_code == 501  # none configured
    app.config["REFERRAL_API"] = type(config)(
        **{**config.__dict__, "audit_signing_key": signing_key}
    )
    public = client.get("/api/v1/audit/public-key").json
    key = checkpoints.load_signing_key(signing_key).public_key()
    assert public["public_key"] == checkpoints.public_key_text(key)
    assert base64.b64decode(public["public_key"])
    coordinator = make_caller("coordinator", coverage_code="53")
    assert client.get("/api/v1/audit/checkpoint").status_code == 401
    response = client.get("/api/v1/audit/checkpoint", headers=coordinator.headers)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    checkpoint = checkpoints.open_note(response.get_data(as_text=True), key)
    assert checkpoint.size >= 1


def test_the_worker_signs_a_checkpoint_on_schedule(chain_url, signing_key, tmp_path) -> None:
    engine = make_engine(chain_url)
    now = [1000.0]
    settings = WorkerSettings(
        secret_key=DEMO_SECRET_KEY,
        audit_signing_key=signing_key,
        checkpoint_every_s=15 * 60,
        checkpoint_dir=tmp_path / "checkpoints",
    )
    worker = Worker(sessionmaker(bind=engine), settings, clock=lambda: now[0])
    key = checkpoints.load_signing_key(signing_key).public_key()

    def written() -> list[checkpoints.Checkpoint]:
        files = sorted((tmp_path / "checkpoints").glob("checkpoint-*.txt"))
        return [checkpoints.open_note(f.read_text(), key) for f in files]

    assert worker.run_once(check_deadlines=False).checkpoint == 6  # at once on start
    now[0] += 14 * 60
    assert worker.run_once(check_deadlines=False).checkpoint is None  # not yet due
    assert [c.size for c in written()] == [6]
    CliRunner().invoke(
        main,
        ["tokens", "create", "--role", "admin", "--name", "one more"],
        env={"DATABASE_URL": chain_url},
    )
    now[0] += 60
    assert worker.run_once(check_deadlines=False).checkpoint == 7
    assert [c.size for c in written()] == [6, 7]
    with Session(engine) as session:
        for checkpoint in written():
            assert checkpoints.verify(session, checkpoint=checkpoint).ok
    unkeyed = Worker(sessionmaker(bind=engine), WorkerSettings(secret_key=DEMO_SECRET_KEY))
    assert unkeyed.run_once(check_deadlines=False).checkpoint is None
    worker.close()
    engine.dispose()


def test_the_api_verifies_a_posted_checkpoint(fresh_databases, signing_key) -> None:
    chain_url, engine, caseworker = database_with_a_caseworker(fresh_databases)
    with Session(engine) as session, session.begin():
        _, token = principals.create_token(
            session, actor=Actor.system(), role="coordinator", name="c", coverage_code="53"
        )
    engine.dispose()
    app = create_app(dataclasses.replace(config_for(chain_url), audit_signing_key=signing_key))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    key = checkpoints.load_signing_key(signing_key)

    def post(note: object) -> Any:
        return client.post("/api/v1/audit/verify", json={"checkpoint": note}, headers=headers)

    note = client.get("/api/v1/audit/checkpoint", headers=headers).get_data(as_text=True)
    held = checkpoints.open_note(note, key.public_key())
    assert post(note).json == {"ok": True, "checked": held.size, "broken_seq": None, "reason": None}

    longer = checkpoints.sign(dataclasses.replace(held, size=held.size + 3), key)
    verdict = post(longer).json
    assert not verdict["ok"] and f"fewer than the checkpoint's {held.size + 3}" in verdict["reason"]
    other_hash = checkpoints.sign(dataclasses.replace(held, head_hash="ab" * 32), key)
    verdict = post(other_hash).json
    assert not verdict["ok"] and "rewritten" in verdict["reason"]
    assert verdict["broken_seq"] == held.size
    forged = note.replace(f"\n{held.size}\n", f"\n{held.size - 1}\n", 1)
    verdict = post(forged).json
    assert not verdict["ok"] and "signature does not verify" in verdict["reason"]
    stranger = checkpoints.sign(held, checkpoints.load_signing_key(checkpoints.new_signing_key()))
    assert "no signature by this" in post(stranger).json["reason"]

    # The chain cut back by an insider after the checkpoint was taken.
    tamper(
        chain_url,
        f"DELETE FROM audit_events WHERE seq > {held.size - 2}",
        f"UPDATE audit_head SET last_seq = {held.size - 2}, "
        f"last_hash = (SELECT hash FROM audit_events WHERE seq = {held.size - 2})",
    )
    verdict = post(note).json
    assert not verdict["ok"] and "fewer than the checkpoint's" in verdict["reason"]

    for body, field in (
        ({"checkpoint": "hello"}, "checkpoint"),
        ({"checkpoint": f"{checkpoints.ORIGIN}\nmany\nxyz\n\n— sig"}, "checkpoint"),
        ({"checkpoint": ""}, "checkpoint"),
        ({}, "checkpoint"),
        ({"checkpoint": note, "extra": 1}, "extra"),
    ):
        response = client.post("/api/v1/audit/verify", json=body, headers=headers)
        assert response.status_code == 422, body
        assert response.mimetype == "application/problem+json"
        assert field in response.json["errors"], (body, response.json)
    refused = client.post(
        "/api/v1/audit/verify",
        json={"checkpoint": note},
        headers={"Authorization": f"Bearer {caseworker}"},
    )
    assert refused.status_code == 403
    unkeyed = create_app(config_for(chain_url)).test_client()
    assert (
        unkeyed.post("/api/v1/audit/verify", json={"checkpoint": note}, headers=headers).status_code
        == 501
    )
