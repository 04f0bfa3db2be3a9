"""The request boundary: one transaction per request, committed once at its end.

A writing request (any unsafe method, or a read marked `writes_on_read`) begins as a
writer; a response with an error status rolls everything back, and then writes the
refused attempts that must leave an audit trace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, request
from sqlalchemy.exc import DBAPIError

from .db import db
from .problems import database_error_response
from .services import audit

log = logging.getLogger(__name__)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
V = TypeVar("V", bound=Callable[..., Any])


def writes_on_read(view: V | None = None, *, when: Callable[[], bool] | None = None) -> Any:
    """Mark a GET view that writes (an audited read), so its transaction begins as a
    writer's; with `when`, only the requests for which it answers true (say, a query
    parameter that makes the read audited)."""

    def mark(view: V) -> V:
        view.writes_on_read = when or True  # type: ignore[attr-defined]
        return view

    return mark if view is None else mark(view)


def reads_only(view: V) -> V:
    """Mark a POST view that only reads (a question too long for a query string), so its
    transaction does not hold SQLite's write lock while it works."""
    view.reads_only = True  # type: ignore[attr-defined]
    return view


def request_writes() -> bool:
    """Whether this request is expected to write: any unsafe method not marked as only
    reading, or a read marked as writing."""
    view = current_app.view_functions.get(request.endpoint or "")
    handler = getattr(getattr(view, "view_class", None), request.method.lower(), view)
    if request.method not in _SAFE_METHODS:
        return not getattr(handler, "reads_only", False)
    marked = getattr(handler, "writes_on_read", False)
    return bool(marked() if callable(marked) else marked)


def _begin() -> None:
    if request_writes():
        db.expect_writes()


def _commit(response: Response) -> Response:
    """The one commit of the request; an error status rolls everything back."""
    if not db.has_session():
        return response
    session = db.session
    if response.status_code >= 400:
        session.rollback()
        try:
            audit.commit_durable(session)  # refused attempts that must leave a trace
        except DBAPIError:
            session.rollback()
            log.exception("could not record a refused attempt in the audit trail")
        return response
    try:
        session.commit()
    except DBAPIError as error:
        session.rollback()
        if not request_writes():
            # A plain read's only write is the token's last_used_at hint: losing it
            # to a concurrent writer must not fail the read.
            log.warning("last_used_at not recorded: %s", type(error.orig).__name__)
            return response
        return database_error_response(error)
    return response


def init_boundary(app: Flask) -> None:
    """Begin each request's transaction as it needs, and end it once."""
    app.before_request(_begin)
    app.after_request(_commit)
