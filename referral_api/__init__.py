"""referral-api: the referral backbone of Indonesia's anti-trafficking service network."""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from sqlalchemy.exc import DBAPIError

from .config import Config
from .db import db, request_writes
from .errors import database_error_response, problem, register_error_handlers
from .logs import configure_logging, init_request_logging
from .security import load_principal
from .services import audit

__version__ = "0.1.0"
log = logging.getLogger(__name__)


def create_app(config: Config | None = None) -> Flask:
    """Build the WSGI application from a validated configuration."""
    config = config or Config.from_env()
    configure_logging(config.log_level)

    app = Flask(__name__)
    app.config.update(
        REFERRAL_API=config,
        MAX_CONTENT_LENGTH=config.max_body_bytes,
        JSON_SORT_KEYS=False,
    )
    db.init_app(app, config.database_url)
    init_request_logging(app)

    @app.before_request
    def _refuse_large_bodies() -> Response | None:
        if request.content_length is not None and request.content_length > config.max_body_bytes:
            return problem(
                413,
                "Payload too large",
                f"The request body is larger than {config.max_body_bytes} bytes.",
            )
        return None

    app.before_request(load_principal)

    @app.after_request
    def _commit(response: Response) -> Response:
        # The one commit of the request; an error status rolls everything back.
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

    from .resources import register_resources

    register_resources(app)
    register_error_handlers(app)
    return app
