"""The webhook worker: numbers new events per subscription, delivers them in order with
Standard Webhooks signatures and retries, turns missed deadlines into events, and, with an
audit signing key, signs a checkpoint of the audit chain every few minutes.

`run_once` does one round in short transactions of its own; `run` loops over it. Several
workers may run against PostgreSQL (subscriptions are taken FOR UPDATE SKIP LOCKED, a
delivery in flight is leased); against SQLite run one.
"""

from __future__ import annotations

import email.utils
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook

from .config import Config
from .db import SQLITE_BEGIN_OPTION
from .models.base import utcnow
from .services import checkpoints, events
from .services.referrals import offers
from .services.webhooks import addresses, delivery

log = logging.getLogger(__name__)
USER_AGENT = "referral-api-webhooks/1"


@dataclass(frozen=True)
class WorkerSettings:
    secret_key: str
    allow_private: bool = False
    timeout_s: float = 10.0
    retry_schedule: tuple[float, ...] = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
    deadline_scan_every_s: float = 5.0
    parallel: int = 16
    # Consecutive deliveries of one subscription leased at once (sent one at a time).
    batch: int = 20
    # Signed audit checkpoints: none without a key; logged, and written to the directory.
    audit_signing_key: str | None = None
    checkpoint_every_s: float = 3600.0
    checkpoint_dir: Path | None = None

    @property
    def lease_s(self) -> float:
        """How long a claimed delivery stays leased: longer than any attempt can take
        (connect and read timeouts), short enough that a dead worker's claim soon expires."""
        return 4 * self.timeout_s + 2

    @property
    def batch_window_s(self) -> float:
        """A batch starts no new attempt after this long, so each attempt (at most about
        twice the timeout) ends before the lease does."""
        return 2 * self.timeout_s

    @classmethod
    def from_config(cls, config: Config) -> WorkerSettings:
        return cls(
            secret_key=config.secret_key,
            allow_private=config.webhook_allow_private,
            timeout_s=config.webhook_timeout,
            retry_schedule=tuple(config.webhook_retry_schedule),
            audit_signing_key=config.audit_signing_key,
            checkpoint_every_s=config.checkpoint_minutes * 60,
            checkpoint_dir=config.checkpoint_dir,
        )


def http_client(settings: WorkerSettings) -> httpx.Client:
    """Connect and read timeouts; no redirects (a redirect is a failure, and could point
    anywhere); no proxies from the environment; connections to public addresses only
    (unless private ones are allowed), checked as they are opened."""
    limits = httpx.Limits(max_connections=max(settings.parallel, 1) * 2)
    return httpx.Client(
        timeout=httpx.Timeout(settings.timeout_s, connect=min(settings.timeout_s, 5.0)),
        follow_redirects=False,
        trust_env=False,
        limits=limits,
        transport=None if settings.allow_private else addresses.public_only_transport(limits),
        headers={"user-agent": USER_AGENT},
    )


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One short transaction; on SQLite it takes the write lock up front."""
    with sessions() as session, session.begin():
        if session.get_bind().dialect.name == "sqlite":
            session.connection(execution_options={SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        yield session


@dataclass
class Progress:
    numbered: int = 0
    attempted: int = 0
    delivered: int = 0
    overdue: int = 0
    # Referrals of shelter offers cancelled because nobody accepted in time.
    expired: int = 0
    # The size of the audit chain this round signed a checkpoint of.
    checkpoint: int | None = None
    # A subscription had a full batch claimed: more is waiting, start the next round now.
    backlog: bool = False

    @property
    def busy(self) -> bool:
        return bool(self.numbered or self.attempted or self.overdue or self.expired)


@dataclass
class Worker:
    sessions: sessionmaker[Session]
    settings: WorkerSettings
    client: httpx.Client | None = None
    clock: Callable[[], float] = time.monotonic
    _last_deadline_scan: float = field(default=0.0, repr=False)
    _last_checkpoint: float | None = field(default=None, repr=False)
    _pool: ThreadPoolExecutor | None = field(default=None, repr=False)

    @classmethod
    def for_engine(cls, engine: Engine, settings: WorkerSettings) -> Worker:
        return cls(sessionmaker(bind=engine, expire_on_commit=False), settings)

    def run_once(self, *, check_deadlines: bool | None = None) -> Progress:
        """One round: deadlines (every few seconds), fan-out, then one delivery attempt
        per subscription that has one due."""
        return run_once(self, check_deadlines=check_deadlines)

    def run(self, stop: threading.Event | None = None, *, poll_s: float = 0.1) -> None:
        """Loop until `stop` is set, starting a round every `poll_s` (at once while a
        backlog remains). Rounds rather than one per event: each round's transactions
        cost the same for one delivery or twenty, and SQLite has a single write lock."""
        stop = stop or threading.Event()
        while not stop.is_set():
            started = time.monotonic()
            try:
                progress = self.run_once()
            except Exception:
                log.exception("webhook worker round failed; retrying")
                stop.wait(1.0)
                continue
            if not progress.backlog:
                stop.wait(max(0.0, poll_s - (time.monotonic() - started)))
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self.client is not None:
            self.client.close()
            self.client = None

    def _http(self) -> httpx.Client:
        if self.client is None:
            self.client = http_client(self.settings)
        return self.client

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=max(self.settings.parallel, 1))
        return self._pool


def run_once(worker: Worker, *, check_deadlines: bool | None = None) -> Progress:
    """One round of the worker (see `Worker.run_once`)."""
    progress = Progress()
    settings = worker.settings
    now_mono = worker.clock()
    if settings.audit_signing_key is not None and (
        worker._last_checkpoint is None
        or now_mono - worker._last_checkpoint >= settings.checkpoint_every_s
    ):
        worker._last_checkpoint = now_mono
        progress.checkpoint = sign_checkpoint(worker)
    if check_deadlines is None:
        check_deadlines = now_mono - worker._last_deadline_scan >= settings.deadline_scan_every_s
    if check_deadlines:
        worker._last_deadline_scan = now_mono
        with worker.sessions() as session:
            missed = events.overdue_pending(session)
        if missed:
            with transaction(worker.sessions) as session:
                progress.overdue = events.emit_overdue(session)
        with transaction(worker.sessions) as session:
            progress.expired = offers.expire_offers(session)
    with worker.sessions() as session:
        behind, due = delivery.pending_work(session)
    if not (behind or due):
        return progress
    with transaction(worker.sessions) as session:
        if behind:
            progress.numbered = delivery.fan_out(session)
        claims = delivery.claim(
            session,
            secret_key=settings.secret_key,
            lease_s=settings.lease_s,
            per_subscription=settings.batch,
        )
    if not claims:
        return progress
    groups: dict[uuid.UUID, list[delivery.Claim]] = {}
    for claimed in claims:
        groups.setdefault(claimed.subscription_id, []).append(claimed)
    progress.backlog = any(len(group) >= settings.batch for group in groups.values())
    client = worker._http()

    def send(group: list[delivery.Claim]) -> list[delivery.Outcome]:
        """In number order, one at a time; stop at the first that fails."""
        outcomes: list[delivery.Outcome] = []
        started = time.monotonic()
        for claimed in group:
            if outcomes and time.monotonic() - started > settings.batch_window_s:
                break
            outcomes.append(attempt(client, claimed, settings))
            if not outcomes[-1].ok:
                break
        return outcomes

    batches = list(groups.values())
    if len(batches) == 1:
        results = [send(batches[0])]
    else:
        results = list(worker._executor().map(send, batches))
    attempted = [
        pair
        for group, outcomes in zip(batches, results, strict=True)
        for pair in zip(group, outcomes, strict=False)
    ]
    unattempted = [
        claimed
        for group, outcomes in zip(batches, results, strict=True)
        for claimed in group[len(outcomes) :]
    ]
    with transaction(worker.sessions) as session:
        delivery.record(session, results=attempted, schedule=settings.retry_schedule)
        delivery.release(session, claims=unattempted)
    progress.attempted = len(attempted)
    progress.delivered = sum(1 for _, outcome in attempted if outcome.ok)
    return progress


def sign_checkpoint(worker: Worker) -> int:
    """Sign the chain as it is now: into the log, and a file in the checkpoint directory."""
    settings = worker.settings
    assert settings.audit_signing_key is not None
    with worker.sessions() as session:
        checkpoint = checkpoints.current(session)
    note = checkpoints.sign(checkpoint, checkpoints.load_signing_key(settings.audit_signing_key))
    log.info("audit checkpoint at %d events:\n%s", checkpoint.size, note)
    if settings.checkpoint_dir is not None:
        checkpoints.save(note, checkpoint, settings.checkpoint_dir)
    return checkpoint.size


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def payload(claimed: delivery.Claim) -> str:
    """The body: `{"type", "timestamp", "data", "number", "cursor"}`."""
    return json.dumps(
        {
            "type": claimed.type,
            "timestamp": _rfc3339(claimed.occurred_at),
            "data": claimed.data,
            "number": claimed.number,
            "cursor": claimed.cursor,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


def signed_headers(claimed: delivery.Claim, body: str, at: datetime) -> dict[str, str]:
    """Standard Webhooks headers, signed by every secret in use (space-separated)."""
    msg_id = str(claimed.event_id)
    signatures = " ".join(Webhook(s).sign(msg_id, at, body) for s in claimed.secrets)
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
    }


def attempt(
    client: httpx.Client,
    claimed: delivery.Claim,
    settings: WorkerSettings,
    clock: Callable[[], datetime] = utcnow,
) -> delivery.Outcome:
    """POST one delivery; never raises."""
    started_at = clock()
    start = time.perf_counter()

    def outcome(
        *,
        status_code: int | None = None,
        error: str | None = None,
        retry_after_s: float | None = None,
    ) -> delivery.Outcome:
        return delivery.Outcome(
            attempted_at=started_at,
            duration_ms=(time.perf_counter() - start) * 1000,
            status_code=status_code,
            error=error,
            retry_after_s=retry_after_s,
        )

    refusal = addresses.url_refusal(claimed.url, allow_private=settings.allow_private)
    if refusal is not None:
        return outcome(error=f"refused: {refusal}")
    body = payload(claimed)
    try:
        response = client.post(
            claimed.url, content=body.encode(), headers=signed_headers(claimed, body, started_at)
        )
    except httpx.TimeoutException as error:
        return outcome(error=f"timeout ({type(error).__name__})")
    except httpx.HTTPError as error:
        return outcome(error=f"{type(error).__name__}: {error}"[:500])
    return outcome(
        status_code=response.status_code,
        retry_after_s=retry_after(response.headers.get("retry-after")),
    )


def retry_after(header: str | None) -> float | None:
    """Seconds a Retry-After header asks for (delay-seconds or an HTTP date)."""
    if header is None or not header.strip():
        return None
    value = header.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - utcnow()).total_seconds())
