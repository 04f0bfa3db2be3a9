"""Importing HSDS packages: 20 planted errors all named and nothing written, idempotent
re-import, the JSON forms, the official examples, and POST /api/v1/imports (on the run's
database: SQLite, or PostgreSQL with TEST_DATABASE_URL)."""

from __future__ import annotations

import csv
import io
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy import select

from referral_api.config import DEFAULT_HSDS_DIR
from referral_api.models import Location, Organization, Service
from referral_api.schemas.hsds import check_import
from referral_api.services import directory
from referral_api.services.actors import Actor
from referral_api.services.hsds import export, loading, mapping, package, profile

from .test_hsds import requires_hsds

pytestmark = requires_hsds


def import_(session, path: Path, **options: Any) -> loading.ImportReport:
    return loading.import_package(
        session,
        actor=options.pop("actor", Actor.system()),
        package=package.read(path),
        check=check_import,
        source=options.pop("source", "test"),
        **options,
    )


def read_table(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def write_table(folder: Path, name: str, rows: list[dict[str, str]]) -> None:
    with (folder / name).open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture
def exported(session, directory_entry, tmp_path) -> tuple[Path, list[dict[str, Any]]]:
    """Eight directory entries exported, then taken out of the database again."""
    savepoint = session.begin_nested()
    entries = []
    for _ in range(8):
        entry = directory_entry(
            service_types=("temporary_shelter", "legal_aid"),
            languages=["id"],
            capacity={"beds_total": 10, "beds_available": 5},
        )
        directory.update_organization(
            session,
            actor=Actor.system(),
            organization_id=entry["organization"].id,
            data={"phones": ["+62380833300"], "hotlines": ["129"]},
        )
        entries.append({k: str(v.id) for k, v in entry.items()})
    export.export(session, path=tmp_path / "package", hsds_dir=DEFAULT_HSDS_DIR)
    savepoint.rollback()
    session.expire_all()
    return tmp_path / "package", entries


def rows_of(rows: list[dict[str, str]], column: str, value: str) -> list[dict[str, str]]:
    return [row for row in rows if row[column] == value]


def test_a_package_imports_then_reimports_changing_nothing(session, exported) -> None:
    folder, entries = exported
    assert session.get(Organization, uuid.UUID(entries[0]["organization"])) is None
    first = import_(session, folder, source="hsds:package")
    assert first.created == {"organization": 8, "location": 8, "service": 8}
    service = session.get(Service, uuid.UUID(entries[0]["service"]))
    assert service is not None and service.source == "hsds:package"
    assert service.service_types == ["legal_aid", "temporary_shelter"]
    assert (service.beds_total, service.beds_available) == (10, 5)
    assert session.get(Organization, service.organization_id).hotlines == ["129"]
    again = import_(session, folder, source="hsds:package")
    assert not again.changed and again.unchanged == first.created
    dry = import_(session, folder, source="hsds:other", dry_run=True)
    assert dry.updated == {"organization": 8, "service": 8}
    assert session.get(Service, service.id).source == "hsds:package"


def test_twenty_planted_errors_are_all_named_and_nothing_is_written(session, exported) -> None:
    folder, e = exported
    t = {name: read_table(folder, name) for name in export.TABLES.values()}
    org, loc, svc = ([x[kind] for x in e] for kind in ("organization", "location", "service"))
    by_id = {table: {row["id"]: row for row in rows} for table, rows in t.items()}
    phone0 = rows_of(t["phones.csv"], "organization_id", org[0])[0]
    phone0["number"] = "12-34"  # 1 bad phone
    by_id["organizations.csv"][org[0]]["email"] = "not-an-email"  # 2
    by_id["organizations.csv"][org[1]]["name"] = ""  # 3 required
    by_id["organizations.csv"][org[1]]["organization_type"] = "spaceship"  # 4
    by_id["services.csv"][svc[2]]["status"] = "open"  # 5
    by_id["services.csv"][svc[2]]["minimum_age"] = "abc"  # 6
    rows_of(t["languages.csv"], "service_id", svc[2])[0]["code"] = "xx1"  # 7
    rows_of(t["attributes.csv"], "link_id", svc[2])[0]["taxonomy_term_id"] = str(uuid.uuid4())  # 8
    rows_of(t["service_areas.csv"], "service_id", svc[2])[0]["region_code"] = "99.99"  # 9 region
    capacity3 = rows_of(t["service_capacity.csv"], "service_id", svc[3])[0]
    capacity3.update(available="9", maximum="3")  # 10 beds_available > beds_total
    by_id["services.csv"][svc[4]].update(minimum_age="20", maximum_age="10")  # 11
    by_id["locations.csv"][loc[5]]["latitude"] = "95"  # 12
    rows_of(t["addresses.csv"], "location_id", loc[5])[0]["region_code"] = "53.99.99"  # 13
    by_id["locations.csv"][loc[6]]["longitude"] = ""  # 14 latitude without longitude
    pair = dict(rows_of(t["service_at_location.csv"], "service_id", svc[7])[0])
    t["service_at_location.csv"].append(
        {**pair, "id": str(uuid.uuid4()), "location_id": loc[3]}
    )  # 15 a site of another organization
    rows_of(t["languages.csv"], "service_id", svc[1])[0]["service_id"] = str(uuid.uuid4())  # 16
    t["phones.csv"].append(
        {**rows_of(t["phones.csv"], "organization_id", org[7])[0], "number": "+62211234567"}
    )  # 17 duplicated id
    kilogram = str(uuid.uuid4())
    t["units.csv"].append(
        {"id": kilogram, "name": "kilogram", "scheme": "SI", "identifier": "kg", "uri": ""}
    )
    rows_of(t["service_capacity.csv"], "service_id", svc[5])[0]["unit_id"] = kilogram  # 18
    rows_of(t["service_capacity.csv"], "service_id", svc[6])[0]["available"] = "lots"  # 19
    pillar = mapping.term_id("protection")
    rows_of(t["attributes.csv"], "link_id", svc[1])[0]["taxonomy_term_id"] = pillar  # 20
    for name, rows in t.items():
        if rows:
            write_table(folder, name, rows)

    with pytest.raises(loading.ImportRefused) as refused:
        import_(session, folder)
    named = {(p.file, p.field) for p in refused.value.problems}
    assert len(refused.value.problems) == 20, "\n".join(map(str, refused.value.problems))
    assert named == {
        ("phones.csv", "number"),
        ("organizations.csv", "email"),
        ("organizations.csv", "name"),
        ("organizations.csv", "organization_type"),
        ("services.csv", "status"),
        ("services.csv", "minimum_age"),
        ("languages.csv", "code"),
        ("attributes.csv", "taxonomy_term_id"),
        ("service_areas.csv", "region_code"),
        ("service_capacity.csv", "available"),
        ("locations.csv", "latitude"),
        ("addresses.csv", "region_code"),
        ("locations.csv", "longitude"),
        ("service_at_location.csv", "location_id"),
        ("languages.csv", "service_id"),
        ("phones.csv", "id"),
        ("service_capacity.csv", "unit_id"),
    }
    rows = {str(p).split(":")[0] for p in refused.value.problems}
    assert len(rows) >= 17  # each problem at its own row (two rows carry two problems)
    for model, ids in ((Organization, org), (Location, loc), (Service, svc)):
        found = session.scalars(select(model.id).where(model.id.in_([uuid.UUID(i) for i in ids])))
        assert list(found) == []


def test_the_json_forms_import_like_the_tables(session, exported, tmp_path) -> None:
    folder, entries = exported
    import_(session, folder)
    from referral_api.services.hsds import reads

    records = [reads.get_service(session, service_id=uuid.UUID(e["service"])) for e in entries]
    names = reads.names_for(session, records)
    services = [mapping.service_full(r, names) for r in records]
    ndjson = tmp_path / "services.ndjson"
    ndjson.write_text("".join(json.dumps(s) + "\n" for s in services), encoding="utf-8")
    again = import_(session, ndjson)
    assert not again.changed
    assert again.unchanged["service"] == 8
    services[0]["name"] = "Nama baru"
    page = tmp_path / "page.json"
    page.write_text(json.dumps({"contents": services, "total_items": 8}), encoding="utf-8")
    changed = import_(session, page)
    assert changed.updated == {"service": 1}
    assert session.get(Service, uuid.UUID(entries[0]["service"])).name == "Nama baru"


def test_a_safe_house_link_survives_reimporting_an_export(
    session, directory_entry, tmp_path
) -> None:
    entry = directory_entry(confidential=True)
    export.export(session, path=tmp_path / "p", hsds_dir=DEFAULT_HSDS_DIR)
    report = import_(session, tmp_path / "p", source=None)
    service = session.get(Service, entry["service"].id)
    assert [loc.id for loc in service.locations] == [entry["location"].id]
    assert report.updated.get("location", 0) == 0


@pytest.mark.parametrize(
    ("example", "expected"),
    [
        # Each refusal is a profile rule (README "HSDS import"), or a defect of the example.
        ("csv", {"organization_type", "number", "region_code", "attributes", "latitude"}),
        ("service_full.json", {"organization_type", "number", "region_code", "unit_id"}),
        ("organization_full.json", {"organization_type", "number", "region_code", "unit_id"}),
        ("service_list.json", {"organization_type", "attributes"}),
    ],
)
def test_the_official_examples_are_refused_only_by_documented_rules(
    session, example, expected
) -> None:
    with pytest.raises(loading.ImportRefused) as refused:
        import_(session, DEFAULT_HSDS_DIR / "examples" / example)
    fields = {p.field.split(" ")[0] for p in refused.value.problems}
    assert expected <= fields
    documented = {
        "organization_type",  # profile: the directory's organization type is required
        "number",  # profile: E.164 or a short national code
        "region_code",  # profile: service areas carry a Kemendagri code
        "attributes",  # profile: a service has a service type of the profile's taxonomy
        "unit_id",  # profile: capacity is counted in beds
        "latitude",  # the example's latitude is 100
        "organization_id",  # the CSV example's location names an organization it lacks
        "service_id",  # the CSV example's capacity names a service it lacks
        "location_id",  # the CSV example's pair joins a service and another's site
    }
    assert fields <= documented, fields - documented


def test_imports_over_the_api(client, session, exported, make_caller) -> None:
    folder, entries = exported
    body = io.BytesIO()
    with zipfile.ZipFile(body, "w") as archive:
        for path in folder.iterdir():
            archive.write(path, path.name)
    admin = make_caller("admin")
    zip_headers = {**admin.headers, "Content-Type": "application/zip"}
    dry = client.post("/api/v1/imports?dry_run=true", data=body.getvalue(), headers=zip_headers)
    assert dry.status_code == 200, dry.get_json()
    assert dry.get_json()["created"]["service"] == 8 and dry.get_json()["dry_run"] is True
    assert session.get(Service, uuid.UUID(entries[0]["service"])) is None
    # as the document declares it (and a generated client sends it): raw bytes
    octets = {**admin.headers, "Content-Type": "application/octet-stream"}
    done = client.post("/api/v1/imports?source=ministry", data=body.getvalue(), headers=octets)
    assert done.status_code == 200 and done.get_json()["changed"] is True
    assert session.get(Service, uuid.UUID(entries[0]["service"])).source == "ministry"
    # an org_admin changes only its own organization's records
    own = session.get(Organization, uuid.UUID(entries[0]["organization"]))
    org_admin = make_caller("org_admin", organization=own)
    json_headers = {**org_admin.headers, "Content-Type": "application/json"}
    mine = [{"id": entries[0]["service"], "organization_id": entries[0]["organization"]}]
    theirs = [
        {**mine[0], "id": entries[1]["service"], "organization_id": entries[1]["organization"]}
    ]
    for document in (mine, theirs):
        for item in document:
            item.update(name="Layanan", status="active")
    refused = client.post("/api/v1/imports", data=json.dumps(theirs), headers=json_headers)
    assert refused.status_code == 422
    assert refused.mimetype == "application/problem+json"
    assert any("attributes" in key for key in refused.get_json()["errors"])
    caseworker = make_caller("caseworker")
    forbidden = client.post(
        "/api/v1/imports",
        data=json.dumps(mine),
        headers={**caseworker.headers, "Content-Type": "application/json"},
    )
    assert forbidden.status_code == 403
    garbage = client.post("/api/v1/imports", data=b"{", headers=json_headers)
    assert garbage.status_code == 422


WEEKDAYS = {"byday": ["MO", "TU", "WE", "TH", "FR"], "opens_at": "08:00", "closes_at": "16:00"}
SATURDAY_NIGHT = {"byday": ["SA"], "opens_at": "20:00", "closes_at": "24:00"}


def test_opening_hours_are_weekly_schedules_that_conform_and_import_back(
    client, session, directory_entry, tmp_path
) -> None:
    savepoint = session.begin_nested()
    # Kupang (53.71) keeps WITA, UTC+8
    weekly = directory_entry(schedule=[WEEKDAYS, SATURDAY_NIGHT], hours="Senin-Jumat 08-16")
    always = directory_entry(open_24_7=True)
    published = client.get(f"/api/hsds/services/{weekly['service'].id}").json
    spans = [
        (s.get("freq"), s.get("byday"), s.get("opens_at"), s.get("closes_at"), s.get("timezone"))
        for s in published["schedules"]
    ]
    assert spans == [
        ("WEEKLY", "MO,TU,WE,TH,FR", "08:00:00", "16:00:00", 8),
        ("WEEKLY", "SA", "20:00:00", "23:59:59", 8),
        (None, None, None, None, None),
    ]
    assert published["schedules"][2]["description"] == "Senin-Jumat 08-16"
    day_and_night = client.get(f"/api/hsds/services/{always['service'].id}").json["schedules"]
    assert [(s["byday"], s["opens_at"], s["closes_at"]) for s in day_and_night] == [
        ("MO,TU,WE,TH,FR,SA,SU", "00:00:00", "23:59:59")
    ]
    checker = FormatChecker()
    official, ours = (f(DEFAULT_HSDS_DIR, "service") for f in (profile.official, profile.compiled))
    for schema in (official, ours):
        validator = Draft202012Validator(schema, format_checker=checker)
        for body in (published, client.get(f"/api/hsds/services/{always['service'].id}").json):
            assert list(validator.iter_errors(body)) == []

    export.export(session, path=tmp_path / "package", hsds_dir=DEFAULT_HSDS_DIR)
    schedules_csv = read_table(tmp_path / "package", "schedules.csv")
    assert {row["byday"] for row in schedules_csv} >= {"MO,TU,WE,TH,FR", "SA"}
    savepoint.rollback()
    session.expire_all()
    import_(session, tmp_path / "package")
    back = session.get(Service, weekly["service"].id)
    assert back.schedule == [WEEKDAYS, SATURDAY_NIGHT] and not back.open_24_7
    assert back.hours == "Senin-Jumat 08-16"
    assert session.get(Service, always["service"].id).open_24_7
    assert not import_(session, tmp_path / "package").changed

    # A schedule richer than weekly hours is kept as text only; a bad day is named.
    rows = read_table(tmp_path / "package", "schedules.csv")
    mine = {row["byday"]: row for row in rows_of(rows, "service_id", str(weekly["service"].id))}
    mine["MO,TU,WE,TH,FR"].update(freq="MONTHLY", byday="1MO", description="Senin pertama")
    mine["SA"]["byday"] = "SA,XX"
    write_table(tmp_path / "package", "schedules.csv", rows)
    with pytest.raises(loading.ImportRefused) as refused:
        import_(session, tmp_path / "package")
    assert [(p.file, p.field) for p in refused.value.problems] == [("schedules.csv", "byday")]
    mine["SA"]["byday"] = "SA"
    write_table(tmp_path / "package", "schedules.csv", rows)
    import_(session, tmp_path / "package")
    session.expire_all()
    back = session.get(Service, weekly["service"].id)
    assert back.schedule == [SATURDAY_NIGHT]
    assert set(back.hours.split("; ")) == {"Senin pertama", "Senin-Jumat 08-16"}
