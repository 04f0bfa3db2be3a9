"""Per-case data keys: the legacy data step, rotation that survives a kill, and a purge
that leaves neither key nor ciphertext in a raw dump of the database."""

import os
import shutil
import signal
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import make_url, select, update
from sqlalchemy.orm import Session

from referral_api import migrate
from referral_api.cli import main
from referral_api.config import DEMO_SECRET_KEY
from referral_api.db import make_engine
from referral_api.models import Case, Organization, WebhookSubscription
from referral_api.models.base import utcnow
from referral_api.services import crypto, principals, seeding
from referral_api.services.actors import Actor
from referral_api.services.referrals import create, ending
from referral_api.services.referrals.cases import client_profile, sealed_profile
from referral_api.services.referrals.deadlines import Settings
from referral_api.services.webhooks.subscriptions import signing_secrets

from .conftest import ON_POSTGRES
from .referral_helpers import ADULT, referral_body

OLD = DEMO_SECRET_KEY
NEW = "a-new-master-secret-for-the-rotation-test-0123456789"
DEFAULT_HOURS = {"high": 1.0, "medium": 6.0, "low": 72.0}


def settings(secret: str) -> Settings:
    return Settings(secret_key=secret, ack_hours=DEFAULT_HOURS, start_days=7.0)


def cli(url: str, *args: str, **env: str):
    environment = {"DATABASE_URL": url, "REFERRAL_API_SECRET_KEY": OLD, **env}
    return CliRunner().invoke(main, list(args), env=environment)


def new_database(fresh_databases) -> tuple[str, Session]:
    url = fresh_databases.new()
    migrate.upgrade(url)
    session = Session(make_engine(url), expire_on_commit=False)
    seeding.seed(session)
    session.commit()
    return url, session


def add_cases(session: Session, count: int, *, legacy: bool = False) -> list[uuid.UUID]:
    """Cases inserted as the create service stores them (or as before per-case keys)."""
    owner = Organization(name="Pemilik", type="ngo", region_code="53.71")
    session.add(owner)
    session.flush()
    ids = []
    for n in range(count):
        case_id = uuid.uuid4()
        profile = {**ADULT, "alias": f"Klien-{n}"}
        if legacy:
            columns = {"client_ciphertext": crypto.seal(OLD, case_id, profile)}
        else:
            columns = sealed_profile(OLD, case_id, profile)
        session.add(Case(id=case_id, owner_organization_id=owner.id, **columns))
        ids.append(case_id)
    session.commit()
    return ids


def test_every_case_has_a_data_key_of_its_own(fresh_databases) -> None:
    _url, session = new_database(fresh_databases)
    first, second = (session.get(Case, i) for i in add_cases(session, 2))
    assert first.data_key != second.data_key
    assert first.key_id == second.key_id == crypto.key_id(OLD)
    assert first.client_ciphertext[0] == crypto.CASE_KEY_VERSION
    # The data key alone opens the profile; the master key alone does not.
    data_key = crypto.unwrap(OLD, first.id, first.data_key)
    assert crypto.open_with_key(data_key, first.id, first.client_ciphertext)["alias"] == "Klien-0"
    assert client_profile(settings(OLD), first)["alias"] == "Klien-0"
    try:
        crypto.unwrap(OLD, second.id, first.data_key)  # bound to its own case
        raise AssertionError("a data key unwrapped for another case")
    except crypto.DecryptionFailed:
        pass
    session.close()


def test_keys_migrate_gives_master_sealed_cases_their_own_key(fresh_databases) -> None:
    url, session = new_database(fresh_databases)
    ids = add_cases(session, 5, legacy=True)
    # Before the data step a master-sealed profile still opens.
    assert client_profile(settings(OLD), session.get(Case, ids[0]))["alias"] == "Klien-0"
    # Rotation would leave master-sealed profiles unreadable: it refuses to start.
    refused = cli(url, "keys", "rotate", "--new-secret-env", "NEW_MASTER", NEW_MASTER=NEW)
    assert refused.exit_code == 1 and "keys migrate" in refused.output
    result = cli(url, "keys", "migrate", "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert "5 case(s) resealed" in result.output
    session.rollback()  # a fresh snapshot
    for n, case_id in enumerate(ids):
        case = session.get(Case, case_id)
        assert case.data_key is not None and case.key_id == crypto.key_id(OLD)
        assert client_profile(settings(OLD), case)["alias"] == f"Klien-{n}"
    assert "0 case(s) resealed" in cli(url, "keys", "migrate").output
    session.close()


def _referral_api() -> str:
    return shutil.which("referral-api") or str(Path(sys.executable).with_name("referral-api"))


def test_rotation_killed_midway_is_finished_by_a_second_run(fresh_databases) -> None:
    url, session = new_database(fresh_databases)
    ids = add_cases(session, 300)
    subscription = WebhookSubscription(
        id=uuid.uuid4(),
        owner_organization_id=session.get(Case, ids[0]).owner_organization_id,
        owner_role="org_admin",
        url="https://example.org/hook",
        event_types=[],
    )
    subscription.secret_sealed = crypto.seal(
        OLD, subscription.id, {"webhook_secret": "whsec_dGVzdA=="}
    )
    session.add(subscription)
    session.commit()
    sealed_before = {c.id: c.client_ciphertext for c in session.scalars(select(Case))}

    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "REFERRAL_API_SECRET_KEY": OLD,
        "NEW_MASTER": NEW,
    }
    command = [_referral_api(), "keys", "rotate", "--new-secret-env", "NEW_MASTER"]
    process = subprocess.Popen(  # noqa: S603 (our own command)
        [*command, "--batch-size", "1"], env=environment, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    progress = [process.stdout.readline() for _ in range(3)]
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert all(line.startswith("rewrapped") for line in progress), progress

    def by_key() -> dict[str | None, int]:
        session.rollback()  # a fresh snapshot
        tally: dict[str | None, int] = {}
        for key in session.scalars(select(Case.key_id)):
            tally[key] = tally.get(key, 0) + 1
        return tally

    midway = by_key()
    # Killed mid-way: some keys rewrapped, some not, none lost.
    assert midway[crypto.key_id(NEW)] >= 3 and midway[crypto.key_id(OLD)] > 0
    assert sum(midway.values()) == len(ids)

    finished = subprocess.run(  # noqa: S603
        command, env=environment, capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == 0, finished.stderr
    assert "300 now under the new secret, 0 left" in finished.stdout
    assert by_key() == {crypto.key_id(NEW): len(ids)}
    for case in session.scalars(select(Case)):
        assert case.client_ciphertext == sealed_before[case.id]  # profiles untouched
        assert client_profile(settings(NEW), case)["alias"].startswith("Klien-")
    try:
        client_profile(settings(OLD), session.get(Case, ids[0]))
        raise AssertionError("the old secret still opens a rotated case")
    except crypto.DecryptionFailed:
        pass
    session.refresh(subscription)
    assert signing_secrets(NEW, subscription) == ["whsec_dGVzdA=="]
    again = subprocess.run(  # noqa: S603
        command, env=environment, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0 and "0 data key(s) rewrapped" in again.stdout
    session.close()


def test_rotation_refuses_a_short_or_unchanged_secret(fresh_databases) -> None:
    url, session = new_database(fresh_databases)
    session.close()
    short = cli(url, "keys", "rotate", "--new-secret-env", "NEW_MASTER", NEW_MASTER="short")
    assert short.exit_code == 2 and "32 characters" in short.output
    same = cli(url, "keys", "rotate", "--new-secret-env", "NEW_MASTER", NEW_MASTER=OLD)
    assert same.exit_code == 2 and "current secret" in same.output


def _raw_dump(url: str) -> bytes:
    """The database as an attacker with the disk or a backup sees it."""
    if not ON_POSTGRES:
        path = Path(make_url(url).database or "")
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    parsed = make_url(url)
    dump = subprocess.run(  # noqa: S603
        [  # noqa: S607 (pg_dump of the PostgreSQL client tools on PATH)
            "pg_dump",
            "-h",
            parsed.host or "127.0.0.1",
            "-p",
            str(parsed.port or 5432),
            "-U",
            parsed.username or "postgres",
            parsed.database or "",
        ],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return dump.stdout


def _traces(blob: bytes) -> list[bytes]:
    """How a value shows in a raw dump: its bytes, and pg_dump's hex of a bytea."""
    return [blob, blob.hex().encode()]


def test_after_a_purge_a_raw_dump_holds_neither_key_nor_ciphertext(fresh_databases) -> None:
    url, session = new_database(fresh_databases)
    sender = Organization(name="Pengirim", type="ngo", region_code="53.71")
    receiver = Organization(name="Penerima", type="legal_service", region_code="53.71")
    session.add_all([sender, receiver])
    session.flush()
    principal, _token = principals.create_token(
        session, actor=Actor.system(), role="caseworker", name="cw", organization_id=sender.id
    )
    actor = Actor(
        principal_id=principal.id, organization_id=sender.id, role="caseworker", coverage_code=None
    )
    alias = f"Kenanga{uuid.uuid4().hex[:10]}"
    body = referral_body(receiver.id)
    body["to_organization_id"] = receiver.id
    body["case"]["client"]["alias"] = alias
    body["consent"]["obtained_at"] = utcnow() - timedelta(hours=1)
    doomed = create.create_referral(session, actor=actor, settings=settings(OLD), data=body)
    kept = create.create_referral(session, actor=actor, settings=settings(OLD), data=body)
    ending.close_case(
        session,
        actor=actor,
        case_id=doomed.case_id,
        outcome="services_completed",
        note=None,
        cancel_open=True,
    )
    session.execute(
        update(Case)
        .where(Case.id == doomed.case_id)
        .values(closed_at=utcnow() - timedelta(days=1826))
    )
    session.commit()
    case = session.get(Case, doomed.case_id)
    wrapped, ciphertext = case.data_key, case.client_ciphertext
    assert wrapped and ciphertext
    session.close()
    session.bind.dispose()  # type: ignore[union-attr]

    # The test can fail: before the purge both are in the dump.
    before = _raw_dump(url)
    assert any(t in before for t in _traces(wrapped))
    assert any(t in before for t in _traces(ciphertext))

    assert "1 case(s) due" in cli(url, "retention", "purge", "--dry-run").output
    result = cli(url, "retention", "purge")
    assert result.exit_code == 0, result.output
    assert f"purged {doomed.case_id}" in result.output

    after = _raw_dump(url)
    for secret in (wrapped, ciphertext, alias.encode()):
        assert not any(t in after for t in _traces(secret)), "a trace of the purged case"
    engine = make_engine(url)
    with Session(engine) as check:
        kept_case = check.get(Case, kept.case_id)
        # Selective: the case still within retention keeps its key, in the dump as before.
        assert any(t in after for t in _traces(kept_case.data_key))
        assert client_profile(settings(OLD), kept_case)["alias"] == alias
    engine.dispose()
