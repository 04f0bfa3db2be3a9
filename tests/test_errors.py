import uuid

import pytest
from flask import Flask
from sqlalchemy import insert

from referral_api.errors import Conflict, InvalidTransition, PreconditionFailed
from referral_api.models import Organization
from referral_api.models.base import utcnow

PROBLEM_KEYS = {"type", "title", "status", "detail"}


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["type"].startswith("urn:referral-api:problem:")
    return body


def test_unknown_route(client) -> None:
    assert_problem(client.get("/api/v1/nothing-here"), 404)


def test_wrong_method(client) -> None:
    body = assert_problem(client.put("/healthz"), 405)
    assert "not allowed" in body["detail"]


def test_body_over_one_mebibyte_is_413(client, make_caller) -> None:
    admin = make_caller("admin")
    payload = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'
    response = client.post(
        "/api/v1/tokens", data=payload, content_type="application/json", headers=admin.headers
    )
    assert_problem(response, 413)


@pytest.mark.parametrize("payload", [b"{not json", b"[1, 2", b'"just a string"', b"\xff\xfe"])
def test_malformed_json_is_4xx_not_500(client, make_caller, payload: bytes) -> None:
    admin = make_caller("admin")
    response = client.post(
        "/api/v1/tokens", data=payload, content_type="application/json", headers=admin.headers
    )
    assert response.status_code in (400, 422)
    body = assert_problem(response, response.status_code)
    assert body["errors"]


def test_flask_smorest_422_names_fields(client, make_caller) -> None:
    admin = make_caller("admin")
    response = client.post("/api/v1/tokens", json={"name": 5}, headers=admin.headers)
    body = assert_problem(response, 422)
    assert body["errors"]["role"] == ["Missing data for required field."]
    assert body["errors"]["name"] == ["Not a valid string."]
    assert "role" in body["detail"]


def test_bad_query_parameter_names_it(client, make_caller) -> None:
    admin = make_caller("admin")
    response = client.get("/api/v1/tokens?per_page=1000", headers=admin.headers)
    body = assert_problem(response, 422)
    assert list(body["errors"]) == ["per_page"]


@pytest.fixture
def error_app(app: Flask) -> Flask:
    """Routes that fail in the ways services fail, to check the one error handler."""
    from referral_api.db import db

    def conflict():
        raise Conflict("Already done.")

    def transition():
        raise InvalidTransition("Cannot go from completed to accepted.", allowed=["x", "a"])

    def stale():
        raise PreconditionFailed("The referral has changed since version 3.")

    def duplicate():
        twin = {
            "id": uuid.uuid4(),
            "name": "Twin",
            "type": "ngo",
            "created_at": utcnow(),
            "updated_at": utcnow(),
        }
        db.session.execute(insert(Organization), [twin])
        db.session.execute(insert(Organization), [twin])

    def crash():
        raise RuntimeError("SELECT secret FROM cases WHERE alias = 'W'")

    for rule, view in [
        ("/_t/conflict", conflict),
        ("/_t/transition", transition),
        ("/_t/stale", stale),
        ("/_t/duplicate", duplicate),
        ("/_t/crash", crash),
    ]:
        app.add_url_rule(rule, view.__name__, view, methods=["POST"])
    return app


def test_domain_errors_become_problems(error_app: Flask) -> None:
    client = error_app.test_client()
    assert_problem(client.post("/_t/conflict"), 409)
    body = assert_problem(client.post("/_t/transition"), 409)
    assert body["allowed"] == ["a", "x"]
    assert_problem(client.post("/_t/stale"), 412)


def test_integrity_error_is_409_without_sql(error_app: Flask) -> None:
    body = assert_problem(error_app.test_client().post("/_t/duplicate"), 409)
    assert "INSERT" not in body["detail"] and "organizations" not in body["detail"]


def test_unexpected_error_is_500_without_trace(error_app: Flask) -> None:
    response = error_app.test_client().post("/_t/crash")
    body = assert_problem(response, 500)
    text = response.get_data(as_text=True)
    assert "Traceback" not in text
    assert "SELECT" not in text
    assert body["detail"] == "An unexpected error occurred."


def test_nothing_half_written_on_error(error_app: Flask, session) -> None:
    from sqlalchemy import func, select

    before = session.scalar(select(func.count()).select_from(Organization))
    error_app.test_client().post("/_t/duplicate")
    assert session.scalar(select(func.count()).select_from(Organization)) == before
