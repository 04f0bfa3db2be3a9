"""Bearer-token authentication and role checks at the HTTP boundary."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request

from .db import db
from .errors import Forbidden, Unauthorized
from .services import principals
from .services.actors import Actor

F = TypeVar("F", bound=Callable[..., Any])


def load_principal() -> None:
    """Authenticate the request if it carries a token; a bad token is always a 401."""
    g.actor = Actor.public()
    header = request.headers.get("Authorization")
    if header is None:
        return
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("The Authorization header must be 'Bearer <token>'.")
    g.actor = principals.authenticate(db.session, token=token.strip())


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
