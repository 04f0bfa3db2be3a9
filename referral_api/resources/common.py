"""Decorators and helpers shared by the blueprints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask import current_app, request
from flask_smorest import Blueprint
from marshmallow import RAISE

from ..security import require_role
from ..services.pagination import Page
from ..services.referrals.deadlines import Settings


def authenticated(blp: Blueprint, *roles: str) -> Callable[[Any], Any]:
    """Require a token (and one of `roles`, if given); document it in OpenAPI."""

    def decorator(view: Any) -> Any:
        view = require_role(*roles)(view)
        view = blp.alt_response(401, response="UNAUTHORIZED")(view)
        if roles:
            view = blp.alt_response(403, response="FORBIDDEN")(view)
        return blp.doc(security=[{"bearerAuth": []}])(view)

    return decorator


def referral_settings() -> Settings:
    config = current_app.config["REFERRAL_API"]
    return Settings(
        secret_key=config.secret_key,
        ack_hours=config.ack_hours,
        start_days=config.start_days,
        closed_access_days=config.closed_access_days,
    )


def query_args(blp: Blueprint, schema: Any) -> Callable[[Any], Any]:
    """Parse query parameters; an unknown parameter is refused, not silently ignored.

    Schemas are instantiated here, once: given a class, webargs would build one per request.
    """
    instance = schema() if isinstance(schema, type) else schema

    def decorator(view: Any) -> Any:
        view = blp.arguments(instance, location="query", unknown=RAISE)(view)
        return blp.alt_response(422, response="UNPROCESSABLE_ENTITY")(view)

    return decorator


def page_body(page: Page[Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """The list body with `Link` and `X-Total-Count` headers."""
    headers = {"X-Total-Count": str(page.total)}
    links = []
    for rel, number in (
        ("first", 1),
        ("prev", page.page - 1),
        ("next", page.page + 1),
        ("last", page.pages),
    ):
        if 1 <= number <= page.pages:
            args = request.args.to_dict(flat=False)
            args["page"] = [str(number)]
            args["per_page"] = [str(page.per_page)]
            links.append(f'<{request.base_url}?{urlencode(args, doseq=True)}>; rel="{rel}"')
    if links:
        headers["Link"] = ", ".join(links)
    body = {"items": page.items, "page": page.page, "per_page": page.per_page, "total": page.total}
    return body, 200, headers
