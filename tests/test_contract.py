"""The OpenAPI document keeps its house rules on every operation (contract.py), so an
endpoint added later is covered by the rules or fails here; and the app sends what the
document declares."""

import re

import pytest
import yaml

from referral_api.contract import (
    GENERATOR_NAMES,
    errors_of,
    operation_id,
    operations,
    schema_sides,
)
from referral_api.openapi import render_openapi_yaml

SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


@pytest.fixture
def spec(app):
    return yaml.safe_load(render_openapi_yaml(app))


def test_document_names_its_servers_contact_and_license(spec) -> None:
    assert spec["servers"][0]["url"].startswith("http")
    assert spec["info"]["contact"]["email"]
    assert spec["info"]["license"]["name"]


def test_every_operation_has_a_unique_snake_case_id_tags_and_descriptions(spec) -> None:
    ids = []
    for path, method, operation in operations(spec):
        where = f"{method.upper()} {path}"
        assert SNAKE.match(operation.get("operationId", "")), where
        ids.append(operation["operationId"])
        assert operation.get("tags"), where
        assert operation.get("summary") and operation.get("description"), where
        for parameter in operation.get("parameters", []):
            assert parameter.get("description"), f"{where}: parameter {parameter['name']}"
        for parameter in spec["paths"][path].get("parameters", []):
            assert parameter.get("description"), f"{where}: parameter {parameter['name']}"
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    by_id = {operation["operationId"]: (m, p) for p, m, operation in operations(spec)}
    assert by_id["create_referral"] == ("post", "/api/v1/referrals")
    assert by_id["transition_referral"] == ("post", "/api/v1/referrals/{referral_id}/transitions")
    assert by_id["list_nearest_services"] == ("get", "/api/v1/services/nearest")


def test_every_operation_declares_exactly_its_error_statuses_as_problems(spec) -> None:
    shared = spec["components"]["responses"]
    for path, method, operation in operations(spec):
        where = f"{method.upper()} {path}"
        responses = operation["responses"]
        assert "default" not in responses, where
        errors = {int(status) for status in responses if int(status) >= 400}
        assert errors == errors_of(path, method, operation), where
        for status in errors:
            ref = responses[str(status)]["$ref"].rsplit("/", 1)[1]
            assert "application/problem+json" in shared[ref]["content"], (where, status)
    get_case = spec["paths"]["/api/v1/cases/{case_id}"]["get"]["responses"]
    assert {"400", "401", "403", "404", "413", "429", "500", "503"} <= set(get_case)
    assert "401" not in spec["paths"]["/healthz"]["get"]["responses"]


def test_response_headers_the_code_sends_are_declared(spec) -> None:
    for path, method, operation in operations(spec):
        for status, response in operation["responses"].items():
            response = response if "$ref" not in response else None
            if response is not None:
                assert "X-Request-ID" in response.get("headers", {}), (method, path, status)
    paths = spec["paths"]
    assert {"Link", "X-Total-Count"} <= set(
        paths["/api/v1/services"]["get"]["responses"]["200"]["headers"]
    )
    created = paths["/api/v1/referrals"]["post"]["responses"]["201"]["headers"]
    assert {"ETag", "Location"} <= set(created)
    assert "ETag" in paths["/api/v1/services/{service_id}"]["get"]["responses"]["200"]["headers"]
    assert "304" in paths["/api/v1/services/{service_id}"]["get"]["responses"]
    shared = spec["components"]["responses"]
    assert "WWW-Authenticate" in shared["UNAUTHORIZED"]["headers"]
    assert "Retry-After" in shared["TOO_MANY_REQUESTS"]["headers"]
    assert "Retry-After" in shared["SERVICE_UNAVAILABLE"]["headers"]
    report = paths["/api/v1/reports/referrals"]["get"]["responses"]["200"]["content"]
    assert {"application/json", "text/csv"} <= set(report)


def test_public_operations_take_the_bearer_token_as_optional(spec) -> None:
    for path, method, operation in operations(spec):
        assert {"bearerAuth": []} in operation["security"], (method, path)
    nearest = spec["paths"]["/api/v1/services/nearest"]["get"]
    assert nearest["security"] == [{}, {"bearerAuth": []}]
    assert spec["paths"]["/api/v1/referrals"]["post"]["security"] == [{"bearerAuth": []}]


def test_response_shapes_list_their_fields_as_required_and_vocabularies_are_named(spec) -> None:
    schemas = spec["components"]["schemas"]
    assert not GENERATOR_NAMES & set(schemas)
    outputs, inputs = schema_sides(spec)
    for name in outputs - inputs:
        if schemas[name].get("properties"):
            assert schemas[name].get("required"), name
    assert set(schemas["Referral"]["required"]) >= {"id", "status", "version", "consent"}
    consent = schemas["Referral"]["properties"]["consent"]
    assert consent == {"$ref": "#/components/schemas/ConsentRecord"}

    def inline_enums(node, where):
        if isinstance(node, dict):
            if "enum" in node and where.count("/") > 1:
                yield where
            for key, value in node.items():
                yield from inline_enums(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from inline_enums(value, f"{where}/{i}")

    assert list(inline_enums(schemas, "")) == []
    reason = schemas["Transition"]["properties"]["reason"]
    assert reason["anyOf"] == [
        {"$ref": "#/components/schemas/TransitionReason"},
        {"type": "null"},
    ]
    assert None not in schemas["TransitionReason"]["enum"]


def test_served_document_is_the_committed_one(client) -> None:
    served = client.get("/openapi.json").json
    assert served["paths"]["/api/v1/referrals"]["post"]["operationId"] == "create_referral"
    assert "default" not in served["paths"]["/api/v1/referrals"]["post"]["responses"]


def test_declared_headers_are_sent(client, directory_entry, make_caller) -> None:
    listed = client.get("/api/v1/services")
    assert {"Link", "X-Total-Count", "X-Request-ID"} <= set(listed.headers.keys())
    refused = client.get("/api/v1/me")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"


def test_operation_ids_of_endpoints_being_added_elsewhere_stay_distinct() -> None:
    def answering(ref: str) -> dict:
        return {"responses": {"200": {"content": {"application/json": {"schema": {"$ref": ref}}}}}}

    page, one = answering("#/c/ServicePage"), answering("#/c/Case")
    assert operation_id("get", "/api/hsds/services", page) == "list_hsds_services"
    assert operation_id("get", "/api/v1/services", page) == "list_services"
    assert operation_id("post", "/api/v1/cases/{case_id}/close", one) == "close_case"
    assert operation_id("get", "/api/v1/cases/{case_id}/subject-export", one) == (
        "get_case_subject_export"
    )
    assert operation_id("post", "/api/v1/referrals", one) == "create_referral"


def test_vocabularies_inside_alternatives_are_named_and_one_value_is_a_constant() -> None:
    from referral_api.contract import finish

    spec = {
        "info": {},
        "paths": {},
        "components": {
            "responses": {},
            "schemas": {
                "Withdrawal": {
                    "properties": {
                        "scope": {
                            "oneOf": [
                                {"type": "string", "enum": ["all"]},
                                {"type": "string", "enum": ["one", "two"]},
                            ]
                        }
                    }
                }
            },
        },
    }
    scope = finish(spec)["components"]["schemas"]["Withdrawal"]["properties"]["scope"]
    assert scope["oneOf"] == [
        {"type": "string", "const": "all"},
        {"$ref": "#/components/schemas/Scope"},
    ]
