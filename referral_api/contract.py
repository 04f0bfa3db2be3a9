"""The OpenAPI document's house rules, applied by rule to what flask-smorest generates.

Every operation, including those added later, gets here: a stable snake_case
`operationId`, a description, a description on every parameter, exactly the error
statuses the request pipeline can answer it with (no catch-all `default`), the response
headers the code sends, and (on public operations) the bearer token as optional.
Components get `required` on response shapes and one named schema per vocabulary, so a
generated client has typed fields and one enum class per vocabulary.

`tests/test_contract.py` checks every rule on every operation, so an endpoint the rules
cannot name or describe fails there, loudly, rather than shipping a vague contract.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

from .examples import REQUEST_EXAMPLES, RESPONSE_EXAMPLES
from .problems import PROBLEM_JSON

METHODS = ("get", "post", "put", "patch", "delete")
WRITES = ("post", "put", "patch", "delete")
# The liveness and readiness probes: no token is ever looked at (security.load_principal).
PROBES = ("/healthz", "/readyz")
# Names openapi-python-client gives its own classes and modules: a schema of that name
# would shadow them in a generated client.
GENERATOR_NAMES = frozenset({"Client", "AuthenticatedClient", "Response", "Errors", "Types"})

SERVERS = [
    {"url": "http://127.0.0.1:8000", "description": "`referral-api demo` on this machine"},
]
CONTACT = {"name": "referral-api maintainers", "email": "referral-api@example.org"}
LICENSE = {"name": "Proprietary", "identifier": "LicenseRef-Proprietary"}

# Descriptions of query parameters that several operations share; an operation's own
# parameters carry theirs in their schema's field metadata.
PARAMETERS = {
    "page": "Page number, from 1.",
    "per_page": "Items per page.",
    "q": "Words to look for in names, aliases and descriptions (all must match).",
    "region": "A region code (BPS/Kemendagri: province `53`, regency `53.71`, district "
    "`53.71.01`); an entry matches if it lies inside it.",
    "status": "Only entries with this status.",
    "organization_id": "Only entries of this organization.",
    "organization_type": "Only services of organizations of this type (a code of "
    "`/organization-types`).",
    "service_type": "A service type code (`/service-types`).",
    "language": "Only services given in this language (ISO 639 code).",
    "age": "Only services that take a client of this age.",
    "gender": "Only services that take a client of this gender.",
    "verified_since": "Only entries whose organization was verified at or after this time.",
    "limit": "The most items to return.",
    "type": "Only organizations of this type (a code of `/organization-types`).",
    "level": "Only regions of this level.",
    "parent": "Only regions directly inside this one (its code).",
    "include_revoked": "Also list revoked tokens.",
    "direction": "`incoming` (sent to your organization) or `outgoing` (sent by it); "
    "both if absent.",
    "risk_level": "Only referrals of this risk level.",
    "overdue": "Only referrals past (true) or within (false) their deadlines.",
    "case_id": "Only referrals of this case.",
    "lat": "Latitude of the origin (WGS 84), with `lng`; or give `region`.",
    "lng": "Longitude of the origin (WGS 84), with `lat`.",
    "radius_km": "Only sites within this distance of the origin.",
    "within_region": "Only sites inside this region (when the origin is a point).",
    "from": "Referrals created at or after this time.",
    "to": "Referrals created before this time.",
    "group_by": "Rows by `region`, `organization`, `service_type` or `worker_role`.",
    "entity_type": "Only events about this kind of entry.",
    "entity_id": "Only events about this entry.",
    "actor": "Only events by this principal.",
    "action": "Only events of this action (e.g. `referral.create`).",
    "since": "Only events at or after this time.",
    "until": "Only events before this time.",
    "after": "The last position you have read (0: from the start).",
}

_HEADER_SCHEMA = {"schema": {"type": "string"}}
HEADERS = {
    "X-Request-ID": "The request's id, also in the server's log: quote it when reporting "
    "a problem.",
    "ETag": "The version of this representation: send it as If-Match to change the entry, "
    "or as If-None-Match to read it again only if it changed.",
    "Location": "Where the new referral lives.",
    "Link": "RFC 8288 links to the first, previous, next and last pages.",
    "X-Total-Count": "How many items all pages hold.",
    "Retry-After": "Seconds to wait before trying again.",
    "WWW-Authenticate": "`Bearer`: the scheme to authenticate with.",
}


def finish(spec: dict[str, Any]) -> dict[str, Any]:
    """The generated document with the house rules applied (a new dict)."""
    spec = copy.deepcopy(spec)
    spec["servers"] = SERVERS
    spec["info"] = {**spec["info"], "contact": CONTACT, "license": LICENSE}
    components = spec["components"]
    components["responses"].pop("DEFAULT_ERROR", None)
    _name_vocabularies(spec)
    _require_response_fields(spec)
    for path, method, operation in operations(spec):
        operation.setdefault("operationId", operation_id(method, path, operation))
        operation.setdefault("description", _description(operation))
        _describe_parameters(operation)
        _declare_errors(path, method, operation, components["responses"])
        _declare_headers(spec, operation)
        _also_served_as(operation)
        _request_examples(operation)
        _response_examples(operation)
        operation.setdefault("security", [{}, {"bearerAuth": []}])
    for item in spec["paths"].values():
        for parameter in item.get("parameters", []):
            parameter.setdefault("description", _path_parameter(parameter["name"]))
    _problem_responses(components["responses"])
    components["responses"] = dict(sorted(components["responses"].items()))
    if "PaginationMetadata" not in set(_refs(spec["paths"])):
        # flask-smorest's own, for an X-Pagination header we do not send (Link instead).
        components["schemas"].pop("PaginationMetadata", None)
    return spec


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


# -- names ---------------------------------------------------------------------------------


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def operation_id(method: str, path: str, operation: dict[str, Any]) -> str:
    """`list_referrals`, `get_referral`, `create_referral`, `update_service`,
    `delete_location`, `verify_organization`, `list_referral_events`, ..."""
    segments = [s for s in path.split("/") if s]
    # /api/v1/services -> services; /api/hsds/services -> hsds_services (no collision).
    if segments[:1] == ["api"]:
        segments = segments[2:] if re.fullmatch(r"v\d+", segments[1]) else segments[1:]
    is_param = [s.startswith("{") for s in segments]
    words = []
    for i, segment in enumerate(segments):
        if is_param[i]:
            continue
        word = segment.replace("-", "_")
        followed_by_id = i + 1 < len(segments) and is_param[i + 1]
        words.append(_singular(word) if followed_by_id else word)
    on_item = is_param[-1]
    if method == "get":
        listing = not on_item and _is_list(operation)
        return ("list_" if listing else "get_") + "_".join(words)
    if method == "post" and len(segments) >= 2 and is_param[-2]:
        # An action on an item: POST /organizations/{id}/verify -> verify_organization.
        return f"{words[-1]}_{'_'.join(words[:-1])}"
    verb = {"post": "create", "put": "replace", "patch": "update", "delete": "delete"}[method]
    return f"{verb}_{'_'.join([*words[:-1], _singular(words[-1])])}"


def _is_list(operation: dict[str, Any]) -> bool:
    for status, response in operation["responses"].items():
        if status.startswith("2"):
            schema = response.get("content", {}).get("application/json", {}).get("schema", {})
            return "Page" in schema.get("$ref", "") or "List" in schema.get("$ref", "")
    return False


# -- descriptions ---------------------------------------------------------------------------


def _description(operation: dict[str, Any]) -> str:
    summary = operation.get("summary", "").rstrip(".")
    if "security" in operation:
        who = "Needs a token"
        if "403" in operation["responses"]:
            who += " of a role allowed to (403 otherwise)"
        return f"{summary}. {who}."
    return (
        f"{summary}. Public: no token needed; with one, the caller sees what its role may "
        "(confidential sites, for instance)."
    )


def _describe_parameters(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        if "description" in parameter or "$ref" in parameter:
            continue
        if parameter["in"] == "path":
            parameter["description"] = _path_parameter(parameter["name"])
        elif parameter["name"] in PARAMETERS:
            parameter["description"] = PARAMETERS[parameter["name"]]


def _path_parameter(name: str) -> str:
    thing = name.removesuffix("_id").replace("_", " ")
    return f"The {thing}'s code." if name == "code" else f"The {thing}'s id."


# -- errors and headers ---------------------------------------------------------------------


def _problem_responses(responses: dict[str, Any]) -> None:
    """Headers the error answers carry, on the shared error responses."""
    extra = {
        "UNAUTHORIZED": ["WWW-Authenticate"],
        "TOO_MANY_REQUESTS": ["Retry-After"],
        "SERVICE_UNAVAILABLE": ["Retry-After"],
    }
    for name, response in responses.items():
        response["headers"] = _headers(["X-Request-ID", *extra.get(name, [])])


def _headers(names: list[str]) -> dict[str, Any]:
    return {name: {"description": HEADERS[name], **_HEADER_SCHEMA} for name in names}


def errors_of(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses the request pipeline can answer this operation with: those the
    view declares, and those every request may meet on its way to it."""
    declared = {int(s) for s in operation["responses"] if s.isdigit() and int(s) >= 400}
    # input_guard: a body over the limit (413); a malformed or too deeply nested JSON body
    # (400); a control character in a query parameter (422). problems: a database that
    # cannot answer (503, Retry-After) and anything unexpected (500).
    errors = declared | {400, 413, 422, 500, 503}
    if path not in PROBES:
        # security.load_principal: a bad token is a 401 on every operation, public ones
        # too, and too many of them from one address a 429.
        errors |= {401, 429}
    if method in WRITES:
        errors.add(409)  # a concurrent change that breaks a uniqueness rule
    return errors


def _declare_errors(
    path: str, method: str, operation: dict[str, Any], shared: dict[str, Any]
) -> None:
    responses = operation["responses"]
    responses.pop("default", None)
    for status in sorted(errors_of(path, method, operation)):
        name = HTTPStatus(status).name
        responses.setdefault(str(status), {"$ref": f"#/components/responses/{name}"})
        shared.setdefault(
            name,
            {
                "description": HTTPStatus(status).phrase,
                "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            },
        )
    operation["responses"] = dict(sorted(responses.items()))


def _declare_headers(spec: dict[str, Any], operation: dict[str, Any]) -> None:
    """The headers the code sends with each success (and 304)."""
    parameters = {p.get("name") for p in operation.get("parameters", [])}
    for status, response in operation["responses"].items():
        if "$ref" in response or not status.startswith(("2", "3")):
            continue
        names = ["X-Request-ID"]
        if parameters & {"If-Match", "If-None-Match"} or "ETag" in response.get("headers", {}):
            names.append("ETag")
            if status == "201":
                names.append("Location")
        if status == "200" and _is_page(spec, response):
            names += ["Link", "X-Total-Count"]
        response["headers"] = {**response.get("headers", {}), **_headers(names)}


def _also_served_as(operation: dict[str, Any]) -> None:
    """The other media types a view serves its success as (`Accept`), e.g. text/csv."""
    for media_type in operation.pop("x-also-served-as", []):
        for status, response in operation["responses"].items():
            if status.startswith("2"):
                response["content"][media_type] = {"schema": {"type": "string"}}


def _request_examples(operation: dict[str, Any]) -> None:
    examples = REQUEST_EXAMPLES.get(operation["operationId"])
    if examples and "requestBody" in operation:
        operation["requestBody"]["content"]["application/json"]["examples"] = examples


def _response_examples(operation: dict[str, Any]) -> None:
    for status, value in RESPONSE_EXAMPLES.get(operation["operationId"], {}).items():
        content = operation["responses"][status]["content"]["application/json"]
        content["examples"] = {
            "example": {"summary": "The answer to the request example", "value": value}
        }


def _is_page(spec: dict[str, Any], response: dict[str, Any]) -> bool:
    ref = response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
    if ref is None:
        return False
    properties = spec["components"]["schemas"][ref.rsplit("/", 1)[1]].get("properties", {})
    return {"items", "page", "per_page", "total"} <= set(properties)


# -- schemas --------------------------------------------------------------------------------


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/components/schemas/"):
            yield node["$ref"].rsplit("/", 1)[1]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _closure(schemas: dict[str, Any], names: Iterator[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_refs(schemas[name]))
    return seen


def schema_sides(spec: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The components reachable from responses, and those reachable from requests."""
    schemas = spec["components"]["schemas"]
    outputs: list[str] = []
    inputs: list[str] = []
    for _, _, operation in operations(spec):
        for response in operation["responses"].values():
            outputs.extend(_refs(response))
        inputs.extend(_refs(operation.get("requestBody", {})))
        inputs.extend(_refs(operation.get("parameters", [])))
    for response in spec["components"].get("responses", {}).values():
        outputs.extend(_refs(response))
    return _closure(schemas, iter(outputs)), _closure(schemas, iter(inputs))


def _require_response_fields(spec: dict[str, Any]) -> None:
    """A shape only ever sent has every field it lists (null where there is no value), so
    each is `required`; one that states its own `required` list (the problem document,
    whose `errors` comes only with a 422) is left as it says."""
    schemas = spec["components"]["schemas"]
    outputs, inputs = schema_sides(spec)
    for name in sorted(outputs - inputs):
        schema = schemas[name]
        if "required" not in schema and schema.get("properties"):
            schema["required"] = list(schema["properties"])


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\W]+", name) if part)


# Field names too general to name a vocabulary alone: the shape's name goes first.
GENERAL = frozenset({"type", "level", "status", "kind", "method", "basis", "reason", "role"})
ROLE_SUFFIXES = ("QueryArgs", "Create", "Update", "Record")


def vocabulary_name(field: str, owner: str, taken: dict[str, Any]) -> str:
    """`risk_level` -> RiskLevel, `genders` -> Gender, Organization's `type` ->
    OrganizationType; `Code` appended where a schema already has the name."""
    name = _camel(_singular(field))
    if field in GENERAL:
        for suffix in ROLE_SUFFIXES:
            owner = owner.removesuffix(suffix)
        name = _camel(owner) + name
    return name + "Code" if name in taken else name


def _name_vocabularies(spec: dict[str, Any]) -> None:
    """Give every enumeration of codes a named schema (one per set of codes), referred to
    where it is used; a nullable one as `anyOf: [ref, null]`. A generated client then has
    one enum class per vocabulary instead of one per place it is used."""
    schemas = spec["components"]["schemas"]
    names: dict[tuple[Any, ...], str] = {}

    def named(field: str, owner: str, codes: list[Any]) -> str:
        key = tuple(codes)
        if key not in names:
            name = vocabulary_name(field, owner, schemas)
            schemas[name] = {"type": "string", "enum": list(codes)}
            names[key] = name
        return names[key]

    def visit(node: dict[str, Any], field: str, owner: str) -> dict[str, Any]:
        if node.get("items"):
            node["items"] = visit(node["items"], field, owner)
        for choice in ("oneOf", "anyOf"):
            if choice in node:
                node[choice] = [visit(option, field, owner) for option in node[choice]]
        codes = node.get("enum")
        if not codes or "$ref" in node:
            return node
        if len(codes) == 1:  # one value: a constant, not a vocabulary
            return {**{k: v for k, v in node.items() if k != "enum"}, "const": codes[0]}
        nullable = None in codes or node.get("type") == ["string", "null"]
        name = named(field, owner, [c for c in codes if c is not None])
        rest = {k: v for k, v in node.items() if k not in ("enum", "type", "pattern")}
        ref = {"$ref": f"#/components/schemas/{name}"}
        return {"anyOf": [ref, {"type": "null"}], **rest} if nullable else {**ref, **rest}

    for owner, schema in list(schemas.items()):
        for field, node in schema.get("properties", {}).items():
            schema["properties"][field] = visit(node, field, owner)
    for _, _, operation in operations(spec):
        for parameter in operation.get("parameters", []):
            if "schema" in parameter:
                parameter["schema"] = visit(parameter["schema"], parameter["name"], "")
