from sqlalchemy import func, select

from referral_api.models import Region

# Indonesia's bounding box, generously: Sabang to Merauke, Miangas to Rote.
LAT_RANGE = (-11.5, 6.5)
LNG_RANGE = (94.5, 141.5)


def test_all_provinces_and_regencies_are_loaded(session) -> None:
    counts = dict(session.execute(select(Region.level, func.count()).group_by(Region.level)).all())
    assert counts["province"] == 38
    assert counts["regency"] == 514
    assert counts["country"] == 1
    assert counts["district"] > 7000


def test_every_province_and_regency_centroid_is_inside_indonesia(session) -> None:
    rows = session.execute(
        select(Region.code, Region.latitude, Region.longitude).where(
            Region.level.in_(["province", "regency"])
        )
    ).all()
    assert len(rows) == 552
    for code, lat, lng in rows:
        assert lat is not None and lng is not None, code
        assert LAT_RANGE[0] <= lat <= LAT_RANGE[1], code
        assert LNG_RANGE[0] <= lng <= LNG_RANGE[1], code


def test_list_regions_by_level_parent_and_name(client) -> None:
    provinces = client.get("/api/v1/regions?level=province&per_page=100").json
    assert provinces["total"] == 38
    ntt = client.get("/api/v1/regions?parent=53&per_page=100").json
    assert ntt["total"] == 22
    assert {r["code"] for r in ntt["items"]} >= {"53.01", "53.71"}
    found = client.get("/api/v1/regions?q=kupang&level=regency").json["items"]
    assert {r["name"] for r in found} == {"Kabupaten Kupang", "Kota Kupang"}


def test_region_with_ancestors_and_centroid(client) -> None:
    body = client.get("/api/v1/regions/53.71.01").json
    assert body["name"] == "Alak"
    assert [a["code"] for a in body["ancestors"]] == ["ID", "53", "53.71"]
    # A district has no centroid of its own: the regency's is given, and says so.
    assert body["centroid"]["level"] == "regency"
    assert body["centroid"]["code"] == "53.71"


def test_regency_without_centroid_falls_back_to_province(client, session) -> None:
    regency = session.get(Region, "53.71")
    regency.latitude = regency.longitude = None
    session.flush()
    body = client.get("/api/v1/regions/53.71").json
    province = session.get(Region, "53")
    assert body["centroid"] == {
        "latitude": province.latitude,
        "longitude": province.longitude,
        "level": "province",
        "code": "53",
    }


def test_unknown_region_is_404_and_bad_level_is_422(client) -> None:
    assert client.get("/api/v1/regions/99.99").status_code == 404
    response = client.get("/api/v1/regions?level=village")
    assert response.status_code == 422
    assert "level" in response.json["errors"]


def test_vocabularies(client) -> None:
    types = client.get("/api/v1/service-types").json["items"]
    assert len(types) == 25
    visum = next(t for t in types if t["code"] == "forensic_examination")
    assert visum["pillar"] == "prosecution"
    assert visum["label_id"] and visum["label_en"]
    assert visum["description_id"] and visum["description_en"]
    org_types = client.get("/api/v1/organization-types").json["items"]
    assert {"uptd_ppa", "witness_protection", "consular_service"} <= {t["code"] for t in org_types}
    assert len(org_types) == 17
