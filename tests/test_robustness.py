"""Database faults answer 503, no log carries a request's values, retries are safe,
and responses say who may keep or read them."""

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from referral_api import create_app
from referral_api.db import SQLITE_BEGIN_OPTION, make_engine
from referral_api.logs import JsonFormatter
from referral_api.models import ReferralEvent

from .conftest import ON_POSTGRES, config_for, database_with_a_caseworker, requires_postgres
from .referral_helpers import CONSENT, move, referral_body, send


def problem_of(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return response.json


# -- a database that cannot be reached ------------------------------------------------------


def unreachable_url(tmp_path: Path) -> str:
    if ON_POSTGRES:
        with socket.socket() as probe:  # a port nothing listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        return f"postgresql+psycopg://postgres@127.0.0.1:{port}/nothing"
    return f"sqlite:///{tmp_path / 'no-such-dir' / 'db.sqlite3'}"


@pytest.mark.parametrize(
    ("path", "authenticated"),
    [
        ("/api/v1/organizations", False),
        ("/api/v1/services/nearest?lat=-10.17&lng=123.6", False),
        ("/api/v1/me", True),
        ("/api/v1/referrals", True),
    ],
)
def test_an_unreachable_database_is_503_with_retry_after(tmp_path, path, authenticated) -> None:
    app = create_app(config_for(unreachable_url(tmp_path)))
    headers = {"Authorization": "Bearer rk_whatever"} if authenticated else {}
    response = app.test_client().get(path, headers=headers)
    problem_of(response, 503)
    assert response.headers["Retry-After"] == "1"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer rk_whatever"}])
def test_probes_answer_whatever_the_authorization_header(tmp_path, headers) -> None:
    client = create_app(config_for(unreachable_url(tmp_path))).test_client()
    assert client.get("/healthz", headers=headers).status_code == 200
    ready = client.get("/readyz", headers=headers)
    problem_of(ready, 503)
    assert ready.headers["Retry-After"]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server that accepts connections and never says a word: a frozen database."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_a_frozen_database_makes_requests_and_readyz_fail_at_the_connect_timeout(
    silent_server,
) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{silent_server}/frozen"
    config = config_for(url)
    app = create_app(
        type(config)(**{**config.__dict__, "db_connect_timeout_s": 1.0}),
    )
    client = app.test_client()
    problem_of(client.get("/readyz"), 503)
    response = client.get("/api/v1/organizations")
    problem_of(response, 503)
    assert response.headers["Retry-After"]


@requires_postgres
def test_a_statement_over_the_timeout_is_503(database_url) -> None:
    from referral_api.problems import database_error_response

    engine = make_engine(database_url, statement_timeout_ms=100)
    app = create_app(config_for(database_url))
    try:
        with engine.connect() as connection, pytest.raises(Exception) as caught:
            connection.execute(text("SELECT pg_sleep(2)"))
        with app.test_request_context():
            response = database_error_response(caught.value)  # type: ignore[arg-type]
        assert response.status_code == 503 and response.headers["Retry-After"]
    finally:
        engine.dispose()


# -- logs carry no values -----------------------------------------------------------------


def test_no_log_carries_a_value_of_a_failing_request(
    client, session, make_caller, directory_entry, caplog
) -> None:
    """The database refuses the insert (a trigger made for the test), and on PostgreSQL
    its error message even quotes the value: no log line may carry it."""
    marker = f"MARKER{uuid.uuid4().hex}"
    if ON_POSTGRES:
        session.execute(
            text(
                "CREATE FUNCTION refuse_referral() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN RAISE EXCEPTION 'refused: %', NEW.reason; END $$"
            )
        )
        session.execute(
            text(
                "CREATE TRIGGER refuse_referral BEFORE INSERT ON referrals "
                "FOR EACH ROW EXECUTE FUNCTION refuse_referral()"
            )
        )
    else:
        session.execute(
            text(
                "CREATE TRIGGER refuse_referral BEFORE INSERT ON referrals "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        )
    sender = make_caller("caseworker")
    receiver = directory_entry()["organization"]
    body = referral_body(
        receiver.id,
        reason=f"reason {marker}",
        capacity_override=f"override {marker}",
        consent={**CONSENT, "obtained_by": f"by {marker}", "scope": f"scope {marker}"},
    )
    body["case"]["reference"] = f"R{marker}"[:100]
    body["case"]["client"]["alias"] = marker[:60]
    with caplog.at_level(logging.DEBUG):
        for name in ("sqlalchemy.engine", "sqlalchemy.pool"):
            logging.getLogger(name).setLevel(logging.DEBUG)
        try:
            response = send(client, sender, body)
        finally:
            for name in ("sqlalchemy.engine", "sqlalchemy.pool"):
                logging.getLogger(name).setLevel(logging.WARNING)
    assert response.status_code >= 400
    formatter = JsonFormatter()
    written = "\n".join(formatter.format(record) for record in caplog.records)
    assert caplog.records, "the failure was logged"
    assert marker not in written
    assert marker not in response.get_data(as_text=True)


# -- SQLite: the token's bookkeeping never fails or holds up a read -------------------------


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's write lock (PostgreSQL skips locked rows)")
def test_a_read_is_not_held_up_by_a_writer_on_sqlite(fresh_databases) -> None:
    url, engine, token = database_with_a_caseworker(fresh_databases)
    app = create_app(config_for(url))
    # Another request is writing: it holds SQLite's write lock.
    writer = engine.connect().execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
    try:
        writer.exec_driver_sql("UPDATE organizations SET name = 'RPTC Bambu Apus'")
        response = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.json
    finally:
        writer.rollback()
        writer.close()
        app.extensions["referral_api.db"].engine.dispose()
        engine.dispose()
    database = Path(url.removeprefix("sqlite:///"))
    files = database.parent.glob(database.name + "*")  # the database, its WAL and SHM
    modes = {path.name: oct(os.stat(path).st_mode & 0o777) for path in files}
    assert set(modes.values()) == {"0o600"}, modes


# -- safe retries --------------------------------------------------------------------------


def test_a_retried_transition_returns_the_first_response(
    client, session, make_caller, directory_entry
) -> None:
    sender = make_caller("caseworker")
    entry = directory_entry()
    receiver = make_caller("caseworker", organization=entry["organization"])
    rid = send(client, sender, referral_body(entry["organization"].id)).json["id"]
    key = {"Idempotency-Key": "move-1"}
    first = client.post(
        f"/api/v1/referrals/{rid}/transitions",
        json={"status": "accepted"},
        headers={**receiver.headers, "If-Match": '"1"', **key},
    )
    again = client.post(
        f"/api/v1/referrals/{rid}/transitions",
        json={"status": "accepted"},
        headers={**receiver.headers, "If-Match": '"1"', **key},
    )
    assert first.status_code == again.status_code == 200
    assert again.json == first.json and again.headers["ETag"] == '"2"'
    events = session.scalar(
        select(func.count())
        .select_from(ReferralEvent)
        .where(ReferralEvent.referral_id == uuid.UUID(rid))
    )
    assert events == 2  # created, accepted: the retry moved nothing
    other = client.post(
        f"/api/v1/referrals/{rid}/transitions",
        json={"status": "in-progress"},
        headers={**receiver.headers, "If-Match": '"2"', **key},
    )
    assert "Idempotency-Key" in problem_of(other, 422)["errors"]
    without_key = move(client, receiver, rid, "accepted", 1)
    problem_of(without_key, 412)  # a plain retry still says the referral moved on


# -- headers -------------------------------------------------------------------------------


def test_what_a_caller_is_shown_is_not_stored_by_caches(
    client, make_caller, directory_entry
) -> None:
    sender = make_caller("caseworker")
    created = send(client, sender, referral_body(directory_entry()["organization"].id))
    read = client.get(f"/api/v1/referrals/{created.json['id']}", headers=sender.headers)
    case = client.get(f"/api/v1/cases/{created.json['case_id']}", headers=sender.headers)
    for response in (created, read, case):
        assert response.headers["Cache-Control"] == "no-store"
        assert "Authorization" in response.headers["Vary"]
    assert "no-store" not in client.get("/api/v1/organizations").headers.get("Cache-Control", "")


def test_cors_opens_the_public_directory_reads_only(client, make_caller) -> None:
    origin = {"Origin": "https://mitra.example"}
    public = client.get("/api/v1/services", headers=origin)
    assert public.headers["Access-Control-Allow-Origin"] in ("*", "https://mitra.example")
    assert "X-Total-Count" in public.headers["Access-Control-Expose-Headers"]
    assert (
        "Access-Control-Allow-Origin" not in client.get("/api/v1/referrals", headers=origin).headers
    )
    preflight = client.options(
        "/api/v1/services",
        headers={
            **origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert "authorization" not in preflight.headers.get("Access-Control-Allow-Headers", "").lower()
    write = client.options(
        "/api/v1/organizations",
        headers={**origin, "Access-Control-Request-Method": "POST"},
    )
    assert "POST" not in write.headers.get("Access-Control-Allow-Methods", "")


def test_failed_authentications_are_limited_per_address(client, make_caller) -> None:
    good = make_caller("caseworker")
    bad = {"Authorization": "Bearer rk_not-a-token"}
    codes = [client.get("/api/v1/me", headers=bad).status_code for _ in range(20)]
    assert set(codes) == {401}
    refused = client.get("/api/v1/me", headers=bad)
    assert problem_of(refused, 429) and int(refused.headers["Retry-After"]) >= 1
    # Past the limit even a good token waits: the address is what is limited.
    assert client.get("/api/v1/me", headers=good.headers).status_code == 429
    other = client.get("/api/v1/me", headers=good.headers, environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert other.status_code == 200


def test_the_limit_is_shared_through_redis(database_url) -> None:
    redis = pytest.importorskip("redis")
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    config = config_for(database_url)
    shared = {
        **config.__dict__,
        "rate_limit_storage_uri": "redis://127.0.0.1:6379",
        "auth_failure_limit": "3/minute",
    }
    workers = [create_app(type(config)(**shared)).test_client() for _ in range(2)]
    address = {"REMOTE_ADDR": f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.1"}
    bad = {"Authorization": "Bearer rk_not-a-token"}
    codes = [
        workers[i % 2].get("/api/v1/me", headers=bad, environ_base=address).status_code
        for i in range(4)
    ]
    assert codes == [401, 401, 401, 429]
