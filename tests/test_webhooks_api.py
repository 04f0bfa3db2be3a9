"""Webhook subscriptions through the API: who manages them, where they may point, the
secret shown once and sealed at rest, rotation, the test ping, the log, redelivery."""

import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
from sqlalchemy import select, text

from referral_api.models import AuditEvent, Event, WebhookSubscription
from referral_api.services.webhooks import addresses, subscriptions

from .event_helpers import positioned  # noqa: F401

pytestmark = pytest.mark.usefixtures("positioned")

PUBLIC_URL = "https://93.184.215.14/hooks/referrals"  # a literal public address: no DNS


def subscribe(client, caller, **body):
    body.setdefault("url", PUBLIC_URL)
    return client.post("/api/v1/webhooks", json=body, headers=caller.headers)


@pytest.fixture
def org_admin(make_caller):
    return make_caller("org_admin")


def test_create_shows_the_secret_once_and_never_again(client, session, org_admin) -> None:
    created = subscribe(client, org_admin, event_types=["referral.created"], description="CRM")
    assert created.status_code == 201, created.json
    body = created.json
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    assert body["status"] == "active" and body["event_types"] == ["referral.created"]
    assert body["owner_organization_id"] == str(org_admin.principal.organization_id)
    again = client.get(f"/api/v1/webhooks/{body['id']}", headers=org_admin.headers)
    assert again.status_code == 200 and "secret" not in again.json
    listed = client.get("/api/v1/webhooks", headers=org_admin.headers).json
    assert [w["id"] for w in listed["items"]] == [body["id"]]
    assert "secret" not in listed["items"][0]
    # At rest the secret is sealed: no column holds it, in any encoding.
    session.expire_all()
    row = session.execute(
        text("SELECT * FROM webhook_subscriptions WHERE url = :u"), {"u": PUBLIC_URL}
    ).one()
    raw = repr(tuple(row))
    assert body["secret"] not in raw and body["secret"][6:] not in raw
    subscription = session.get(WebhookSubscription, uuid.UUID(body["id"]))
    assert subscriptions.signing_secrets(
        client.application.config["REFERRAL_API"].secret_key, subscription
    ) == [body["secret"]]
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity_id == body["id"])
    ).all()
    assert actions == ["webhook.create"]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://93.184.215.14/hook", "https"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://localhost/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("https://192.168.1.10/hook", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[::1]/hook", "loopback"),
        ("https://[::ffff:10.0.0.1]/hook", "private"),
        ("https://100.100.100.200/hook", "public"),  # carrier-grade NAT (cloud metadata)
        ("https://0.0.0.0/hook", "unspecified"),
        ("https://240.0.0.1/hook", "reserved"),
        ("ftp://93.184.215.14/hook", "https"),
        ("https://user:pw@93.184.215.14/hook", "Credentials"),
        ("https://no-such-host.invalid/hook", "resolve"),
        ("https://93.184.215.14/" + "a" * 2000, "2000"),
    ],
)
def test_forbidden_urls_are_422_naming_url(client, org_admin, url, why) -> None:
    response = subscribe(client, org_admin, url=url)
    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    assert "url" in response.json["errors"]
    assert why in " ".join(response.json["errors"]["url"]), response.json


def test_a_hostname_is_checked_by_what_it_resolves_to(monkeypatch) -> None:
    """DNS decides: a public-looking name that resolves to a private address is refused."""

    def resolve(host, *args, **kwargs):
        address = {"hooks.example.org": "10.0.0.7", "ok.example.org": "93.184.215.14"}[host]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, 443))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    assert "10.0.0.7" in addresses.url_refusal("https://hooks.example.org/x", allow_private=False)
    assert addresses.url_refusal("https://ok.example.org/x", allow_private=False) is None
    assert addresses.url_refusal("http://127.0.0.1:9/x", allow_private=True) is None


def test_unknown_event_types_are_422_naming_event_types(client, org_admin) -> None:
    response = subscribe(client, org_admin, event_types=["referral.created", "referral.lost"])
    assert response.status_code == 422
    assert "referral.lost" in " ".join(response.json["errors"]["event_types"])


def test_at_most_20_per_organization(client, make_caller, org_admin) -> None:
    for _ in range(20):
        assert subscribe(client, org_admin).status_code == 201
    colleague = make_caller("org_admin", organization=org_admin.principal.organization)
    refused = subscribe(client, colleague)
    assert refused.status_code == 422
    assert "20" in " ".join(refused.json["errors"]["url"])
    assert subscribe(client, make_caller("org_admin")).status_code == 201  # another org


def test_who_manages_which_subscriptions(client, make_caller, org_admin) -> None:
    mine = subscribe(client, org_admin).json["id"]
    caseworker = make_caller("caseworker", organization=org_admin.principal.organization)
    assert subscribe(client, caseworker).status_code == 403
    assert client.get("/api/v1/webhooks", headers=caseworker.headers).status_code == 403
    other_admin = make_caller("org_admin")
    assert client.get(f"/api/v1/webhooks/{mine}", headers=other_admin.headers).status_code == 404
    assert client.delete(f"/api/v1/webhooks/{mine}", headers=other_admin.headers).status_code == 404
    colleague = make_caller("org_admin", organization=org_admin.principal.organization)
    assert client.get(f"/api/v1/webhooks/{mine}", headers=colleague.headers).status_code == 200
    coordinator = make_caller("coordinator", coverage_code="53")
    theirs = subscribe(client, coordinator).json
    assert theirs["owner_principal_id"] == str(coordinator.principal.id)
    other_coordinator = make_caller("coordinator", coverage_code="53")
    assert (
        client.get(
            f"/api/v1/webhooks/{theirs['id']}", headers=other_coordinator.headers
        ).status_code
        == 404
    )
    admin = make_caller("admin")
    everything = client.get("/api/v1/webhooks", headers=admin.headers).json
    assert {mine, theirs["id"]} <= {w["id"] for w in everything["items"]}


def test_delete_stops_and_hides_it(client, session, org_admin) -> None:
    wid = subscribe(client, org_admin).json["id"]
    assert client.delete(f"/api/v1/webhooks/{wid}", headers=org_admin.headers).status_code == 204
    assert client.get(f"/api/v1/webhooks/{wid}", headers=org_admin.headers).status_code == 404
    kept = session.get(WebhookSubscription, uuid.UUID(wid))
    assert kept.deleted_at is not None and kept.status == "disabled"


def test_rotation_returns_a_new_secret_and_keeps_the_old_one_for_the_grace_period(
    client, session, org_admin
) -> None:
    created = subscribe(client, org_admin).json
    rotated = client.post(
        f"/api/v1/webhooks/{created['id']}/rotate-secret", headers=org_admin.headers
    )
    assert rotated.status_code == 200, rotated.json
    assert rotated.json["secret"].startswith("whsec_")
    assert rotated.json["secret"] != created["secret"]
    assert rotated.json["previous_secret_expires_at"] is not None
    subscription = session.get(WebhookSubscription, uuid.UUID(created["id"]))
    session.refresh(subscription)
    key = client.application.config["REFERRAL_API"].secret_key
    assert subscriptions.signing_secrets(key, subscription) == [
        rotated.json["secret"],
        created["secret"],
    ]
    grace = subscription.previous_secret_expires_at - subscription.updated_at
    assert 23.9 * 3600 < grace.total_seconds() <= 24 * 3600


def test_test_ping_is_an_event_for_that_subscription_only(client, session, org_admin) -> None:
    wid = subscribe(client, org_admin).json["id"]
    sent = client.post(f"/api/v1/webhooks/{wid}/test", headers=org_admin.headers)
    assert sent.status_code == 202
    event = session.get(Event, uuid.UUID(sent.json["event_id"]))
    assert event.type == "webhook.test" and str(event.subscription_id) == wid
    # Never in anyone's feed.
    admin_feed = client.get("/api/v1/events", headers=org_admin.headers).json
    assert sent.json["event_id"] not in {i["id"] for i in admin_feed["items"]}


def test_deliveries_and_redeliver_validate(client, org_admin) -> None:
    wid = subscribe(client, org_admin).json["id"]
    log = client.get(f"/api/v1/webhooks/{wid}/deliveries", headers=org_admin.headers)
    assert log.status_code == 200 and log.json["items"] == []
    for body, field in (
        ({"from_number": 1, "to_number": 5}, "to_number"),
        ({"from_number": 3, "to_number": 2}, "to_number"),
        ({"from_number": 0, "to_number": 2}, "from_number"),
        ({"from_number": 1}, "to_number"),
    ):
        response = client.post(
            f"/api/v1/webhooks/{wid}/redeliver", json=body, headers=org_admin.headers
        )
        assert response.status_code == 422, body
        assert field in response.json["errors"], response.json


def test_the_worker_connects_only_to_the_address_it_checked(monkeypatch) -> None:
    """DNS rebinding: the name resolves to a public address when the URL is checked and to
    loopback a moment later. The worker's client checks the address it connects to, so
    the request never reaches the loopback server."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    real_getaddrinfo = socket.getaddrinfo
    answers = iter(["93.184.215.14", "127.0.0.1", "127.0.0.1"])

    def rebinding(host, *args, **kwargs):
        if host != "rebind.example.org":
            return real_getaddrinfo(host, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    url = f"http://rebind.example.org:{port}/hook"
    try:
        # The check at delivery time sees the public address ...
        assert addresses.resolve_public("rebind.example.org", port) == "93.184.215.14"
        # ... and the connection, resolving again, is refused rather than sent to loopback.
        guarded = httpx.Client(transport=addresses.public_only_transport(httpx.Limits()))
        with guarded, pytest.raises(httpx.ConnectError, match="loopback"):
            guarded.post(url, content=b"{}")
        assert hits == []
        # Without the guard (private addresses allowed, as in tests and the demo), it would.
        with httpx.Client(trust_env=False) as plain:
            assert plain.post(url, content=b"{}").status_code == 204
        assert hits == ["/hook"]
    finally:
        server.shutdown()
