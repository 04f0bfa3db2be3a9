"""Refuse input no field may hold, before any schema or service sees it.

A body over the limit is a 413 however it is sent: by Content-Length, or chunked (read
here up to one byte past the limit; Werkzeug would silently cut it at the limit).

Every query parameter and every string in a JSON body is checked for control characters
and unpaired surrogates (a database refuses NUL, UTF-8 cannot encode a lone surrogate),
and a JSON body for its depth. Refusals name the field: `q`, `case.client.alias`,
`aliases.2`. Lengths and counts are the schemas' (maxLength, maxItems in openapi.yaml).
"""

from __future__ import annotations

import io
import re
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from .errors import ValidationFailed

MAX_JSON_DEPTH = 16
# C0 controls but tab, newline and carriage return (free text may span lines); DEL; C1.
CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# How openapi.yaml states the rule on every string a request may carry.
TEXT_PATTERN = f"^[^{CONTROLS}]*$"
_FORBIDDEN = re.compile(f"[{CONTROLS}]|[\ud800-\udfff]")
TEXT_RULE = (
    "Must not contain control characters (other than tab and line breaks) or unpaired surrogates."
)


def _check_query() -> dict[str, str]:
    errors = {}
    for name, value in request.args.items(multi=True):
        if _FORBIDDEN.search(name):
            errors["query"] = "A parameter's name " + TEXT_RULE.lower()
        elif _FORBIDDEN.search(value):
            errors[name] = TEXT_RULE
    return errors


def _check_json(body: Any) -> dict[str, str]:
    """Walk the body without recursion; refuse depth beyond MAX_JSON_DEPTH."""
    errors: dict[str, str] = {}
    stack: list[tuple[str, Any, int]] = [("", body, 0)]
    while stack:
        path, value, depth = stack.pop()
        if isinstance(value, str):
            if _FORBIDDEN.search(value):
                errors[path or "body"] = TEXT_RULE
            continue
        if not isinstance(value, dict | list):
            continue
        if depth >= MAX_JSON_DEPTH:
            raise ValidationFailed({path or "body": f"Nested deeper than {MAX_JSON_DEPTH} levels."})
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            key_text = str(key)
            if isinstance(key, str) and _FORBIDDEN.search(key):
                errors[path or "body"] = "A key " + TEXT_RULE.lower()
                continue
            stack.append((f"{path}.{key_text}" if path else key_text, item, depth + 1))
    return errors


def _guard() -> None:
    if request.routing_exception is not None:
        return  # 404 or 405, whatever the input
    if request.method == "PATCH" and not request.get_data(cache=True):
        raise ValidationFailed({"body": "Send a JSON object with the fields to change."})
    errors = _check_query()
    if request.is_json and request.content_length != 0:
        try:
            body = request.get_json(silent=True)
        except RecursionError:
            raise BadRequest(
                f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels."
            ) from None
        errors.update(_check_json(body))
    if errors:
        raise ValidationFailed(errors)


def _limit_body(max_body_bytes: int) -> None:
    if request.content_length is not None:
        if request.content_length > max_body_bytes:
            raise RequestEntityTooLarge(f"The request body is larger than {max_body_bytes} bytes.")
        return
    if not request.environ.get("wsgi.input_terminated"):
        return  # no body the server would hand over
    body = request.environ["wsgi.input"].read(max_body_bytes + 1)
    if len(body) > max_body_bytes:
        raise RequestEntityTooLarge(f"The request body is larger than {max_body_bytes} bytes.")
    request.environ["wsgi.input"] = io.BytesIO(body)


def init_input_guard(app: Flask, *, max_body_bytes: int) -> None:
    """Check every request's body size, query parameters and JSON before its view."""

    @app.before_request
    def _check_input() -> None:
        _limit_body(max_body_bytes)
        _guard()
