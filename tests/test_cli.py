import os
import re
import subprocess
import sys
import uuid

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from referral_api import migrate
from referral_api.cli import main
from referral_api.db import make_engine
from referral_api.models import Organization, Principal
from referral_api.services.principals import hash_token


def run(url: str, *args: str):
    return CliRunner().invoke(main, list(args), env={"DATABASE_URL": url})


def test_db_upgrade_then_tokens_create_and_revoke(fresh_databases) -> None:
    url = fresh_databases.new()
    assert run(url, "db", "upgrade").exit_code == 0
    assert run(url, "seed").exit_code == 0
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        org = Organization(name="LBH APIK NTB", type="legal_service", region_code="52.71")
        session.add(org)
    result = run(
        url,
        "tokens",
        "create",
        "--role",
        "org_admin",
        "--name",
        "Admin LBH",
        "--org",
        str(org.id),
        "--expires-days",
        "30",
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("rk_") and " " not in token
    with Session(engine) as session:
        principal = session.scalars(select(Principal)).one()
        assert principal.token_hash == hash_token(token)
        assert principal.expires_at is not None
    result = run(url, "tokens", "revoke", str(principal.id))
    assert result.exit_code == 0
    with Session(engine) as session:
        assert session.get(Principal, principal.id).revoked_at is not None
    engine.dispose()


def test_tokens_create_refuses_bad_input(fresh_databases) -> None:
    url = fresh_databases.new()
    migrate.upgrade(url)
    result = run(url, "tokens", "create", "--role", "caseworker", "--name", "x")
    assert result.exit_code == 2
    assert "organization_id" in result.output
    result = run(url, "tokens", "create", "--role", "coordinator", "--name", "x")
    assert result.exit_code == 2
    assert "coverage_code" in result.output
    result = run(
        url, "tokens", "create", "--role", "caseworker", "--name", "x", "--org", str(uuid.uuid4())
    )
    assert result.exit_code == 2
    assert "No such organization" in result.output
    result = run(url, "tokens", "revoke", str(uuid.uuid4()))
    assert result.exit_code == 1


def _cli(cwd, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`referral-api ARGS` as a user runs it: a process of its own in `cwd`."""
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(  # noqa: S603 (our own command line)
        [sys.executable, "-m", "referral_api.cli", *args],
        cwd=cwd,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_command_after_demo_works_on_the_demo_database(tmp_path) -> None:
    demo = _cli(tmp_path, "demo", "--no-serve")
    assert demo.returncode == 0, demo.stderr
    assert (tmp_path / "instance" / "referral-api.sqlite3").exists()
    lines = demo.stdout.splitlines()
    tokens = {line.split()[0]: line for line in lines if line.split()[-1].startswith("rk_")}
    assert set(tokens) == {"caseworker", "org_admin", "coordinator", "admin"}
    caseworker = re.search(r"organization ([0-9a-f-]{36}) \((.+)\): rk_", tokens["caseworker"])
    assert caseworker is not None, tokens["caseworker"]
    org_id, org_name = caseworker.groups()
    assert org_name == "Kementerian Sosial Republik Indonesia"

    # The id as printed is accepted, on the same database, with no extra environment.
    created = _cli(
        tmp_path, "tokens", "create", "--role", "caseworker", "--name", "y", "--org", org_id
    )
    assert created.returncode == 0, created.stderr
    verified = _cli(tmp_path, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    checked = int(re.search(r"(\d+) events checked", verified.stdout).group(1))
    assert checked > 100  # the demo's seeding and tokens, and the token just made


def test_demo_refuses_a_database_with_real_organizations(fresh_databases) -> None:
    url = fresh_databases.new()
    migrate.upgrade(url)
    assert run(url, "seed").exit_code == 0
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        session.add(Organization(name="LBH APIK NTB", type="legal_service", region_code="52.71"))
    engine.dispose()
    result = run(url, "demo", "--no-serve")
    assert result.exit_code == 2
    assert "1 organizations that are not demo data" in result.output


@pytest.mark.parametrize(
    ("database_url", "says"),
    [
        ("", "no database at"),
        ("sqlite:///empty.sqlite3", "is not migrated: run `referral-api db upgrade`"),
        ("nonsense", "DATABASE_URL is not a database URL"),
        ("foo://host/db", "names a database driver that is not installed"),
        ("postgresql+psycopg://u:secret@127.0.0.1:9/x", "cannot use the database at"),
    ],
)
def test_a_database_not_ready_is_one_line_and_exit_2(tmp_path, database_url, says) -> None:
    (tmp_path / "empty.sqlite3").touch()
    for command in (("tokens", "create", "--role", "admin", "--name", "x"), ("audit", "verify")):
        result = _cli(tmp_path, *command, DATABASE_URL=database_url)
        assert result.returncode == 2, result.stderr
        assert says in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "secret" not in result.stderr
    # Nothing was created where the default database would be.
    assert not (tmp_path / "instance").exists()
