"""Domain exceptions: what a service raises when it refuses. No HTTP here; each class
names the status and problem type that `referral_api.problems` answers with."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class DomainError(Exception):
    """An error a service raises; its class decides status and problem type."""

    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = dict(extra or {})


class Unauthorized(DomainError):
    status, slug, title = 401, "unauthorized", "Authentication required"


class Forbidden(DomainError):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    status, slug, title = 409, "conflict", "Conflict"


class InvalidTransition(Conflict):
    slug, title = "invalid-transition", "Transition not allowed"

    def __init__(self, detail: str, *, allowed: Iterable[str]) -> None:
        super().__init__(detail, extra={"allowed": sorted(allowed)})


class Gone(DomainError):
    status, slug, title = 410, "gone", "Gone"


class PreconditionFailed(DomainError):
    status, slug, title = 412, "precondition-failed", "Precondition failed"


class PreconditionRequired(DomainError):
    status, slug, title = 428, "precondition-required", "Precondition required"


class TooManyRequests(DomainError):
    status, slug, title = 429, "too-many-requests", "Too many requests"

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class NotConfigured(DomainError):
    status, slug, title = 501, "not-configured", "Not configured"


class ValidationFailed(DomainError):
    """Input that is well-formed but breaks a rule; `errors` maps field -> messages."""

    status, slug, title = 422, "validation-error", "Validation failed"

    def __init__(self, errors: Mapping[str, list[str] | str], detail: str | None = None) -> None:
        self.errors = {k: [v] if isinstance(v, str) else list(v) for k, v in errors.items()}
        super().__init__(detail or validation_detail(self.errors))


def validation_detail(errors: Mapping[str, list[str]]) -> str:
    parts = [f"{field}: {' '.join(msgs)}" for field, msgs in sorted(errors.items())]
    return "; ".join(parts) if parts else "The request is not valid."
