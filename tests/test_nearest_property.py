"""Nearest search equals a brute-force geodesic top-k on random directories."""

import uuid

import pytest
from geopy.distance import geodesic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from referral_api.models import (
    Location,
    Organization,
    Service,
    ServiceCoverage,
    ServiceTypeAssignment,
)
from referral_api.models.base import utcnow
from referral_api.services import search, search_index
from referral_api.services.actors import Actor

# Far-apart anchors: (lat, lng, region code or None, country).
ANCHORS = [
    (5.55, 95.32, "11.71", "ID"),  # Banda Aceh
    (-2.53, 140.72, "91.71", "ID"),  # Jayapura
    (-10.18, 123.61, "53.71", "ID"),  # Kupang
    (-6.18, 106.83, "31.71", "ID"),  # Jakarta
    (3.14, 101.69, None, "MY"),  # Kuala Lumpur
    (22.32, 114.17, None, "HK"),  # Hong Kong
    (24.71, 46.68, None, "SA"),  # Riyadh
]
TYPES = ["temporary_shelter", "legal_aid", "medical_care"]

site = st.tuples(
    st.sampled_from(ANCHORS),
    st.floats(-0.6, 0.6),
    st.floats(-0.6, 0.6),
    st.booleans(),
    st.lists(st.sampled_from(TYPES), min_size=1, max_size=2, unique=True),
    st.one_of(st.none(), st.integers(0, 17)),
    st.sampled_from([[], ["female"], ["male"]]),
    st.one_of(st.none(), st.integers(0, 3)),
)
query = st.tuples(
    st.one_of(
        st.tuples(st.sampled_from(ANCHORS), st.floats(-0.7, 0.7), st.floats(-0.7, 0.7)).map(
            lambda a: (a[0][0] + a[1], a[0][1] + a[2])
        ),
        st.tuples(st.floats(-15, 30), st.floats(40, 145)),
    ),
    st.integers(1, 12),
    st.one_of(st.none(), st.floats(1, 2000)),
    st.one_of(st.none(), st.sampled_from(TYPES)),
    st.one_of(st.none(), st.integers(0, 30)),
    st.booleans(),
)


def build(session, sites) -> Organization:
    owner, services = None, []
    for anchor, dlat, dlng, confidential, types, age_max, genders, beds in sites:
        org = Organization(name=f"Org {uuid.uuid4().hex[:6]}", type="ngo", region_code="31.71")
        session.add(org)
        session.flush()
        owner = owner or org
        location = Location(
            organization_id=org.id,
            name="Site",
            region_code=anchor[2],
            country=anchor[3],
            latitude=anchor[0] + dlat,
            longitude=anchor[1] + dlng,
            confidential=confidential and anchor[2] is not None,
        )
        search_index.mask_location(session, location)
        service = Service(
            organization_id=org.id,
            name="Service",
            age_max=age_max,
            genders=genders,
            languages=[],
            beds_total=None if beds is None else 3,
            beds_available=beds,
            type_rows=[ServiceTypeAssignment(service_type=t) for t in types],
            coverage_rows=[ServiceCoverage(region_code="ID")],
        )
        service.locations = [location]
        session.add_all([location, service])
        services.append(service)
    session.flush()
    search_index.reindex(session, service_ids=[s.id for s in services])
    return owner


def brute_force(session, actor, origin, filters, k, radius_km):
    hits = []
    rows = session.execute(select(Location, Service).join(Service.locations)).all()
    for location, service in rows:
        if filters.service_types and not set(filters.service_types) & set(service.service_types):
            continue
        if (
            filters.age is not None
            and service.age_max is not None
            and filters.age > service.age_max
        ):
            continue
        if filters.has_capacity and not (service.beds_available or 0) > 0:
            continue
        if actor.is_admin:
            point = (location.latitude, location.longitude)
        elif location.confidential and not actor.is_member_of(location.organization_id):
            if not actor.is_authenticated:
                continue
            point = (location.masked_latitude, location.masked_longitude)
        else:
            point = (location.latitude, location.longitude)
        if point[0] is None:
            continue
        distance = geodesic((origin.latitude, origin.longitude), point).km
        if radius_km is not None and distance > radius_km:
            continue
        hits.append((distance, str(location.id), str(service.id)))
    hits.sort()
    return [(round(d, 1), loc, svc) for d, loc, svc in hits[:k]]


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sites=st.lists(site, min_size=1, max_size=25),
    q=query,
    who=st.sampled_from(["admin", "public", "outsider", "member"]),
)
def test_nearest_equals_brute_force(session, sites, q, who) -> None:
    (lat, lng), k, radius_km, service_type, age, has_capacity = q
    with session.begin_nested() as savepoint:
        owner = build(session, sites)
        actor = {
            "admin": Actor(uuid.uuid4(), None, "admin"),
            "public": Actor.public(),
            "outsider": Actor(uuid.uuid4(), uuid.uuid4(), "caseworker"),
            "member": Actor(uuid.uuid4(), owner.id, "caseworker"),
        }[who]
        origin = search.Origin(lat, lng, "point")
        filters = search.Filters(
            service_types=[service_type] if service_type else [],
            age=age,
            has_capacity=has_capacity,
        )
        result = search.nearest(
            session,
            actor=actor,
            origin=origin,
            filters=filters,
            limit=k,
            radius_km=radius_km,
            at=utcnow(),
            stale_before=utcnow(),
        )
        got = [(i.distance_km, str(i.location.id), str(i.service.id)) for i in result.items]
        assert got == brute_force(session, actor, origin, filters, k, radius_km)
        savepoint.rollback()


@settings(max_examples=500, deadline=None)
@given(
    lat=st.floats(-70, 70),
    lng=st.floats(-180, 180),
    bearing=st.floats(0, 360),
    radius=st.floats(0.1, 5000),
    fraction=st.floats(0, 1),
)
def test_bounding_box_contains_every_point_within_the_radius(
    lat, lng, bearing, radius, fraction
) -> None:
    origin = search.Origin(lat, lng, "point")
    box = search.bounding_box(origin, radius)
    point = geodesic(kilometers=radius * fraction).destination((lat, lng), bearing)
    if box is not None:
        assert box[0] <= point.latitude <= box[1]
        assert box[2] <= point.longitude <= box[3]


@settings(max_examples=500, deadline=None)
@given(
    a=st.tuples(st.floats(-89, 89), st.floats(-180, 180)),
    b=st.tuples(st.floats(-89, 89), st.floats(-180, 180)),
)
def test_geodesic_is_geopys(a, b) -> None:
    assert search.geodesic_km(*a, *b) == pytest.approx(geodesic(a, b).km, rel=1e-12, abs=1e-9)


@settings(max_examples=500, deadline=None)
@given(
    lat=st.floats(-60, 60),
    lng=st.floats(-170, 170),
    radius=st.floats(0.1, 3000),
    u=st.floats(0, 1),
    v=st.floats(0, 1),
)
def test_cell_ranges_cover_the_box(lat, lng, radius, u, v) -> None:
    box = search.bounding_box(search.Origin(lat, lng, "point"), radius)
    if box is None:
        return
    point_lat = box[0] + u * (box[1] - box[0])
    point_lng = box[2] + v * (box[3] - box[2])
    row, col = search_index.cell_of(point_lat, point_lng)
    rows, first, last = search_index.box_cells(box)
    assert row in rows
    assert first <= col <= last
