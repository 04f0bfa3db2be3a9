from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from referral_api.models.base import utcnow
from referral_api.services import principals
from referral_api.services.actors import Actor

from .conftest import database_with_a_caseworker, requires_postgres


def test_missing_token_is_401_with_challenge(client) -> None:
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.mimetype == "application/problem+json"
    assert response.json["status"] == 401


def test_unknown_and_malformed_tokens_are_401(client) -> None:
    for header in ("Bearer rk_not-a-real-token", "Basic dXNlcjpwdw==", "Bearer ", "rk_x"):
        response = client.get("/api/v1/me", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_me_describes_the_caller(client, make_caller) -> None:
    caller = make_caller("caseworker")
    response = client.get("/api/v1/me", headers=caller.headers)
    assert response.status_code == 200
    body = response.json
    assert body["id"] == str(caller.principal.id)
    assert body["role"] == "caseworker"
    assert body["organization"]["id"] == str(caller.principal.organization_id)
    assert body["coverage_code"] is None
    assert body["last_used_at"].endswith("Z")


def test_coordinator_me_shows_coverage(client, make_caller) -> None:
    caller = make_caller("coordinator", coverage_code="53")
    body = client.get("/api/v1/me", headers=caller.headers).json
    assert body["role"] == "coordinator"
    assert body["coverage_code"] == "53"
    assert body["organization"] is None


def test_revoked_token_is_401(client, session, make_caller) -> None:
    caller = make_caller("caseworker")
    principals.revoke_token(session, actor=Actor.system(), principal_id=caller.principal.id)
    response = client.get("/api/v1/me", headers=caller.headers)
    assert response.status_code == 401
    assert "revoked" in response.json["detail"]


def test_expired_token_is_401(client, session, make_caller) -> None:
    caller = make_caller("caseworker", expires_days=1)
    caller.principal.expires_at = utcnow() - timedelta(seconds=1)
    session.flush()
    response = client.get("/api/v1/me", headers=caller.headers)
    assert response.status_code == 401
    assert "expired" in response.json["detail"]


def test_token_shape_and_only_its_hash_is_stored(session, make_caller) -> None:
    caller = make_caller("admin")
    assert caller.token.startswith("rk_")
    assert len(caller.token) >= 3 + 43  # 32 random bytes, url-safe base64
    stored = session.execute(text("SELECT token_hash FROM principals")).scalars().all()
    assert principals.hash_token(caller.token) in stored
    assert all(caller.token not in value for value in stored)


def test_last_used_at_is_kept(client, session, make_caller) -> None:
    caller = make_caller("caseworker")
    assert caller.principal.last_used_at is None
    client.get("/api/v1/me", headers=caller.headers)
    session.refresh(caller.principal)
    assert caller.principal.last_used_at is not None


def test_wrong_role_is_403(client, make_caller) -> None:
    caller = make_caller("caseworker")
    response = client.get("/api/v1/audit/verify", headers=caller.headers)
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    assert "admin" in response.json["detail"]


def test_org_admin_creates_and_revokes_tokens_of_its_own_organization(client, make_caller) -> None:
    admin = make_caller("org_admin")
    org_id = str(admin.principal.organization_id)
    created = client.post(
        "/api/v1/tokens",
        json={"role": "caseworker", "name": "Pendamping A", "organization_id": org_id},
        headers=admin.headers,
    )
    assert created.status_code == 201
    token = created.json["token"]
    assert token.startswith("rk_")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json["name"] == "Pendamping A"

    listed = client.get("/api/v1/tokens", headers=admin.headers)
    assert listed.status_code == 200
    assert listed.headers["X-Total-Count"] == "2"
    assert {p["name"] for p in listed.json["items"]} >= {"Pendamping A"}
    assert "token" not in listed.json["items"][0]

    principal_id = created.json["principal"]["id"]
    revoked = client.delete(f"/api/v1/tokens/{principal_id}", headers=admin.headers)
    assert revoked.status_code == 200
    assert revoked.json["revoked_at"] is not None
    after = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert after.status_code == 401


def test_org_admin_cannot_touch_other_organizations_or_mint_admins(client, make_caller) -> None:
    admin = make_caller("org_admin")
    other = make_caller("caseworker")
    other_org = str(other.principal.organization_id)
    response = client.post(
        "/api/v1/tokens",
        json={"role": "caseworker", "name": "x", "organization_id": other_org},
        headers=admin.headers,
    )
    assert response.status_code == 403
    response = client.post(
        "/api/v1/tokens", json={"role": "admin", "name": "x"}, headers=admin.headers
    )
    assert response.status_code == 403
    # Another organization's principal does not exist as far as this org_admin knows.
    response = client.delete(f"/api/v1/tokens/{other.principal.id}", headers=admin.headers)
    assert response.status_code == 404
    assert client.get("/api/v1/me", headers=other.headers).status_code == 200


def test_caseworker_cannot_manage_tokens(client, make_caller) -> None:
    caller = make_caller("caseworker")
    assert client.get("/api/v1/tokens", headers=caller.headers).status_code == 403


def test_token_create_validation_names_fields(client, make_caller) -> None:
    admin = make_caller("admin")
    response = client.post(
        "/api/v1/tokens",
        json={"role": "wizard", "name": "", "expires_days": -1, "surprise": 1},
        headers=admin.headers,
    )
    assert response.status_code == 422
    errors = response.json["errors"]
    assert set(errors) == {"role", "name", "expires_days", "surprise"}

    response = client.post(
        "/api/v1/tokens",
        json={"role": "coordinator", "name": "Gugus Tugas", "coverage_code": "Jawa"},
        headers=admin.headers,
    )
    assert response.status_code == 422
    assert "coverage_code" in response.json["errors"]

    response = client.post(
        "/api/v1/tokens", json={"role": "caseworker", "name": "x"}, headers=admin.headers
    )
    assert response.status_code == 422
    assert "organization_id" in response.json["errors"]


@requires_postgres
def test_same_token_requests_never_wait_for_the_last_used_hint(fresh_databases) -> None:
    """While one request holds its token's row (updating last_used_at, not committed yet),
    other requests with the same token authenticate without waiting for it."""
    _, engine, token = database_with_a_caseworker(fresh_databases, organization_type="ngo")
    try:
        with Session(engine) as first:
            principals.authenticate(first, token=token)  # updates the hint, holds the row
            for _ in range(2):
                with Session(engine) as other:
                    other.execute(text("SET LOCAL lock_timeout = '1s'"))
                    principals.authenticate(other, token=token)
                    other.commit()
            first.commit()
        with Session(engine) as session:
            assert (
                principals.get_principal(
                    session, principal_id=principals.authenticate(session, token=token).principal_id
                ).last_used_at
                is not None
            )
    finally:
        engine.dispose()
