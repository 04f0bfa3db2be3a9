"""Results a caseworker can act on, and an origin named in words (near=)."""

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine

from referral_api.models import Region
from referral_api.models.base import utcnow

KUPANG = (-10.17, 123.60)


def nearest(client, caller=None, **query):
    response = client.get(
        "/api/v1/services/nearest",
        query_string={"limit": 50, **query},
        headers=caller.headers if caller else {},
    )
    assert response.status_code == 200, response.json
    return response.json


def test_results_carry_phones_capacity_and_approximate_distances(
    client, session, directory_entry, make_caller
) -> None:
    open_site = directory_entry(latitude=-10.16, longitude=123.60, capacity={"beds_total": 6})
    open_site["organization"].phones = ["+62380833300"]
    open_site["organization"].hotlines = ["129", "+628111129129"]
    safe = directory_entry(
        latitude=-10.14,
        longitude=123.63,
        confidential=True,
        capacity={"beds_total": 10, "beds_available": 3},
    )
    waitlist = directory_entry(
        latitude=-10.15, longitude=123.61, capacity={"status": "waitlist", "beds_total": 4}
    )
    session.flush()
    outsider = make_caller("caseworker")
    member = make_caller("caseworker", organization=safe["organization"])
    query = {"lat": KUPANG[0], "lng": KUPANG[1], "service_type": "temporary_shelter"}

    items = {i["service"]["id"]: i for i in nearest(client, outsider, **query)["items"]}
    first = items[str(open_site["service"].id)]
    assert first["organization"]["phones"] == ["+62380833300"]
    assert first["organization"]["hotlines"] == ["129", "+628111129129"]
    assert first["distance_approximate"] is False
    assert first["service"]["capacity"]["status"] is None  # beds_available not reported
    hidden = items[str(safe["service"].id)]
    assert hidden["distance_approximate"] is True
    assert hidden["service"]["capacity"]["status"] == "capacity"
    assert hidden["service"]["capacity"]["stale"] is False
    assert items[str(waitlist["service"].id)]["service"]["capacity"]["status"] == "waitlist"

    own = {i["service"]["id"]: i for i in nearest(client, member, **query)["items"]}
    assert own[str(safe["service"].id)]["distance_approximate"] is False


def test_capacity_goes_stale_and_no_beds_says_so(
    client, directory_entry, make_caller, session
) -> None:
    shelter = directory_entry(capacity={"beds_total": 5, "beds_available": 1})
    admin = make_caller("org_admin", organization=shelter["organization"])
    url = f"/api/v1/services/{shelter['service'].id}"
    with time_machine.travel(utcnow() + timedelta(hours=25), tick=False):
        stale = client.get(url).json["capacity"]
        assert stale["stale"] is True and stale["status"] == "capacity"
        full = client.patch(url, json={"capacity": {"beds_available": 0}}, headers=admin.headers)
        assert full.status_code == 200, full.json
        assert full.json["capacity"]["status"] == "no-capacity"
        assert full.json["capacity"]["stale"] is False
    refused = client.patch(url, json={"capacity": {"status": "capacity"}}, headers=admin.headers)
    assert refused.status_code == 422
    assert "capacity.status" in refused.json["errors"]


# -- near= --------------------------------------------------------------------------------


def test_near_a_city_names_the_place_and_its_runners_up(client, session, directory_entry):
    directory_entry(latitude=KUPANG[0], longitude=KUPANG[1])
    body = nearest(client, near="kupang")
    origin = body["origin"]
    kota = session.get(Region, "53.71")
    assert origin["place"]["code"] == "53.71" and origin["place"]["name"] == "Kota Kupang"
    assert (origin["latitude"], origin["longitude"]) == (kota.latitude, kota.longitude)
    assert origin["source"] == "regency_centroid"
    assert "53.01" in [p["code"] for p in origin["alternatives"]]  # Kabupaten Kupang
    assert body["items"]


@pytest.mark.parametrize(
    ("text", "code", "level"),
    [
        ("Kec. Kelapa Lima", "53.71.03", "district"),
        ("kecamatan kelapa lima", "53.71.03", "district"),
        ("KAB. KUPANG", "53.01", "regency"),
        ("Timor Tengah Selatn", "53.02", "regency"),  # misspelt
        ("Kota Batam", "21.71", "regency"),
        ("Kota Raja", "53.71.05", "district"),  # a kecamatan whose name starts with Kota
        ("Jakarta Pusat", "31.71", "regency"),
        ("Nusa Tenggara Timúr", "53", "province"),
    ],
)
def test_near_matches_names_prefixes_and_typos(client, text, code, level) -> None:
    place = nearest(client, near=text)["origin"]["place"]
    assert (place["code"], place["level"]) == (code, level)


def test_near_a_district_measures_from_its_regency(client, session) -> None:
    origin = nearest(client, near="Kec. Kelapa Lima")["origin"]
    kota = session.get(Region, "53.71")
    assert origin["source"] == "regency_centroid"
    assert (origin["latitude"], origin["longitude"]) == (kota.latitude, kota.longitude)


def test_an_ambiguous_name_answers_the_best_match_and_the_others(client) -> None:
    origin = nearest(client, near="Bandung")["origin"]
    assert origin["place"]["code"] == "32.73"  # Kota Bandung before Kabupaten Bandung
    others = [p["code"] for p in origin["alternatives"]]
    assert "32.04" in others and len(others) >= 3


@pytest.mark.parametrize("text", ["Kupangxyzzy Raya Barat", "qwxz"])
def test_no_good_match_is_422_with_candidates(client, text) -> None:
    response = client.get("/api/v1/services/nearest", query_string={"near": text})
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    message = " ".join(response.json["errors"]["near"])
    assert "gazetteer" in message
    if text.startswith("Kupang"):
        assert "Candidates:" in message and "Kupang" in message


def test_near_is_one_origin_among_others(client) -> None:
    for query, field in (
        ({"near": "kupang", "region": "53.71"}, "near"),
        ({"near": "kupang", "lat": 1, "lng": 2}, "near"),
        ({"near": "k"}, "near"),
    ):
        response = client.get("/api/v1/services/nearest", query_string=query)
        assert response.status_code == 422, query
        assert field in response.json["errors"], response.json


# -- the geocoder: a local server answering like Nominatim ---------------------------------


class Nominatim:
    """Answers /search as Nominatim does, after `delay_s`; records the queries."""

    def __init__(self, results: list[dict[str, str]], delay_s: float = 0.0) -> None:
        self.results, self.delay_s, self.queries = results, delay_s, []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                owner.queries.append({k: v[0] for k, v in parse_qs(url.query).items()})
                time.sleep(owner.delay_s)
                body = json.dumps(owner.results if url.path == "/search" else []).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (its timeout)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def geocoder_app(app) -> Iterator[object]:
    def configure(server: Nominatim, timeout_s: float = 2.0) -> None:
        config = app.config["REFERRAL_API"]
        app.config["REFERRAL_API"] = replace(
            config, geocoder_url=server.url, geocoder_timeout_s=timeout_s
        )

    yield configure


ADDRESS = "Jl. Timor Raya No. 5, Oesapa, Kupang"
FOUND = [
    {
        "place_id": 1,
        "lat": "-10.1402",
        "lon": "123.6451",
        "display_name": "Jalan Timor Raya, Oesapa, Kelapa Lima, Kota Kupang, Nusa Tenggara Timur",
        "class": "highway",
        "type": "primary",
        "importance": 0.4,
        "boundingbox": ["-10.15", "-10.13", "123.63", "123.66"],
    }
]


def test_a_street_address_goes_to_the_geocoder(client, geocoder_app) -> None:
    server = Nominatim(FOUND)
    try:
        geocoder_app(server)
        origin = nearest(client, near=ADDRESS)["origin"]
    finally:
        server.close()
    assert origin["source"] == "geocoder"
    assert (origin["latitude"], origin["longitude"]) == (-10.1402, 123.6451)
    assert origin["place"] is None
    assert server.queries[0]["q"] == ADDRESS
    assert server.queries[0]["countrycodes"] == "id"


def test_a_sure_gazetteer_match_does_not_ask_the_geocoder(client, geocoder_app) -> None:
    server = Nominatim(FOUND)
    try:
        geocoder_app(server)
        origin = nearest(client, near="Kota Kupang")["origin"]
    finally:
        server.close()
    assert origin["place"]["code"] == "53.71" and server.queries == []


@pytest.mark.parametrize(("results", "delay_s"), [([], 0.0), (FOUND, 3.0)])
def test_the_gazetteer_answers_when_the_geocoder_cannot(
    client, geocoder_app, results, delay_s
) -> None:
    """No result, or no answer within the timeout: the gazetteer's match (a typo here)."""
    server = Nominatim(results, delay_s=delay_s)
    try:
        geocoder_app(server, timeout_s=0.3)
        origin = nearest(client, near="Kupng")["origin"]
    finally:
        server.close()
    assert len(server.queries) == 1
    assert origin["source"] == "regency_centroid" and origin["place"]["code"] == "53.71"
