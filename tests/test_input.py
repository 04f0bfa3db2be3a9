"""Input no field may hold is refused with a 4xx naming the field, on every database."""

import io
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from referral_api.input_guard import MAX_JSON_DEPTH
from referral_api.models import Organization, Referral

from .referral_helpers import referral_body, send

ROOT = Path(__file__).resolve().parent.parent


def errors_of(response, status: int = 422) -> dict:
    assert response.status_code == status, response.json
    assert response.mimetype == "application/problem+json"
    return response.json.get("errors", {})


@pytest.mark.parametrize("value", ["a\x00b", "a\x1bb", "a\x7fb", "a\u0085b"])
def test_a_control_character_in_a_public_query_is_422_naming_it(client, value) -> None:
    response = client.get("/api/v1/organizations", query_string={"q": value})
    assert list(errors_of(response)) == ["q"]


def test_a_nul_in_a_posted_name_is_422_and_nothing_is_written(client, session, make_caller) -> None:
    admin = make_caller("admin")
    before = session.scalar(select(func.count()).select_from(Organization))
    response = client.post(
        "/api/v1/organizations",
        json={"name": "Rumah\x00Aman", "type": "shelter", "aliases": ["ok", "bad\x01"]},
        headers=admin.headers,
    )
    assert set(errors_of(response)) == {"name", "aliases.1"}
    assert session.scalar(select(func.count()).select_from(Organization)) == before


def test_a_lone_surrogate_is_422_naming_the_nested_field(
    client, session, make_caller, directory_entry
) -> None:
    sender = make_caller("caseworker")
    receiver = directory_entry()["organization"]
    body = referral_body(receiver.id)
    raw = __import__("json").dumps(body).replace('"alias": "Melati"', '"alias": "Mel\\ud800ati"')
    response = client.post(
        "/api/v1/referrals", data=raw, content_type="application/json", headers=sender.headers
    )
    assert list(errors_of(response)) == ["case.client.alias"]
    assert session.scalar(select(func.count()).select_from(Referral)) == 0


def test_tabs_and_line_breaks_are_kept_in_free_text(client, make_caller, directory_entry) -> None:
    sender = make_caller("caseworker")
    receiver = directory_entry()["organization"]
    reason = "Baris satu\r\nBaris dua\tdengan tab"
    response = send(client, sender, referral_body(receiver.id, reason=reason))
    assert response.status_code == 201 and response.json["reason"] == reason


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000])
def test_deeply_nested_json_is_refused_not_a_500(client, make_caller, depth: int) -> None:
    admin = make_caller("admin")
    raw = "[" * depth + "]" * depth
    response = client.post(
        "/api/v1/organizations", data=raw, content_type="application/json", headers=admin.headers
    )
    assert response.status_code in (400, 422)
    assert response.mimetype == "application/problem+json"
    assert "nested" in response.json["detail"].lower()


def test_a_chunked_body_over_the_limit_is_413(client, make_caller) -> None:
    admin = make_caller("admin")
    body = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'
    response = client.post(
        "/api/v1/organizations",
        input_stream=io.BytesIO(body),
        headers={**admin.headers, "Content-Type": "application/json"},
        # What a server that accepts chunked bodies says (gunicorn does).
        environ_overrides={"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"},
    )
    assert errors_of(response, 413) == {}


def test_a_chunked_body_under_the_limit_is_read_whole(client, make_caller) -> None:
    admin = make_caller("admin")
    response = client.post(
        "/api/v1/organizations",
        input_stream=io.BytesIO(
            b'{"name": "Rumah Aman Chunked", "type": "shelter", "region_code": "53.71"}'
        ),
        headers={**admin.headers, "Content-Type": "application/json"},
        environ_overrides={"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"},
    )
    assert response.status_code == 201 and response.json["name"] == "Rumah Aman Chunked"


def test_a_list_over_its_maximum_is_422(client, make_caller) -> None:
    admin = make_caller("admin")
    response = client.post(
        "/api/v1/organizations",
        json={"name": "Banyak Bahasa", "type": "ngo", "languages": ["id"] * 100_000},
        headers=admin.headers,
    )
    assert list(errors_of(response)) == ["languages"]


def _request_schemas(document: dict) -> tuple[list, dict]:
    components = document["components"]["schemas"]
    names: set[str] = set()

    def refs(node) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                name = node["$ref"].rsplit("/", 1)[-1]
                if name not in names:
                    names.add(name)
                    refs(components[name])
            for value in node.values():
                refs(value)
        elif isinstance(node, list):
            for value in node:
                refs(value)

    parameters = []
    for operations in document["paths"].values():
        for method, operation in operations.items():
            if method == "parameters":  # path parameters: ids, checked as UUIDs
                continue
            refs(operation.get("requestBody", {}))
            parameters += operation.get("parameters", [])
    return parameters, {name: components[name] for name in names}


def _unbounded(schema: dict, path: str) -> list[str]:
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    found = []
    bounded_string = (
        "maxLength" in schema
        or "enum" in schema
        or schema.get("format")
        in (
            "uuid",
            "date-time",
            "date",
        )
    )
    if "string" in types and not bounded_string:
        found.append(path)
    if "array" in types:
        if "maxItems" not in schema:
            found.append(path)
        found += _unbounded(schema.get("items", {}), path + "[]")
    for name, child in schema.get("properties", {}).items():
        found += _unbounded(child, f"{path}.{name}")
    return found


def test_every_request_string_and_list_has_a_documented_maximum() -> None:
    document = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    parameters, schemas = _request_schemas(document)
    unbounded = [p for name, s in schemas.items() for p in _unbounded(s, name)]
    unbounded += [p for param in parameters for p in _unbounded(param["schema"], param["name"])]
    assert unbounded == []


def test_a_fraction_where_a_whole_number_belongs_is_422_not_truncated(client, make_caller) -> None:
    admin = make_caller("admin")
    organization = client.post(
        "/api/v1/organizations",
        json={"name": "Rumah Aman Bilangan", "type": "shelter", "region_code": "53.71"},
        headers=admin.headers,
    ).json
    response = client.post(
        "/api/v1/services",
        json={
            "organization_id": organization["id"],
            "name": "Penampungan",
            "service_types": ["temporary_shelter"],
            "capacity": {"beds_total": 4, "beds_available": 2.5},
        },
        headers=admin.headers,
    )
    assert list(errors_of(response)) == ["capacity.beds_available"]


def test_a_patch_without_a_body_is_422_not_a_silent_success(client, make_caller) -> None:
    admin = make_caller("admin")
    organization = client.post(
        "/api/v1/organizations",
        json={"name": "Rumah Aman Kosong", "type": "shelter", "region_code": "53.71"},
        headers=admin.headers,
    ).json
    response = client.patch(f"/api/v1/organizations/{organization['id']}", headers=admin.headers)
    assert list(errors_of(response)) == ["body"]
    # A method the path does not have is still 405, whatever the body.
    assert client.patch("/healthz").status_code == 405
