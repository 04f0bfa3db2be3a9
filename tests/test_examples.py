"""Every request example of openapi.yaml, sent to a live app, gets its documented success.

The examples name placeholder ids (referral_api.examples); each test builds the entries
they stand for and sends the example as a partner would copy it, ids replaced."""

import dataclasses
import json
import uuid

import pytest
import yaml
from jsonschema import Draft202012Validator

from referral_api import examples
from referral_api.contract import operations
from referral_api.models import WebhookSubscription
from referral_api.openapi import render_openapi_yaml
from referral_api.services import checkpoints
from tests.referral_helpers import move, referral_body, send


def _request_examples() -> list[tuple[str, str, str, str]]:
    """(operationId, example name, method, path) of every request example."""
    from referral_api import create_app
    from referral_api.config import Config

    app = create_app(Config.from_env({"DATABASE_URL": "sqlite://"}, require_secret=False))
    spec = yaml.safe_load(render_openapi_yaml(app))
    found = []
    for path, method, operation in operations(spec):
        body = operation.get("requestBody")
        if body is None:
            continue
        named = body["content"]["application/json"].get("examples", {})
        assert named, f"{method.upper()} {path} has a request body and no example"
        found += [(operation["operationId"], name, method, path) for name in named]
    return found


EXAMPLES = _request_examples()
# Who sends each operation's example in the network built below.
SENDERS = {
    "create_referral": "sender",
    "transition_referral": "shelter",
    "withdraw_consent": "sender",
    "close_case": "sender",
    "create_token": "sender_admin",
    "create_organization": "admin",
    "update_organization": "shelter_admin",
    "create_location": "shelter_admin",
    "update_location": "shelter_admin",
    "create_service": "shelter_admin",
    "update_service": "shelter_admin",
    "create_webhook": "shelter_admin",
    "redeliver_webhook": "shelter_admin",
    "create_referral_offer": "sender",
    "import_hsds_package": "shelter_admin",
    "verify_audit_checkpoint": "admin",
}


@pytest.fixture
def network(app, client, session, make_organization, make_caller, directory_entry):
    """Real entries for the examples' placeholders, and a token per part they play."""
    sender = make_organization(name="Dinas Sosial Kota Kupang", type="local_government")
    shelter = directory_entry(org_type="shelter", beds_total=12, beds_available=4)
    clinic = make_organization(name="RSUD Kupang", type="health_service")
    # Two more shelters an offer asks with the first.
    second, third = (
        directory_entry(
            org_type="shelter",
            latitude=-10.16 - i / 100,
            capacity={"beds_total": 6, "beds_available": 2},
        )
        for i in (1, 2)
    )
    callers = {
        "sender": make_caller("caseworker", organization=sender),
        "sender_admin": make_caller("org_admin", organization=sender),
        "shelter": make_caller("caseworker", organization=shelter["organization"]),
        "shelter_admin": make_caller("org_admin", organization=shelter["organization"]),
        "admin": make_caller("admin"),
    }
    # A case the shelter serves: referred by the sender, accepted by the shelter.
    served = send(client, callers["sender"], referral_body(shelter["organization"].id))
    assert served.status_code == 201, served.json
    accepted = move(client, callers["shelter"], served.json["id"], "accepted", 1)
    assert accepted.status_code == 200, accepted.json
    ids = {
        examples.SENDER_ORGANIZATION: sender.id,
        examples.SHELTER_ORGANIZATION: shelter["organization"].id,
        examples.CLINIC_ORGANIZATION: clinic.id,
        examples.SHELTER_LOCATION: shelter["location"].id,
        examples.SHELTER_SERVICE: shelter["service"].id,
        examples.CASE: served.json["case_id"],
        examples.ACCEPTED_REFERRAL: served.json["id"],
        examples.SECOND_SHELTER_SERVICE: second["service"].id,
        examples.THIRD_SHELTER_SERVICE: third["service"].id,
    }
    # The example webhook host is a partner's: it does not resolve here, so the app allows
    # any address, as `referral-api demo` does (the address rules: test_webhooks_api.py).
    # The example checkpoint stands for one this app signed (with a key of its own).
    config = app.config["REFERRAL_API"]
    app.config["REFERRAL_API"] = dataclasses.replace(
        config, webhook_allow_private=True, audit_signing_key=checkpoints.new_signing_key()
    )
    checkpoint = client.get("/api/v1/audit/checkpoint", headers=callers["admin"].headers)
    assert checkpoint.status_code == 200, checkpoint.json
    ids[examples.CHECKPOINT] = checkpoint.get_data(as_text=True)
    return {"ids": {k: str(v) for k, v in ids.items()}, "callers": callers, "shelter": shelter}


def _path_for(operation_id, path, network, client, session) -> tuple[str, dict[str, str]]:
    """The path with real ids, and the headers the operation needs."""
    callers, shelter = network["callers"], network["shelter"]
    if operation_id == "transition_referral":
        fresh = send(client, callers["sender"], referral_body(shelter["organization"].id))
        return path.replace("{referral_id}", fresh.json["id"]), {"If-Match": '"1"'}
    if operation_id == "redeliver_webhook":
        created = client.post(
            "/api/v1/webhooks",
            json={"url": "http://127.0.0.1:9/hook"},
            headers=callers["shelter_admin"].headers,
        )
        assert created.status_code == 201, created.json
        # As if the worker had numbered 20 deliveries for it (the example resends 10-20).
        subscription = session.get(WebhookSubscription, uuid.UUID(created.json["id"]))
        subscription.last_number = 20
        session.flush()
        return path.replace("{subscription_id}", created.json["id"]), {}
    by_param = {
        "{case_id}": network["ids"][examples.CASE],
        "{organization_id}": shelter["organization"].id,
        "{location_id}": shelter["location"].id,
        "{service_id}": shelter["service"].id,
    }
    for param, value in by_param.items():
        path = path.replace(param, str(value))
    return path, {}


@pytest.mark.parametrize(("operation_id", "name", "method", "path"), EXAMPLES)
def test_every_request_example_gets_its_documented_success(
    app, client, session, network, operation_id, name, method, path
) -> None:
    spec = yaml.safe_load(render_openapi_yaml(app))
    operation = spec["paths"][path][method]
    example = operation["requestBody"]["content"]["application/json"]["examples"][name]
    body_text = json.dumps(example["value"])
    for placeholder, real in network["ids"].items():
        # as JSON string contents: a checkpoint has line breaks
        body_text = body_text.replace(json.dumps(placeholder)[1:-1], json.dumps(real)[1:-1])
    url, headers = _path_for(operation_id, path, network, client, session)
    caller = network["callers"][SENDERS[operation_id]]
    response = client.open(
        url,
        method=method.upper(),
        json=json.loads(body_text),
        headers={**caller.headers, **headers},
    )
    documented = [s for s in operation["responses"] if s.startswith("2")]
    assert documented == [str(response.status_code)], (operation_id, name, response.json)
    media = operation["responses"][documented[0]].get("content", {}).get("application/json")
    if media is None:
        return
    # The answer is what the document says, and so is its documented example, field for field.
    schema = Draft202012Validator({**media["schema"], "components": spec["components"]})
    assert not list(schema.iter_errors(response.json)), list(schema.iter_errors(response.json))
    answered = media.get("examples", {}).get("example")
    if answered is not None and name == next(
        iter(operation["requestBody"]["content"]["application/json"]["examples"])
    ):  # the response example answers the first one
        assert not list(schema.iter_errors(answered["value"]))
        assert _fields(answered["value"]) == _fields(response.json), operation_id


def _fields(value: object) -> object:
    """The shape of a JSON value: its keys, recursively (the first item of a list)."""
    if isinstance(value, dict):
        return {key: _fields(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_fields(value[0])] if value else []
    return None


# The main reads whose answers carry an example: who asks, and what.
READS = {
    "get_referral": ("sender", "/api/v1/referrals/{referral}", {}),
    "get_case": ("sender", "/api/v1/cases/{case}", {}),
    "get_case_chain": ("sender", "/api/v1/cases/{case}/chain", {}),
    "list_nearest_services": (
        "sender",
        "/api/v1/services/nearest",
        {"service_type": "temporary_shelter", "near": "Kota Kupang", "limit": "2"},
    ),
}


def _read(client, network, operation_id):
    role, path, query = READS[operation_id]
    url = path.format(
        referral=network["ids"][examples.ACCEPTED_REFERRAL], case=network["ids"][examples.CASE]
    )
    response = client.get(url, query_string=query, headers=network["callers"][role].headers)
    assert response.status_code == 200, (operation_id, response.json)
    text = response.get_data(as_text=True)
    for placeholder, real in network["ids"].items():
        text = text.replace(real, placeholder)
    return json.loads(text)


@pytest.mark.parametrize("operation_id", sorted(READS))
def test_the_main_reads_answer_as_their_documented_examples(
    app, client, network, operation_id
) -> None:
    spec = yaml.safe_load(render_openapi_yaml(app))
    (operation,) = (o for _, _, o in operations(spec) if o["operationId"] == operation_id)
    media = operation["responses"]["200"]["content"]["application/json"]
    answer = _read(client, network, operation_id)
    schema = Draft202012Validator({**media["schema"], "components": spec["components"]})
    assert not list(schema.iter_errors(answer)), list(schema.iter_errors(answer))
    example = media["examples"]["example"]["value"]
    assert not list(schema.iter_errors(example)), list(schema.iter_errors(example))
    assert _fields(example) == _fields(answer)
