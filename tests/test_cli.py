import uuid

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


def test_demo_prepares_database_and_prints_a_token_per_role(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["demo", "--no-serve"], env={"DATABASE_URL": ""})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for role in ("caseworker", "org_admin", "coordinator", "admin"):
        line = next(line for line in lines if line.startswith(role + " "))
        assert line.split()[-1].startswith("rk_")
    assert (tmp_path / "instance" / "demo.sqlite3").exists()
