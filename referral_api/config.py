"""Configuration, parsed and validated in one place from the environment."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_ACK_HOURS = {"high": 1.0, "medium": 6.0, "low": 72.0}
DEFAULT_START_DAYS = 7.0
MAX_BODY_BYTES = 1024 * 1024
# `referral-api serve`'s timeouts, in seconds (README "Serving"). Granian takes the
# header timeout in whole milliseconds, at most 60 s.
DEFAULT_HEADER_TIMEOUT_S = 10.0
MAX_HEADER_TIMEOUT_S = 60.0
DEFAULT_BODY_TIMEOUT_S = 30.0
DEFAULT_REQUEST_TIMEOUT_S = 60.0
DEFAULT_SHUTDOWN_TIMEOUT_S = 30.0
# Used only by `referral-api demo` and the test-suite; never in production.
DEMO_SECRET_KEY = "demo-only-secret-key-not-for-production-use"  # noqa: S105


class ConfigError(Exception):
    """The environment does not describe a runnable service."""


def default_database_url() -> str:
    instance = Path.cwd() / "instance"
    return f"sqlite:///{instance / 'referral-api.sqlite3'}"


@dataclass(frozen=True)
class Config:
    database_url: str
    secret_key: str
    log_level: str = "INFO"
    ack_hours: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_ACK_HOURS))
    start_days: float = DEFAULT_START_DAYS
    max_body_bytes: int = MAX_BODY_BYTES
    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S
    shutdown_timeout_s: float = DEFAULT_SHUTDOWN_TIMEOUT_S

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, require_secret: bool = True
    ) -> Config:
        """Build the configuration from environment variables, refusing bad values."""
        env = os.environ if env is None else env
        secret = env.get("REFERRAL_API_SECRET_KEY", "").strip()
        if not secret:
            if require_secret:
                raise ConfigError(
                    "REFERRAL_API_SECRET_KEY is not set. It keys the encryption of client "
                    "data, so the service will not start without it. Generate one with\n"
                    "  python -c 'import secrets; print(secrets.token_urlsafe(48))'\n"
                    "and export it: export REFERRAL_API_SECRET_KEY=<that value>. "
                    "(`referral-api demo` runs without it, on demo data only.)"
                )
            secret = DEMO_SECRET_KEY
        elif require_secret and len(secret) < 32:
            raise ConfigError("REFERRAL_API_SECRET_KEY must be at least 32 characters long.")

        log_level = env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
        if log_level not in logging.getLevelNamesMapping():
            raise ConfigError(f"LOG_LEVEL {log_level!r} is not a logging level (e.g. INFO, DEBUG).")

        return cls(
            database_url=env.get("DATABASE_URL", "").strip() or default_database_url(),
            secret_key=secret,
            log_level=log_level,
            ack_hours=parse_ack_hours(env.get("REFERRAL_API_ACK_HOURS", "")),
            start_days=parse_positive_number(
                "REFERRAL_API_START_DAYS", env.get("REFERRAL_API_START_DAYS", "")
            )
            or DEFAULT_START_DAYS,
            **parse_server_timeouts(env),
        )


def parse_server_timeouts(env: Mapping[str, str]) -> dict[str, float]:
    """The serve timeouts: positive seconds; the header timeout at most 60 s."""
    timeouts = {
        "header_timeout_s": ("REFERRAL_API_HEADER_TIMEOUT_S", DEFAULT_HEADER_TIMEOUT_S),
        "body_timeout_s": ("REFERRAL_API_BODY_TIMEOUT_S", DEFAULT_BODY_TIMEOUT_S),
        "request_timeout_s": ("REFERRAL_API_REQUEST_TIMEOUT_S", DEFAULT_REQUEST_TIMEOUT_S),
        "shutdown_timeout_s": ("REFERRAL_API_SHUTDOWN_TIMEOUT_S", DEFAULT_SHUTDOWN_TIMEOUT_S),
    }
    parsed = {
        key: parse_positive_number(name, env.get(name, "")) or default
        for key, (name, default) in timeouts.items()
    }
    if not 0.001 <= parsed["header_timeout_s"] <= MAX_HEADER_TIMEOUT_S:
        raise ConfigError(
            f"REFERRAL_API_HEADER_TIMEOUT_S must be between 0.001 and {MAX_HEADER_TIMEOUT_S:g} "
            f"seconds, got {parsed['header_timeout_s']:g}."
        )
    return parsed


def parse_positive_number(name: str, raw: str) -> float | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}.") from None
    if not value > 0:
        raise ConfigError(f"{name} must be greater than 0, got {raw!r}.")
    return value


def parse_ack_hours(raw: str) -> dict[str, float]:
    """Parse `high=1,medium=6,low=72` (fractions allowed) over the defaults."""
    hours = dict(DEFAULT_ACK_HOURS)
    for part in filter(None, (p.strip() for p in raw.split(","))):
        level, sep, value = part.partition("=")
        level = level.strip()
        if not sep or level not in DEFAULT_ACK_HOURS:
            raise ConfigError(
                f"REFERRAL_API_ACK_HOURS: {part!r} is not LEVEL=HOURS with LEVEL one of "
                f"{', '.join(DEFAULT_ACK_HOURS)}."
            )
        parsed = parse_positive_number(f"REFERRAL_API_ACK_HOURS[{level}]", value)
        if parsed is None:
            raise ConfigError(f"REFERRAL_API_ACK_HOURS: {level} has no value.")
        hours[level] = parsed
    return hours
