"""Report figures against a brute-force computation over generated referral histories."""

import csv
import io
import math
import random
import uuid
from collections import Counter, defaultdict
from datetime import timedelta

import pytest

from referral_api.models import Case, Referral, ReferralRegion
from referral_api.models.base import utcnow

TERMINAL = {"rejected", "completed", "failed", "cancelled", "entered-in-error"}
# Each history: the final status and the milestones it passed.
HISTORIES = [
    ("requested", ()),
    ("received", ("ack",)),
    ("accepted", ("ack", "decide")),
    ("in-progress", ("ack", "decide", "start")),
    ("on-hold", ("ack", "decide", "start")),
    ("completed", ("ack", "decide", "start", "complete")),
    ("rejected", ("ack", "decide")),
    ("failed", ("ack", "decide", "start")),
    ("cancelled", ()),
    ("cancelled", ("ack",)),
    ("entered-in-error", ("ack", "decide")),
]
ACK_HOURS = {"high": 1, "medium": 6, "low": 72}
SERVICE_TYPES = ["temporary_shelter", "legal_aid", "reintegration", "medical_care"]
ROLES = ["broker", "mediator", "advocate"]
REASONS = ["no_capacity", "not_eligible", "out_of_area", "other"]


@pytest.fixture
def histories(session, make_organization):
    return make_histories(session, make_organization)


def make_histories(session, make_organization):
    """160 referrals among five organizations in two provinces, over 90 days."""
    rng = random.Random(20261122)
    orgs = [make_organization(name=f"Org NTT {i}", region_code="53.71") for i in range(3)] + [
        make_organization(name=f"Org Jabar {i}", region_code="32.73") for i in range(2)
    ]
    from referral_api.services import principals
    from referral_api.services.actors import Actor

    principal, _ = principals.create_token(
        session, actor=Actor.system(), role="caseworker", name="gen", organization_id=orgs[0].id
    )
    now = utcnow()
    made = []
    for n in range(160):
        sender, receiver = rng.sample(orgs, 2)
        status, milestones = rng.choice(HISTORIES)
        risk = rng.choice(list(ACK_HOURS))
        service_type = rng.choice(SERVICE_TYPES)
        created = now - timedelta(days=rng.uniform(0.5, 90))
        moments, t = {}, created
        for milestone in milestones:
            t = t + timedelta(minutes=rng.uniform(1, 60 * 30))
            moments[milestone] = t
        case = Case(owner_organization_id=sender.id, client_ciphertext=b"x")
        session.add(case)
        session.flush()
        referral = Referral(
            case_id=case.id,
            kind="referral",
            from_organization_id=sender.id,
            from_principal_id=principal.id,
            to_organization_id=receiver.id,
            service_type=service_type,
            risk_level=risk,
            reason="generated",
            worker_role=rng.choice(ROLES),
            consent={},
            status=status,
            status_reason=rng.choice(REASONS) if status in ("rejected", "failed") else None,
            created_at=created,
            updated_at=t,
            ack_due_at=created + timedelta(hours=ACK_HOURS[risk]),
            start_due_at=created + timedelta(days=7) if service_type == "reintegration" else None,
            acknowledged_at=moments.get("ack"),
            decided_at=moments.get("decide"),
            started_at=moments.get("start"),
            completed_at=moments.get("complete"),
            version=1 + len(milestones),
        )
        session.add(referral)
        session.flush()
        # What sending records: the regions of both parties at that moment.
        session.add_all(
            ReferralRegion(referral_id=referral.id, region_code=code)
            for code in {sender.region_code, receiver.region_code}
        )
        made.append((referral, sender, receiver))
        if n % 40 == 0:
            session.flush()
    session.flush()
    return made, now


def median(values):
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return None
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def p90(values):
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1] if ordered else None


def overdue(r, now):
    if r.status in TERMINAL:
        return False
    ack = r.acknowledged_at is None and r.ack_due_at < now
    start = r.start_due_at is not None and r.started_at is None and r.start_due_at < now
    return ack or start


KEYS = {
    "organization": lambda r, s, t: str(s.id),
    "receiving_organization": lambda r, s, t: str(t.id),
    "service_type": lambda r, s, t: r.service_type,
    "region": lambda r, s, t: t.region_code.split(".")[0],
    "worker_role": lambda r, s, t: r.worker_role,
    "risk_level": lambda r, s, t: r.risk_level,
    "month": lambda r, s, t: r.created_at.strftime("%Y-%m"),
}


def brute_force(made, now, group_by, region_prefix=None):
    groups = defaultdict(list)
    for referral, sender, receiver in made:
        if region_prefix and not (
            sender.region_code.startswith(region_prefix)
            or receiver.region_code.startswith(region_prefix)
        ):
            continue
        groups[KEYS[group_by](referral, sender, receiver)].append(referral)
    expected = {}
    for key, members in groups.items():
        live = [r for r in members if r.status != "entered-in-error"]
        accepted = sum(1 for r in live if r.decided_at and r.status != "rejected")
        rejected = sum(1 for r in live if r.status == "rejected")
        figures = {
            "total": len(live),
            "entered_in_error": len(members) - len(live),
            "counts": Counter(r.status for r in live),
            "acceptance_rate": round(accepted / (accepted + rejected), 4)
            if accepted + rejected
            else None,
            "rejection_reasons": Counter(r.status_reason for r in live if r.status == "rejected"),
            "overdue": sum(1 for r in live if overdue(r, now)),
        }
        for name, attr in (
            ("time_to_acknowledge_s", "acknowledged_at"),
            ("time_to_decide_s", "decided_at"),
            ("time_to_start_s", "started_at"),
            ("time_to_complete_s", "completed_at"),
        ):
            secs = [
                (getattr(r, attr) - r.created_at).total_seconds()
                for r in live
                if getattr(r, attr) is not None
            ]
            figures[name] = {"count": len(secs), "median": median(secs), "p90": p90(secs)}
        expected[key] = figures
    return expected


@pytest.mark.parametrize("group_by", list(KEYS))
def test_report_figures_equal_brute_force(client, make_caller, histories, group_by) -> None:
    made, now = histories
    admin = make_caller("admin")
    response = client.get(
        f"/api/v1/reports/referrals?group_by={group_by}&suppress=false", headers=admin.headers
    )
    assert response.status_code == 200, response.json
    got = {g["key"]: g for g in response.json["groups"]}
    expected = brute_force(made, now, group_by)
    assert set(got) == set(expected)
    for key, figures in expected.items():
        row = got[key]
        assert row["total"] == figures["total"], key
        assert row["entered_in_error"] == figures["entered_in_error"], key
        assert {s: n for s, n in row["counts"].items() if n} == dict(figures["counts"]), key
        assert row["acceptance_rate"] == figures["acceptance_rate"], key
        assert row["rejection_reasons"] == dict(figures["rejection_reasons"]), key
        assert row["overdue"] == figures["overdue"], key
        for name in (
            "time_to_acknowledge_s",
            "time_to_decide_s",
            "time_to_start_s",
            "time_to_complete_s",
        ):
            assert row[name] == figures[name], (key, name)
    assert sum(e["entered_in_error"] for e in expected.values()) > 0


def test_coordinator_report_and_date_range(client, make_caller, histories) -> None:
    made, now = histories
    coordinator = make_caller("coordinator", coverage_code="32")
    body = client.get(
        "/api/v1/reports/referrals?group_by=service_type", headers=coordinator.headers
    ).json
    expected = brute_force(made, now, "service_type", region_prefix="32")
    assert {g["key"] for g in body["groups"]} == set(expected)
    assert body["totals"]["total"] == sum(v["total"] for v in expected.values())
    for group in body["groups"]:  # small counts are hidden from coordinators
        assert group["total"] in (None, expected[group["key"]]["total"])
    since = now - timedelta(days=30)
    recent = client.get(
        f"/api/v1/reports/referrals?group_by=risk_level&from={since.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        headers=coordinator.headers,
    ).json
    # A coordinator's period starts on the first of the month.
    start = since.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    in_range = [(r, s, t) for r, s, t in made if r.created_at >= start]
    expected = brute_force(in_range, now, "risk_level", region_prefix="32")
    assert recent["totals"]["total"] == sum(v["total"] for v in expected.values())
    assert {g["key"] for g in recent["groups"]} == set(expected)


def test_csv_is_the_same_table(client, make_caller, histories) -> None:
    admin = make_caller("admin")
    as_json = client.get(
        "/api/v1/reports/referrals?group_by=risk_level", headers=admin.headers
    ).json
    as_csv = client.get(
        "/api/v1/reports/referrals?group_by=risk_level",
        headers={**admin.headers, "Accept": "text/csv"},
    )
    assert as_csv.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    *groups, totals = rows
    assert totals["label"] == as_json["totals"]["label"] == "All groups"
    assert [r["key"] for r in groups] == [g["key"] for g in as_json["groups"]]

    def number(text):
        return None if text == "" else float(text)

    for row, group in zip(rows, [*as_json["groups"], as_json["totals"]], strict=True):
        assert row["suppressed"] == str(group["suppressed"])
        assert number(row["total"]) == group["total"]
        assert number(row["count_completed"]) == group["counts"]["completed"]
        assert number(row["overdue"]) == group["overdue"]
        assert number(row["time_to_decide_s_median"]) == group["time_to_decide_s"]["median"]
    assert any(row["count_requested"] == "" for row in rows)  # hidden, not zero


def test_bad_report_parameters(client, make_caller) -> None:
    admin = make_caller("admin")
    for query, field in (
        ("group_by=colour", "group_by"),
        ("from=yesterday", "from"),
        ("region=99", "region"),
        ("extra=1", "extra"),
    ):
        response = client.get(f"/api/v1/reports/referrals?{query}", headers=admin.headers)
        assert response.status_code == 422, query
        assert field in response.json["errors"], (query, response.json)


def test_chain_flags_gaps(client, session, make_caller, directory_entry) -> None:
    from .referral_helpers import move, referral_body, send

    a, b = directory_entry(), directory_entry()
    sender = make_caller("caseworker", organization=a["organization"])
    receiver = make_caller("caseworker", organization=b["organization"])
    r = send(client, sender, referral_body(b["organization"].id, kind="transfer")).json
    assert move(client, receiver, r["id"], "rejected", 1, reason="no_capacity").status_code == 200
    coordinator = make_caller("coordinator", coverage_code="ID")
    chain = client.get(f"/api/v1/cases/{r['case_id']}/chain", headers=coordinator.headers).json
    assert chain["roots"][0]["gaps"] == ["rejected_without_onward_referral"]
    assert chain["gaps"] == ["no_open_referral_and_no_completion"]

    t = send(client, sender, referral_body(b["organization"].id, kind="transfer")).json
    referral = session.get(Referral, uuid.UUID(t["id"]))
    referral.ack_due_at = utcnow() - timedelta(hours=2)
    session.flush()
    chain = client.get(f"/api/v1/cases/{t['case_id']}/chain", headers=coordinator.headers).json
    assert chain["roots"][0]["gaps"] == ["transfer_not_accepted_by_deadline"]
    assert chain["gaps"] == []
