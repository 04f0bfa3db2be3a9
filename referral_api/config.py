"""Configuration, parsed and validated in one place from the environment."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

DEFAULT_ACK_HOURS = {"high": 1.0, "medium": 6.0, "low": 72.0}
DEFAULT_START_DAYS = 7.0
# Client data lifecycle (DESIGN.md, UU PDP 27/2022): a receiver keeps the client profile
# this long after its referral completed or failed; a closed case's profile is destroyed
# (crypto-shredded) this long after closure (5 years).
DEFAULT_CLOSED_ACCESS_DAYS = 30.0
DEFAULT_RETENTION_DAYS = 1825.0
DEFAULT_DB_CONNECT_TIMEOUT_S = 5.0
# How long a SQLite writer waits for another to finish before it gives up.
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Failed authentications allowed per client address (the `limits` notation).
DEFAULT_AUTH_FAILURE_LIMIT = "20/minute"
# Long enough for `audit verify` over a million events through the API (about 20 s).
DEFAULT_DB_STATEMENT_TIMEOUT_MS = 30_000
MAX_BODY_BYTES = 1024 * 1024
# Standard Webhooks' schedule: seconds to wait before each retry after the first attempt.
DEFAULT_WEBHOOK_RETRY_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
DEFAULT_WEBHOOK_TIMEOUT = 10.0
DEFAULT_WEBHOOK_ROTATION_HOURS = 24.0
# A shelter that has not updated its bed count for a day is not to be relied on at night.
DEFAULT_CAPACITY_STALE_HOURS = 24.0
DEFAULT_GEOCODER_TIMEOUT_S = 2.0
# `referral-api serve`'s timeouts, in seconds (README "Serving"). Granian takes the
# header timeout in whole milliseconds, at most 60 s.
DEFAULT_HEADER_TIMEOUT_S = 10.0
MAX_HEADER_TIMEOUT_S = 60.0
DEFAULT_BODY_TIMEOUT_S = 30.0
DEFAULT_REQUEST_TIMEOUT_S = 60.0
DEFAULT_SHUTDOWN_TIMEOUT_S = 30.0
# Reports hide counts from 1 to MIN_CELL - 1 (README "Reports").
DEFAULT_MIN_CELL = 5
# The worker signs a checkpoint of the audit chain this often, when it has a key.
DEFAULT_CHECKPOINT_MINUTES = 60.0
# Used only by `referral-api demo` and the test-suite; never in production.
DEMO_SECRET_KEY = "demo-only-secret-key-not-for-production-use"  # noqa: S105


class ConfigError(Exception):
    """The environment does not describe a runnable service."""


# The official Open Referral HSDS 3.1 schemas (never copied into the project): beside the
# repository, in the shared folder, unless REFERRAL_API_HSDS_DIR says where.
DEFAULT_HSDS_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "hsds-3.1"


def default_database_url() -> str:
    instance = Path.cwd() / "instance"
    return f"sqlite:///{instance / 'referral-api.sqlite3'}"


def parse_database_url(value: str) -> str:
    """DATABASE_URL, checked to name a database SQLAlchemy can drive (default: SQLite)."""
    url = value.strip()
    if not url:
        return default_database_url()
    try:
        make_url(url).get_dialect()
    except NoSuchModuleError:  # (a kind of ArgumentError)
        shown = make_url(url).render_as_string(hide_password=True)
        raise ConfigError(
            f"DATABASE_URL {shown} names a database driver that is not installed or not "
            "known (use sqlite:/// or postgresql+psycopg://)"
        ) from None
    except ArgumentError:
        # Not echoed: an unparseable URL may still hold a password.
        raise ConfigError(
            "DATABASE_URL is not a database URL; expected e.g. "
            "sqlite:///instance/referral-api.sqlite3 or postgresql+psycopg://user@host/db"
        ) from None
    return url


@dataclass(frozen=True)
class Config:
    database_url: str
    secret_key: str
    log_level: str = "INFO"
    ack_hours: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_ACK_HOURS))
    start_days: float = DEFAULT_START_DAYS
    closed_access_days: float = DEFAULT_CLOSED_ACCESS_DAYS
    retention_days: float = DEFAULT_RETENTION_DAYS
    max_body_bytes: int = MAX_BODY_BYTES
    db_connect_timeout_s: float = DEFAULT_DB_CONNECT_TIMEOUT_S
    db_statement_timeout_ms: int = DEFAULT_DB_STATEMENT_TIMEOUT_MS
    auth_failure_limit: str = DEFAULT_AUTH_FAILURE_LIMIT
    rate_limit_storage_uri: str = "memory://"
    cors_origins: tuple[str, ...] = ("*",)
    # Signs audit checkpoints (services/checkpoints.py); kept apart from the database.
    audit_signing_key: str | None = None
    checkpoint_minutes: float = DEFAULT_CHECKPOINT_MINUTES
    # Where the worker also writes its checkpoints (one file each); always logged.
    checkpoint_dir: Path | None = None
    min_cell: int = DEFAULT_MIN_CELL
    # Partner webhooks (DESIGN.md "Partner events").
    webhook_allow_private: bool = False
    webhook_timeout: float = DEFAULT_WEBHOOK_TIMEOUT
    webhook_retry_schedule: tuple[float, ...] = DEFAULT_WEBHOOK_RETRY_SCHEDULE
    webhook_rotation_hours: float = DEFAULT_WEBHOOK_ROTATION_HOURS
    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S
    shutdown_timeout_s: float = DEFAULT_SHUTDOWN_TIMEOUT_S
    hsds_dir: Path = DEFAULT_HSDS_DIR
    # Caseworker search (DESIGN.md "Caseworker search and shelter offers").
    capacity_stale_hours: float = DEFAULT_CAPACITY_STALE_HOURS
    geocoder_url: str | None = None
    geocoder_timeout_s: float = DEFAULT_GEOCODER_TIMEOUT_S

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

        timeouts = parse_server_timeouts(env)
        return cls(
            database_url=parse_database_url(env.get("DATABASE_URL", "")),
            secret_key=secret,
            log_level=log_level,
            ack_hours=parse_ack_hours(env.get("REFERRAL_API_ACK_HOURS", "")),
            start_days=parse_positive_number(
                "REFERRAL_API_START_DAYS", env.get("REFERRAL_API_START_DAYS", "")
            )
            or DEFAULT_START_DAYS,
            closed_access_days=parse_days(
                "REFERRAL_API_CLOSED_ACCESS_DAYS",
                env.get("REFERRAL_API_CLOSED_ACCESS_DAYS", ""),
                DEFAULT_CLOSED_ACCESS_DAYS,
            ),
            retention_days=parse_positive_number(
                "REFERRAL_API_RETENTION_DAYS", env.get("REFERRAL_API_RETENTION_DAYS", "")
            )
            or DEFAULT_RETENTION_DAYS,
            db_connect_timeout_s=parse_positive_number(
                "REFERRAL_API_DB_CONNECT_TIMEOUT_S",
                env.get("REFERRAL_API_DB_CONNECT_TIMEOUT_S", ""),
            )
            or DEFAULT_DB_CONNECT_TIMEOUT_S,
            db_statement_timeout_ms=parse_milliseconds(
                "REFERRAL_API_DB_STATEMENT_TIMEOUT_MS",
                env.get("REFERRAL_API_DB_STATEMENT_TIMEOUT_MS", ""),
                DEFAULT_DB_STATEMENT_TIMEOUT_MS,
            ),
            auth_failure_limit=parse_rate_limit(
                "REFERRAL_API_AUTH_FAILURE_LIMIT",
                env.get("REFERRAL_API_AUTH_FAILURE_LIMIT", "").strip()
                or DEFAULT_AUTH_FAILURE_LIMIT,
            ),
            rate_limit_storage_uri=env.get("REFERRAL_API_RATE_LIMIT_STORAGE_URI", "").strip()
            or "memory://",
            audit_signing_key=parse_signing_key(env.get("REFERRAL_API_AUDIT_SIGNING_KEY", "")),
            hsds_dir=Path(env.get("REFERRAL_API_HSDS_DIR", "").strip() or DEFAULT_HSDS_DIR),
            checkpoint_minutes=parse_positive_number(
                "REFERRAL_API_CHECKPOINT_MINUTES", env.get("REFERRAL_API_CHECKPOINT_MINUTES", "")
            )
            or DEFAULT_CHECKPOINT_MINUTES,
            checkpoint_dir=Path(env["REFERRAL_API_CHECKPOINT_DIR"].strip())
            if env.get("REFERRAL_API_CHECKPOINT_DIR", "").strip()
            else None,
            min_cell=parse_min_cell(env.get("REFERRAL_API_MIN_CELL", "")),
            cors_origins=tuple(
                origin.strip()
                for origin in env.get("REFERRAL_API_CORS_ORIGINS", "*").split(",")
                if origin.strip()
            ),
            webhook_allow_private=parse_flag(
                "REFERRAL_API_WEBHOOK_ALLOW_PRIVATE",
                env.get("REFERRAL_API_WEBHOOK_ALLOW_PRIVATE", ""),
            ),
            webhook_timeout=parse_positive_number(
                "REFERRAL_API_WEBHOOK_TIMEOUT", env.get("REFERRAL_API_WEBHOOK_TIMEOUT", "")
            )
            or DEFAULT_WEBHOOK_TIMEOUT,
            webhook_retry_schedule=parse_retry_schedule(
                env.get("REFERRAL_API_WEBHOOK_RETRY_SCHEDULE", "")
            ),
            webhook_rotation_hours=parse_positive_number(
                "REFERRAL_API_WEBHOOK_ROTATION_HOURS",
                env.get("REFERRAL_API_WEBHOOK_ROTATION_HOURS", ""),
            )
            or DEFAULT_WEBHOOK_ROTATION_HOURS,
            header_timeout_s=timeouts["header_timeout_s"],
            body_timeout_s=timeouts["body_timeout_s"],
            request_timeout_s=timeouts["request_timeout_s"],
            shutdown_timeout_s=timeouts["shutdown_timeout_s"],
            capacity_stale_hours=parse_positive_number(
                "REFERRAL_API_CAPACITY_STALE_HOURS",
                env.get("REFERRAL_API_CAPACITY_STALE_HOURS", ""),
            )
            or DEFAULT_CAPACITY_STALE_HOURS,
            geocoder_url=parse_geocoder_url(env.get("REFERRAL_API_GEOCODER_URL", "")),
            geocoder_timeout_s=parse_positive_number(
                "REFERRAL_API_GEOCODER_TIMEOUT_S", env.get("REFERRAL_API_GEOCODER_TIMEOUT_S", "")
            )
            or DEFAULT_GEOCODER_TIMEOUT_S,
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


def parse_geocoder_url(raw: str) -> str | None:
    """REFERRAL_API_GEOCODER_URL: an http(s) URL of a Nominatim-compatible server, or unset."""
    url = raw.strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"REFERRAL_API_GEOCODER_URL {url!r} is not an http(s) URL of a Nominatim server "
            "(e.g. https://nominatim.example.org)."
        )
    return url


def parse_min_cell(raw: str) -> int:
    """REFERRAL_API_MIN_CELL: a whole number from 2 (hide only the ones) to 100."""
    raw = raw.strip()
    if not raw:
        return DEFAULT_MIN_CELL
    if not raw.isdigit() or not 2 <= int(raw) <= 100:
        raise ConfigError(
            f"REFERRAL_API_MIN_CELL must be a whole number from 2 to 100, got {raw!r}."
        )
    return int(raw)


def parse_days(name: str, raw: str, default: float) -> float:
    """A number of days, 0 or more (0: at once)."""
    raw = raw.strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of days, got {raw!r}.") from None
    if not value >= 0:
        raise ConfigError(f"{name} must be 0 or more days, got {raw!r}.")
    return value


def parse_signing_key(raw: str) -> str | None:
    """REFERRAL_API_AUDIT_SIGNING_KEY: a file holding the key, or its base64 seed."""
    if not raw.strip():
        return None
    from .services.checkpoints import load_signing_key

    try:
        load_signing_key(raw)
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"REFERRAL_API_AUDIT_SIGNING_KEY is not an Ed25519 key ({error}); make one with "
            "`referral-api audit keygen`."
        ) from None
    return raw.strip()


def parse_rate_limit(name: str, raw: str) -> str:
    """A limit such as `20/minute` or `100 per hour`."""
    from limits import parse

    try:
        parse(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a rate such as 20/minute, got {raw!r}.") from None
    return raw


def parse_milliseconds(name: str, raw: str, default: int) -> int:
    """A whole number of milliseconds; 0 turns the limit off."""
    raw = raw.strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise ConfigError(f"{name} must be a whole number of milliseconds (0: none), got {raw!r}.")
    return int(raw)


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


def parse_flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} must be true or false, got {raw!r}.")


def parse_retry_schedule(raw: str) -> tuple[float, ...]:
    """Comma-separated seconds between attempts, e.g. `5,300,1800` (empty: the default).

    A suffix s, m or h is accepted (`5s,5m,30m,2h`)."""
    if not raw.strip():
        return DEFAULT_WEBHOOK_RETRY_SCHEDULE
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    delays = []
    for part in (p.strip() for p in raw.split(",")):
        unit = units.get(part[-1:].lower()) if part else None
        number = part[:-1] if unit is not None else part
        try:
            value = float(number) * (unit or 1.0)
        except ValueError:
            raise ConfigError(
                f"REFERRAL_API_WEBHOOK_RETRY_SCHEDULE: {part!r} is not a number of seconds."
            ) from None
        if not value >= 0:
            raise ConfigError(f"REFERRAL_API_WEBHOOK_RETRY_SCHEDULE: {part!r} is negative.")
        delays.append(value)
    return tuple(delays)
