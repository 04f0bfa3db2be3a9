"""referral-api: the referral backbone of Indonesia's anti-trafficking service network."""

from __future__ import annotations

from flask import Flask, Response, request

from .boundary import init_boundary
from .config import Config
from .db import db
from .logs import configure_logging, init_request_logging
from .problems import problem, register_error_handlers
from .security import load_principal

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

    init_boundary(app)
    app.before_request(load_principal)

    from .resources import register_resources

    register_resources(app)
    register_error_handlers(app)
    return app
