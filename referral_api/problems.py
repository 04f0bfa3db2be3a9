"""The one place that turns every error into RFC 9457 problem+json: domain errors,
flask-smorest's 422s, HTTP errors and database failures."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, json
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from .errors import (
    DomainError,
    TooManyRequests,
    Unauthorized,
    ValidationFailed,
    validation_detail,
)

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:referral-api:problem:"


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow/webargs nested messages into dotted field -> list of messages."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
                flat.setdefault(path, []).extend(value)
            else:
                for sub, msgs in flatten_messages(value, path).items():
                    flat.setdefault(sub, []).extend(msgs)
    elif isinstance(messages, list | tuple):
        flat.setdefault(prefix or "body", []).extend(str(m) for m in messages)
    else:
        flat.setdefault(prefix or "body", []).append(str(messages))
    return flat


# webargs keys validation messages by where the value came from; callers name fields.
_LOCATIONS = ("json", "query", "querystring", "headers", "form", "files", "path", "view_args")


def _strip_location(messages: Any) -> Any:
    if isinstance(messages, Mapping) and messages and set(messages) <= set(_LOCATIONS):
        merged: dict[str, Any] = {}
        for location, value in messages.items():
            if isinstance(value, Mapping):
                merged.update(value)
            else:
                merged[location if location != "json" else "body"] = value
        return merged
    return messages


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str | None = None,
    errors: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or _slug_for_status(status)),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = dict(errors)
    body.update(extra)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _slug_for_status(status: int) -> str:
    return {
        400: "bad-request",
        401: "unauthorized",
        403: "forbidden",
        404: "not-found",
        405: "method-not-allowed",
        406: "not-acceptable",
        409: "conflict",
        412: "precondition-failed",
        413: "payload-too-large",
        415: "unsupported-media-type",
        422: "validation-error",
        428: "precondition-required",
        429: "too-many-requests",
        503: "service-unavailable",
    }.get(status, "internal-error" if status >= 500 else "http-error")


def domain_error_response(error: DomainError) -> Response:
    headers = None
    if isinstance(error, Unauthorized):
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(error, TooManyRequests):
        headers = {"Retry-After": str(error.retry_after_s)}
    errors = error.errors if isinstance(error, ValidationFailed) else None
    return problem(
        error.status,
        error.title,
        error.detail,
        slug=error.slug,
        errors=errors,
        headers=headers,
        **error.extra,
    )


def database_error_response(error: DBAPIError) -> Response:
    """Map a database refusal to a problem without leaking SQL or driver text."""
    if isinstance(error, IntegrityError):
        return problem(
            409,
            "Conflict",
            "The change conflicts with existing data (a duplicate or a missing reference).",
        )
    if error.connection_invalidated or isinstance(error, OperationalError | InterfaceError):
        # Refused, starting up, shutting down, lost, timed out, locked or deadlocked:
        # nothing was kept, and the same request may well succeed in a moment.
        log.warning("database unavailable: %s", _driver_error(error))
        return unavailable()
    log.error("database error: %s", _driver_error(error))
    return problem(500, "Internal server error", "An unexpected error occurred.")


def unavailable() -> Response:
    return problem(
        503,
        "Database unavailable",
        "The database cannot answer right now; retry the request.",
        headers={"Retry-After": "1"},
    )


def _driver_error(error: DBAPIError) -> str:
    """The driver's error class and SQLSTATE, never its message (it may quote values)."""
    sqlstate = getattr(error.orig, "sqlstate", None)
    return type(error.orig).__name__ + (f" (SQLSTATE {sqlstate})" if sqlstate else "")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(error: DomainError) -> Response:
        return domain_error_response(error)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        messages = data.get("messages")
        if messages is not None:
            errors = flatten_messages(_strip_location(messages))
            return problem(
                status,
                "Validation failed" if status == 422 else (error.name or "Bad request"),
                validation_detail(errors),
                errors=errors,
                headers=data.get("headers"),
            )
        headers = dict(error.get_headers())
        headers.pop("Content-Type", None)
        detail = data.get("message") or error.description or error.name
        return problem(status, error.name, str(detail), headers=headers)

    @app.errorhandler(DBAPIError)
    def _database(error: DBAPIError) -> Response:
        return database_error_response(error)

    @app.errorhandler(PoolTimeout)
    @app.errorhandler(DisconnectionError)
    def _no_connection(error: Exception) -> Response:
        log.warning("database unavailable: %s", type(error).__name__)
        return unavailable()

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        if isinstance(error, HTTPException):  # pragma: no cover - routed above
            return _http(error)
        log.error("unhandled error: %s", type(error).__name__, exc_info=error)
        return problem(500, "Internal server error", "An unexpected error occurred.")
