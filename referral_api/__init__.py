"""referral-api: the referral backbone of Indonesia's anti-trafficking service network."""

from __future__ import annotations

from flask import Flask

from .boundary import init_boundary
from .config import Config
from .db import db
from .input_guard import init_input_guard
from .logs import configure_logging, init_request_logging
from .problems import register_error_handlers
from .security import init_security

__version__ = "0.1.0"


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
    db.init_app(
        app,
        config.database_url,
        connect_timeout_s=config.db_connect_timeout_s,
        statement_timeout_ms=config.db_statement_timeout_ms,
    )
    init_request_logging(app)

    init_input_guard(app, max_body_bytes=config.max_body_bytes)
    init_boundary(app)
    init_security(
        app,
        auth_failure_limit=config.auth_failure_limit,
        storage_uri=config.rate_limit_storage_uri,
    )

    from .resources import register_resources

    register_resources(app, cors_origins=config.cors_origins)
    register_error_handlers(app)
    return app
