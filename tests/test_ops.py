import json
import logging

from referral_api import create_app

from .conftest import config_for


def test_healthz(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_when_migrated(client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["status"] == "ready"


def test_readyz_not_ready_on_unmigrated_database(fresh_databases) -> None:
    app = create_app(config_for(fresh_databases.new()))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"


def test_request_id_is_echoed_or_generated(client) -> None:
    echoed = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["X-Request-ID"] == "abc-123"
    generated = client.get("/healthz")
    assert len(generated.headers["X-Request-ID"]) == 32


def test_access_log_is_json_without_body(client, make_caller, caplog) -> None:
    from referral_api.logs import JsonFormatter

    admin = make_caller("admin")
    with caplog.at_level(logging.INFO, logger="referral_api.access"):
        client.post(
            "/api/v1/tokens?secret=query-value",
            json={"role": "admin", "name": "Nama Rahasia Klien"},
            headers={**admin.headers, "X-Request-ID": "req-42"},
        )
    records = [r for r in caplog.records if r.name == "referral_api.access"]
    assert records
    line = JsonFormatter().format(records[-1])
    entry = json.loads(line)
    assert entry["request_id"] == "req-42"
    assert entry["method"] == "POST"
    assert entry["path"] == "/api/v1/tokens"
    assert entry["status"] == 201
    assert entry["principal_id"] == str(admin.principal.id)
    assert isinstance(entry["duration_ms"], float)
    assert "Nama Rahasia Klien" not in line
    assert "query-value" not in line
    assert admin.token not in line
