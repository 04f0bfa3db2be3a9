"""Bearer-token authentication and role checks at the HTTP boundary."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from limits import parse as parse_limit
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from .db import db
from .errors import Forbidden, TooManyRequests, Unauthorized
from .services import principals
from .services.actors import Actor

F = TypeVar("F", bound=Callable[..., Any])


class AuthFailures:
    """Failed authentications per client address, in a `limits` storage (memory, or
    Redis shared by every worker): past the limit, a token is not even looked at."""

    key = "referral_api.auth_failures"

    def __init__(self, limit: str, storage_uri: str) -> None:
        self.limit = parse_limit(limit)
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

    def refuse_if_exceeded(self, address: str) -> None:
        if self.limiter.test(self.limit, "auth-failure", address):
            return
        stats = self.limiter.get_window_stats(self.limit, "auth-failure", address)
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        raise TooManyRequests(
            f"Too many failed authentications from this address; retry in {wait} s.",
            retry_after_s=wait,
        )

    def count(self, address: str) -> None:
        self.limiter.hit(self.limit, "auth-failure", address)


def init_security(app: Flask, *, auth_failure_limit: str, storage_uri: str) -> None:
    """Authenticate every request before its view; mark what callers see as private."""
    app.extensions[AuthFailures.key] = AuthFailures(auth_failure_limit, storage_uri)
    app.before_request(load_principal)
    app.after_request(_private_to_callers)


def load_principal() -> None:
    """Authenticate the request if it carries a token; a bad token is always a 401."""
    g.actor = Actor.public()
    header = request.headers.get("Authorization")
    if header is None or request.blueprint == "ops":
        return  # the probes answer the same to everyone, and never wait on a token
    failures: AuthFailures = current_app.extensions[AuthFailures.key]
    address = request.remote_addr or "unknown"
    failures.refuse_if_exceeded(address)
    scheme, _, token = header.partition(" ")
    try:
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("The Authorization header must be 'Bearer <token>'.")
        g.actor = principals.authenticate(db.session, token=token.strip())
    except Unauthorized:
        failures.count(address)
        raise


def _private_to_callers(response: Response) -> Response:
    """What an authenticated caller is shown (referrals, cases, client profiles,
    confidential sites) is never stored by a cache on the way."""
    if current_actor().is_authenticated:
        response.headers["Cache-Control"] = "no-store"
        response.vary.add("Authorization")
    return response


def current_actor() -> Actor:
    """Who is calling: the token's principal, or the public."""
    return g.get("actor") or Actor.public()


def require_role(*roles: str) -> Callable[[F], F]:
    """Refuse anonymous callers (401) and, if roles are given, other roles (403)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            actor = current_actor()
            if not actor.is_authenticated:
                raise Unauthorized("This endpoint needs a bearer token.")
            if roles and actor.role not in roles:
                raise Forbidden(
                    f"The role {actor.role} may not do this (needs {' or '.join(roles)})."
                )
            return view(*args, **kwargs)

        wrapper._requires_auth = True  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator
