"""The `referral-api` command line."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import Flask

from . import create_app, migrate
from .config import Config, ConfigError
from .db import db
from .services import audit, case_keys, checkpoints, principals, retention
from .services.actors import Actor


def _load_config(*, require_secret: bool = True) -> Config:
    try:
        return Config.from_env(require_secret=require_secret)
    except ConfigError as error:
        click.echo(f"referral-api: configuration error: {error}", err=True)
        sys.exit(2)


def _app(*, require_secret: bool = True) -> Flask:
    return create_app(_load_config(require_secret=require_secret))


def _require_ready(config: Config) -> None:
    """Exit 2 with one line unless the configured database exists and is migrated: a
    command never creates an empty database of its own nor fails on a missing table."""
    try:
        migrate.check_ready(config.database_url, connect_timeout_s=config.db_connect_timeout_s)
    except migrate.DatabaseNotReady as error:
        click.echo(f"referral-api: {error}", err=True)
        sys.exit(2)


def _database_app(*, require_secret: bool = False) -> Flask:
    """The app on the configured database, once that database is known to be ready."""
    config = _load_config(require_secret=require_secret)
    _require_ready(config)
    return create_app(config)


class _Commands(click.Group):
    """The command group: a database error no command expected is one line and exit 2,
    not a traceback (its SQL and parameters are never shown)."""

    def invoke(self, ctx: click.Context) -> Any:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            return super().invoke(ctx)
        except SQLAlchemyError as error:
            click.echo(f"referral-api: database error: {migrate.one_line(error)}", err=True)
            sys.exit(2)


def _shown(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


def _ensure_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


@click.group(cls=_Commands)
@click.version_option(package_name="referral-api")
def main() -> None:
    """Referral backbone for Indonesia's anti-trafficking service network."""


# -- database -----------------------------------------------------------------------------
@main.group("db")
def db_group() -> None:
    """Schema migrations (Alembic)."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Migrate the database up to REVISION."""
    config = _load_config(require_secret=False)
    _ensure_sqlite_dir(config.database_url)
    migrate.upgrade(config.database_url, revision)
    click.echo(f"database at {revision}")


@db_group.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (`base` empties it)."""
    config = _load_config(require_secret=False)
    migrate.downgrade(config.database_url, revision)
    click.echo(f"database at {revision}")


# -- seed ---------------------------------------------------------------------------------
@main.command("seed")
@click.option("--demo", is_flag=True, help="Also load the demo directory (demo data only).")
def seed_command(demo: bool) -> None:
    """Load regions and vocabularies (idempotent); with --demo, the demo directory too."""
    from .services import seeding

    app = _database_app()
    with app.app_context(), db.unit_of_work() as session:
        report = seeding.seed(session, demo=demo)
    for line in report.lines():
        click.echo(line)


# -- tokens -------------------------------------------------------------------------------
@main.group("tokens")
def tokens_group() -> None:
    """API tokens (principals)."""


@tokens_group.command("create")
@click.option(
    "--role", required=True, type=click.Choice(["caseworker", "org_admin", "coordinator", "admin"])
)
@click.option("--name", required=True, help="Who or what holds the token.")
@click.option("--org", "organization_id", type=click.UUID, help="Organization id.")
@click.option("--coverage", "coverage_code", help="Coordinator coverage region (ID = national).")
@click.option("--expires-days", type=float, help="Days until the token expires.")
def tokens_create(
    role: str,
    name: str,
    organization_id: uuid.UUID | None,
    coverage_code: str | None,
    expires_days: float | None,
) -> None:
    """Create a principal and print its token once, alone on the last line."""
    app = _database_app()
    with app.app_context():
        token = _run_domain(
            lambda: _create_token(role, name, organization_id, coverage_code, expires_days)
        )
    click.echo(token)


def _create_token(
    role: str,
    name: str,
    organization_id: uuid.UUID | None,
    coverage_code: str | None,
    expires_days: float | None,
) -> str:
    with db.unit_of_work() as session:
        principal, token = principals.create_token(
            session,
            actor=Actor.system(),
            role=role,
            name=name,
            organization_id=organization_id,
            coverage_code=coverage_code,
            expires_days=expires_days,
        )
        click.echo(f"principal {principal.id} ({role}) created; the token is shown only once:")
    return token


@tokens_group.command("revoke")
@click.argument("principal_id", type=click.UUID)
def tokens_revoke(principal_id: uuid.UUID) -> None:
    """Revoke the token of principal PRINCIPAL_ID."""
    app = _database_app()

    def revoke() -> None:
        with db.unit_of_work() as session:
            principals.revoke_token(session, actor=Actor.system(), principal_id=principal_id)

    with app.app_context():
        _run_domain(revoke)
    click.echo(f"principal {principal_id} revoked")


def _run_domain(action: Callable[[], Any]) -> Any:
    from .errors import DomainError, ValidationFailed

    try:
        return action()
    except ValidationFailed as error:
        for field, messages in error.errors.items():
            click.echo(f"error: {field}: {' '.join(messages)}", err=True)
        sys.exit(2)
    except DomainError as error:
        click.echo(f"error: {error.detail}", err=True)
        sys.exit(1)


# -- audit --------------------------------------------------------------------------------
@main.group("audit")
def audit_group() -> None:
    """The hash-chained audit trail."""


@audit_group.command("verify")
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A signed checkpoint taken earlier: the chain must still hold it.",
)
def audit_verify(checkpoint_file: Path | None) -> None:
    """Recompute the audit chain; exit 1 naming the first broken event."""
    app = _database_app()
    checkpoint = None if checkpoint_file is None else _read_checkpoint(app, checkpoint_file)
    with app.app_context(), db.unit_of_work() as session:
        if checkpoint is None:
            verdict = audit.verify(session)
        else:
            verdict = checkpoints.verify(session, checkpoint=checkpoint)
    if verdict.ok:
        held = "" if checkpoint is None else f", holding the checkpoint at {checkpoint.size}"
        click.echo(f"audit chain intact: {verdict.checked} events checked{held}")
        return
    click.echo(
        f"audit chain BROKEN at seq {verdict.broken_seq}: {verdict.reason} "
        f"({verdict.checked} events verified before it)",
        err=True,
    )
    sys.exit(1)


def _read_checkpoint(app: Flask, path: Path) -> checkpoints.Checkpoint:
    """The checkpoint in the file, if the configured key signed it; exit otherwise."""
    configured = app.config["REFERRAL_API"].audit_signing_key
    if configured is None:
        click.echo("error: set REFERRAL_API_AUDIT_SIGNING_KEY to check a checkpoint", err=True)
        sys.exit(2)
    key = checkpoints.load_signing_key(configured).public_key()
    try:
        return checkpoints.open_note(path.read_text(), key)
    except checkpoints.CheckpointInvalid as error:
        click.echo(f"checkpoint REFUSED: {error}", err=True)
        sys.exit(1)


@audit_group.command("checkpoint")
def audit_checkpoint() -> None:
    """Print a signed checkpoint of the chain as it is now; keep it away from the database."""
    app = _database_app()
    config = app.config["REFERRAL_API"]
    if config.audit_signing_key is None:
        click.echo("error: set REFERRAL_API_AUDIT_SIGNING_KEY (see `audit keygen`)", err=True)
        sys.exit(2)
    key = checkpoints.load_signing_key(config.audit_signing_key)
    with app.app_context(), db.unit_of_work() as session:
        click.echo(checkpoints.sign(checkpoints.current(session), key), nl=False)


@audit_group.command("keygen")
def audit_keygen() -> None:
    """Print a new Ed25519 key for REFERRAL_API_AUDIT_SIGNING_KEY (and its public key)."""
    seed = checkpoints.new_signing_key()
    public = checkpoints.public_key_text(checkpoints.load_signing_key(seed).public_key())
    click.echo(f"REFERRAL_API_AUDIT_SIGNING_KEY={seed}")
    click.echo(f"# public key (give it to whoever keeps checkpoints): {public}", err=True)


# -- OpenAPI ------------------------------------------------------------------------------
@main.command("openapi")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), required=False)
def openapi_command(path: Path | None) -> None:
    """Write the OpenAPI document as YAML to PATH (default: stdout)."""
    from .openapi import render_openapi_yaml

    text = render_openapi_yaml(_app(require_secret=False))
    if path is None:
        click.echo(text, nl=False)
    else:
        path.write_text(text, encoding="utf-8")
        click.echo(f"wrote {path}")


# -- Open Referral HSDS ---------------------------------------------------------------------
@main.group("hsds")
def hsds_group() -> None:
    """Open Referral HSDS 3.1 feeds."""


@hsds_group.command("export")
@click.argument("path", type=click.Path(path_type=Path))
def hsds_export(path: Path) -> None:
    """Write the public directory to PATH (a directory, or a .zip file) as an HSDS 3.1
    tabular data package, then check it with frictionless (exit 1 naming each problem)."""
    from .services.hsds import export

    app = _app(require_secret=False)
    hsds_dir = app.config["REFERRAL_API"].hsds_dir
    with app.app_context(), db.unit_of_work() as session:
        report = _run_domain(lambda: export.export(session, path=path, hsds_dir=hsds_dir))
    for table, count in report.rows.items():
        click.echo(f"{export.TABLES[table]}: {count} rows")
    problems = export.check_package(path)
    for problem in problems:
        click.echo(f"invalid: {problem}", err=True)
    if problems:
        sys.exit(1)
    click.echo(f"wrote {path} (valid by frictionless)")


@hsds_group.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check everything, write nothing.")
@click.option("--source", help="Recorded as the entries' source (default: hsds:<file name>).")
def hsds_import(path: Path, dry_run: bool, source: str | None) -> None:
    """Load an HSDS package (a directory or .zip of CSV files, or JSON / ndjson of
    services or organizations) into the directory, all or nothing; exit 2 naming every
    problem by file, row and field."""
    from rich.progress import Progress

    from .schemas.hsds import check_import
    from .services.hsds import loading, package

    app = _app(require_secret=False)
    read = _run_domain(lambda: package.read(path))
    with Progress(transient=True) as bar:
        task = bar.add_task("importing", total=read.size)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            with app.app_context(), db.unit_of_work() as session:
                report = loading.import_package(
                    session,
                    actor=Actor.system(),
                    package=read,
                    check=check_import,
                    source=source or f"hsds:{path.name}",
                    dry_run=dry_run,
                    progress=advance,
                )
        except loading.ImportRefused as refused:
            for problem in refused.problems:
                click.echo(f"error: {problem}", err=True)
            click.echo(f"refused: {len(refused.problems)} problem(s); nothing written", err=True)
            sys.exit(2)
    for outcome in ("created", "updated", "unchanged"):
        for kind, count in sorted(getattr(report, outcome).items()):
            click.echo(f"{outcome} {count} {kind}(s)")
    if dry_run:
        click.echo("dry run: nothing written")
    elif not report.changed:
        click.echo("nothing to do: everything was already in the directory")


@hsds_group.command("validate")
@click.argument("url")
@click.option(
    "--official-only", is_flag=True, help="Check the official 3.1 schemas, not the profile's."
)
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds a request.")
def hsds_validate(url: str, official_only: bool, timeout: float) -> None:
    """Check the HSDS feed at URL (its root, e.g. https://host/api/hsds) for conformance.

    Fetches the first, a middle and the last page of each list endpoint and every item
    they list, and checks each against the official compiled HSDS 3.1 schemas and the
    Indonesian profile's. Exit 0 when all conform, 1 naming every finding.
    """
    import httpx

    from .errors import NotFound
    from .services.hsds import conformance, profile

    config = _load_config(require_secret=False)
    try:
        profile.require_folder(config.hsds_dir)
    except NotFound as error:
        click.echo(f"referral-api: {error}", err=True)
        sys.exit(2)
    with httpx.Client(timeout=timeout, follow_redirects=True) as client:
        report = conformance.check_feed(
            client, url, hsds_dir=config.hsds_dir, with_profile=not official_only
        )
    for finding in report.findings:
        click.echo(str(finding))
    for skipped in report.skipped:
        click.echo(f"not offered (optional): {skipped}")
    verdict = "conforms" if report.ok else f"{len(report.findings)} finding(s)"
    click.echo(f"{report.responses} responses, {report.objects} objects checked: {verdict}")
    sys.exit(0 if report.ok else 1)


# -- serving ------------------------------------------------------------------------------
@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    # Two per core and one: a worker waiting on the database leaves its core to another
    # (measured: 5 x 4 gave 1.30x the referrals/s of 2 x 8 on this 2-core machine).
    default=2 * (os.cpu_count() or 1) + 1,
    show_default=True,
    type=click.IntRange(min=1),
    envvar="REFERRAL_API_WORKERS",
    help="Worker processes (env REFERRAL_API_WORKERS).",
)
@click.option(
    "--threads",
    default=4,
    show_default=True,
    type=click.IntRange(min=1),
    envvar="REFERRAL_API_THREADS",
    help="Request threads per worker (env REFERRAL_API_THREADS).",
)
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Run the production server (granian; timeouts from the environment, see README)."""
    from .server import PortInUse
    from .server import serve as run_server

    config = _load_config(require_secret=True)
    _require_ready(config)
    try:
        run_server(config, host=host, port=port, workers=workers, threads=threads)
    except PortInUse as error:
        click.echo(f"referral-api: cannot serve: {error}", err=True)
        sys.exit(1)


# -- client data lifecycle ----------------------------------------------------------------
@main.group("keys")
def keys_group() -> None:
    """The per-case data keys and the master key that wraps them."""


@keys_group.command("migrate")
@click.option("--batch-size", default=case_keys.DEFAULT_BATCH, show_default=True, type=int)
def keys_migrate(batch_size: int) -> None:
    """Give every case sealed with the master key a data key of its own (the data step of
    migration 20261129_0009; safe to interrupt and run again)."""
    app = _app()
    secret = app.config["REFERRAL_API"].secret_key
    total = 0
    with app.app_context():
        while True:
            with db.unit_of_work() as session:
                done = case_keys.migrate_batch(session, secret_key=secret, limit=batch_size)
            if not done:
                break
            total += done
            click.echo(f"resealed {total} case(s) with their own data key")
    click.echo(f"keys migrate: {total} case(s) resealed; none left under the master key")


@keys_group.command("rotate")
@click.option(
    "--new-secret-env",
    "new_secret_env",
    required=True,
    metavar="VAR",
    help="The environment variable that holds the new master secret.",
)
@click.option("--batch-size", default=case_keys.DEFAULT_BATCH, show_default=True, type=int)
def keys_rotate(new_secret_env: str, batch_size: int) -> None:
    """Rewrap every data key (and reseal webhook secrets) under the new master secret in
    VAR, leaving profiles untouched; safe to interrupt and run again. Then restart the
    service with REFERRAL_API_SECRET_KEY set to the new secret."""
    app = _app()
    old = app.config["REFERRAL_API"].secret_key
    new = os.environ.get(new_secret_env, "").strip()
    if len(new) < 32:
        click.echo(f"error: {new_secret_env} must hold a secret of 32 characters or more", err=True)
        sys.exit(2)
    if new == old:
        click.echo(f"error: {new_secret_env} holds the current secret", err=True)
        sys.exit(2)
    with app.app_context():
        with db.unit_of_work() as session:
            left = case_keys.counts(session, old_secret=old, new_secret=new)
        if left.master_sealed or left.by_neither:
            click.echo(
                f"error: {left.master_sealed} case(s) are still sealed with the master key "
                f"(run `referral-api keys migrate` first) and {left.by_neither} are wrapped "
                "by neither secret",
                err=True,
            )
            sys.exit(1)
        total = 0
        while True:
            with db.unit_of_work() as session:
                done = case_keys.rewrap_batch(
                    session, old_secret=old, new_secret=new, limit=batch_size
                )
            if not done:
                break
            total += done
            click.echo(f"rewrapped {total} of {left.by_old} data key(s)")
        with db.unit_of_work() as session:
            webhooks = case_keys.reseal_webhook_secrets(session, old_secret=old, new_secret=new)
            after = case_keys.counts(session, old_secret=old, new_secret=new)
    click.echo(
        f"keys rotate: {total} data key(s) rewrapped in this run, {after.by_new} now under "
        f"the new secret, {after.by_old} left; {webhooks} webhook secret(s) resealed. "
        "Restart the service with REFERRAL_API_SECRET_KEY set to the new secret."
    )


@main.group("retention")
def retention_group() -> None:
    """Retention of client profiles (REFERRAL_API_RETENTION_DAYS after closure)."""


@retention_group.command("purge")
@click.option("--dry-run", is_flag=True, help="List the cases due, destroy nothing.")
def retention_purge(dry_run: bool) -> None:
    """Destroy the data key and ciphertext of every case closed longer than the retention
    period (crypto-shredding); referrals, events and audit history stay."""
    from .db import truncate_sqlite_wal
    from .models.base import utcnow

    app = _app()
    days = app.config["REFERRAL_API"].retention_days
    with app.app_context():
        with db.unit_of_work() as session:
            if dry_run:
                cases = retention.due(session, now=utcnow(), retention_days=days)
            else:
                cases = retention.purge(session, now=utcnow(), retention_days=days)
        if not dry_run:
            truncate_sqlite_wal(db.engine)
    for case_id in cases:
        click.echo(f"{'due' if dry_run else 'purged'} {case_id}")
    verb = "due for purge" if dry_run else "purged"
    click.echo(f"retention purge: {len(cases)} case(s) {verb} (closed over {days:g} days ago)")


# -- webhooks -----------------------------------------------------------------------------
@main.command("worker")
@click.option(
    "--poll",
    "poll_s",
    default=0.1,
    show_default=True,
    type=float,
    help="Seconds an idle worker waits before looking for work again.",
)
@click.option("--once", is_flag=True, help="Do one round, then exit.")
def worker_command(poll_s: float, once: bool) -> None:
    """Deliver webhooks, emit overdue events, expire shelter offers and, with an audit
    signing key, sign a checkpoint every REFERRAL_API_CHECKPOINT_MINUTES, until stopped
    (SIGINT/SIGTERM)."""
    import signal
    import threading

    from .db import make_engine
    from .worker import Worker, WorkerSettings

    config = _load_config(require_secret=True)
    _require_ready(config)
    engine = make_engine(config.database_url)
    worker = Worker.for_engine(engine, WorkerSettings.from_config(config))
    if once:
        progress = worker.run_once(check_deadlines=True)
        worker.close()
        click.echo(
            f"numbered {progress.numbered}, attempted {progress.attempted}, "
            f"delivered {progress.delivered}, overdue events {progress.overdue}, "
            f"offer referrals expired {progress.expired}"
            + ("" if progress.checkpoint is None else f", checkpoint at {progress.checkpoint}")
        )
        return
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(f"webhook worker on {engine.url.render_as_string(hide_password=True)}")
    worker.run(stop, poll_s=poll_s)
    engine.dispose()


def _start_demo_worker(config: Config) -> None:
    """The demo's webhook worker, in a daemon thread beside the server."""
    import threading

    from .db import make_engine
    from .worker import Worker, WorkerSettings

    worker = Worker.for_engine(make_engine(config.database_url), WorkerSettings.from_config(config))
    threading.Thread(target=worker.run, name="webhook-worker", daemon=True).start()


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Prepare the database and tokens, then exit.")
def demo(host: str, port: int, no_serve: bool) -> None:
    """Migrate and seed a demo database, print a token per role, and serve it."""
    from .services import seeding

    env = dict(os.environ)
    # The demo's receivers run on this machine (tests and demo only, DESIGN.md).
    env.setdefault("REFERRAL_API_WEBHOOK_ALLOW_PRIVATE", "true")
    try:
        config = Config.from_env(env, require_secret=False)
    except ConfigError as error:
        click.echo(f"referral-api: configuration error: {error}", err=True)
        sys.exit(2)
    # The same database every other command uses (DATABASE_URL, or the default file), so
    # that `tokens create` or `audit verify` after the demo work on what it printed.
    _ensure_sqlite_dir(config.database_url)
    migrate.upgrade(config.database_url)
    app = create_app(config)
    with app.app_context(), db.unit_of_work() as session:
        real = seeding.real_organizations(session)
        if real:
            click.echo(
                f"referral-api: the database at {_shown(config.database_url)} holds {real} "
                "organizations that are not demo data; set DATABASE_URL to another database "
                "for the demo",
                err=True,
            )
            sys.exit(2)
        seeding.seed(session, demo=True)
        tokens = seeding.demo_tokens(session)
    click.echo(f"demo database: {_shown(config.database_url)}")
    click.echo("DEMO DATA ONLY — the demo directory must be verified before operational use.")
    click.echo("every other referral-api command in this directory uses this database")
    for token in tokens:
        organization = (
            f"organization {token.organization_id} ({token.organization_name})"
            if token.organization_id
            else "no organization"
        )
        click.echo(f"{token.role:<12} {token.who}; {organization}: {token.token}")
    if no_serve:
        return
    _start_demo_worker(config)
    click.echo("webhook worker running in the background (webhooks to local URLs allowed)")
    click.echo(f"serving on http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    app.run(host=host, port=port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
