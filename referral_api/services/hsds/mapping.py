"""Our directory as HSDS 3.1 objects (plain dicts), from the views the public may see.

Every object takes the public view of the directory (`directory.view_service`,
`directory.view_location` with `Actor.public()`), so the confidentiality rules are the
directory's own: a confidential site never reaches this module's output.

HSDS wants a UUID for every object; the objects we do not store as rows (service areas,
phones, languages, capacities, the taxonomy's terms, service-at-location pairs) get a
name-based UUID (RFC 9562 version 5) derived from what they are, so an id is the same in
every response and every export.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pycountry

from ...models import Organization, Region
from ...vocabularies import NATIONAL, PILLARS, SERVICE_TYPES, Term
from .. import hours, regions
from ..directory import LocationView, ServiceView
from . import schedules

# Fixed forever: changing it changes every derived id of every published feed.
NAMESPACE = uuid.UUID("6f0b7c2e-3f1d-5d4a-9c61-2a7e1b0c9d85")
TAXONOMY_NAME = "referral-api TPPO service types"
HSDS_STATUS = {
    "active": "active",
    "inactive": "inactive",
    "temporarily_closed": "temporarily closed",
}
PILLAR_LABELS = {
    "prevention": ("Pencegahan", "Prevention"),
    "protection": ("Perlindungan", "Protection"),
    "prosecution": ("Penegakan hukum", "Prosecution"),
    "rehabilitation": ("Rehabilitasi dan reintegrasi", "Rehabilitation and reintegration"),
}
BED_UNIT = {
    "id": "",  # set below, from NAMESPACE
    "name": "bed",
    "scheme": "referral-api",
    "identifier": "bed",
}


def derived_id(*parts: object) -> str:
    """The stable UUID of an object we do not store as a row."""
    return str(uuid.uuid5(NAMESPACE, ":".join(str(part) for part in parts)))


BED_UNIT["id"] = derived_id("unit", "bed")
TAXONOMY_ID = derived_id("taxonomy", "service_types")


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def service_at_location_id(service_id: object, location_id: object) -> str:
    return derived_id("service_at_location", service_id, location_id)


# -- the taxonomy -------------------------------------------------------------------------


def taxonomy() -> dict[str, Any]:
    return {
        "id": TAXONOMY_ID,
        "name": TAXONOMY_NAME,
        "description": (
            "Jenis layanan jaringan penanganan TPPO, dikelompokkan per pilar "
            "(the service types of Indonesia's anti-trafficking network, grouped by pillar)."
        ),
        "version": "1",
    }


def term_id(code: str) -> str:
    return derived_id("taxonomy_term", code)


def _term(
    code: str, labels: tuple[str, str, str, str], parent: str | None, *, full: bool
) -> dict[str, Any]:
    name_id, name_en, description_id, description_en = labels
    term: dict[str, Any] = {
        "id": term_id(code),
        "code": code,
        "name": name_id,
        "description": description_id,
        "taxonomy": TAXONOMY_NAME,
        "taxonomy_id": TAXONOMY_ID,
        "language": "ind",
        # Profile fields: the English label and description of the same term.
        "name_en": name_en,
        "description_en": description_en,
    }
    if parent is not None:
        term["parent_id"] = term_id(parent)
    if full:
        term["taxonomy_detail"] = taxonomy()
    return term


def taxonomy_terms(*, full: bool = False) -> list[dict[str, Any]]:
    """The pillars, then the service types under them, bilingual."""
    pillars = [
        _term(p, (*PILLAR_LABELS[p], PILLAR_LABELS[p][0], PILLAR_LABELS[p][1]), None, full=full)
        for p in PILLARS
    ]
    return pillars + [_service_type_term(t, full=full) for t in SERVICE_TYPES]


def _service_type_term(t: Term, *, full: bool) -> dict[str, Any]:
    labels = (t.label_id, t.label_en, t.description_id, t.description_en)
    return _term(t.code, labels, t.pillar, full=full)


def codes_of_term(term: str) -> list[str] | None:
    """The service types a taxonomy term id stands for (a pillar: all of its types)."""
    for t in SERVICE_TYPES:
        if term_id(t.code) == term:
            return [t.code]
    for pillar in PILLARS:
        if term_id(pillar) == term:
            return [t.code for t in SERVICE_TYPES if t.pillar == pillar]
    return None


# -- organizations ------------------------------------------------------------------------


def _phones(numbers: Iterable[tuple[str, str]], **owner: str) -> list[dict[str, Any]]:
    owner_id = next(iter(owner.values()))
    return [
        {
            "id": derived_id("phone", owner_id, kind, number),
            **owner,
            "number": number,
            "type": "voice",
            "description": "Hotline" if kind == "hotline" else "Telepon (phone)",
        }
        for kind, number in numbers
    ]


def organization_phones(organization: Organization) -> list[tuple[str, str]]:
    return [("phone", n) for n in organization.phones or []] + [
        ("hotline", n) for n in organization.hotlines or []
    ]


def organization(org: Organization) -> dict[str, Any]:
    """The one-to-one fields of an organization (`organization_list`)."""
    data: dict[str, Any] = {
        "id": str(org.id),
        "name": org.name,
        "description": org.description or "",
        # Profile fields: the directory's organization type and home region.
        "organization_type": org.type,
    }
    if org.region_code:
        data["region_code"] = org.region_code
    if org.level:
        data["level"] = org.level
    if org.aliases:
        data["alternate_name"] = ", ".join(org.aliases)
    if org.email:
        data["email"] = org.email
    if org.website:
        data["website"] = org.website
    return data


def phones_of(org: Organization) -> list[dict[str, Any]]:
    """The organization's phones and hotlines."""
    return _phones(organization_phones(org), organization_id=str(org.id))


def organization_full(
    org: Organization,
    *,
    locations: list[dict[str, Any]],
    services: list[dict[str, Any]],
) -> dict[str, Any]:
    data = organization(org)
    data["phones"] = phones_of(org)
    data["locations"] = locations
    data["services"] = services
    return data


# -- locations ----------------------------------------------------------------------------


def location(view: LocationView, names: Mapping[str, Region]) -> dict[str, Any]:
    """A public site with its address; `view` must be one the public may see."""
    if view.confidential:  # the directory's view of a hidden site: never published
        raise ValueError("confidential locations are not published in HSDS")
    data: dict[str, Any] = {
        "id": str(view.id),
        "location_type": "physical",
        "organization_id": str(view.organization_id),
        "name": view.name,
    }
    if view.latitude is not None and view.longitude is not None:
        data["latitude"] = view.latitude
        data["longitude"] = view.longitude
    if view.address:
        data["addresses"] = [_address(view, names)]
    return data


def _address(view: LocationView, names: Mapping[str, Region]) -> dict[str, Any]:
    code = view.region_code
    lineage = regions.ancestors_of(code)[1:] if code else []  # without the nation
    named = [names[c].name for c in lineage if c in names]
    address: dict[str, Any] = {
        "id": derived_id("address", view.id),
        "location_id": str(view.id),
        "address_1": view.address,
        # province, regency, district: HSDS's state_province, city and region.
        "state_province": named[0] if named else "",
        "city": named[1] if len(named) > 1 else "",
        "postal_code": "",
        "country": view.country,
        "address_type": "physical",
    }
    if len(named) > 2:
        address["region"] = named[2]
    if code:
        address["region_code"] = code
    return address


# -- services -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceRecord:
    """A service as the public sees it, with what its HSDS form needs."""

    view: ServiceView
    organization: Organization
    locations: list[LocationView]  # public sites only
    hidden_regencies: list[str]  # regencies of its confidential sites
    last_modified: datetime


def service(record: ServiceRecord) -> dict[str, Any]:
    """The one-to-one fields of a service (`service_list`)."""
    view = record.view
    org = record.organization
    data: dict[str, Any] = {
        "id": str(view.id),
        "organization_id": str(view.organization_id),
        "name": view.name,
        "status": HSDS_STATUS[view.status],
        "fees_description": view.fees,
        "last_modified": stamp(record.last_modified),
    }
    optional = {
        "description": view.description,
        "eligibility_description": view.eligibility.get("notes"),
        "minimum_age": view.eligibility.get("age_min"),
        "maximum_age": view.eligibility.get("age_max"),
        "email": org.email,
        "url": org.website,
        "assured_date": org.verified_at.date().isoformat() if org.verified_at else None,
    }
    data.update({key: value for key, value in optional.items() if value is not None})
    return data


def service_minimal(record: ServiceRecord) -> dict[str, Any]:
    """What a sync needs: the id and when it changed (and the fields HSDS requires)."""
    full = service(record)
    return {key: full[key] for key in ("id", "name", "status", "last_modified")}


def service_areas(record: ServiceRecord, names: Mapping[str, Region]) -> list[dict[str, Any]]:
    """Its coverage, and where it is given only at confidential sites, their regencies
    (named at regency level only, as the directory shows such a site)."""
    codes = list(record.view.coverage)
    if not record.locations:
        codes += [
            r
            for r in record.hidden_regencies
            if not any(regions.contains(c, r) for c in codes) and r not in codes
        ]
    return [
        {
            "id": derived_id("service_area", record.view.id, code),
            "service_id": str(record.view.id),
            "name": "Indonesia" if code == NATIONAL else names[code].name,
            "extent_type": "text",
            "region_code": code,
        }
        for code in codes
    ]


def _languages(codes: Iterable[str], **owner: str) -> list[dict[str, Any]]:
    owner_id = next(iter(owner.values()))
    result = []
    for code in codes:
        language = pycountry.languages.get(**{"alpha_2" if len(code) == 2 else "alpha_3": code})
        item = {"id": derived_id("language", owner_id, code), **owner, "code": code}
        if language is not None:
            item["name"] = language.name
        result.append(item)
    return result


def _capacities(record: ServiceRecord) -> list[dict[str, Any]]:
    capacity = record.view.capacity
    # HSDS requires `available`: a count of beds we do not know is not published.
    if capacity is None or capacity["beds_available"] is None:
        return []
    updated = capacity["updated_at"] or record.view.updated_at
    item: dict[str, Any] = {
        "id": derived_id("service_capacity", record.view.id, "bed"),
        "service_id": str(record.view.id),
        "unit": dict(BED_UNIT),
        "available": capacity["beds_available"],
        "updated": stamp(updated),
    }
    if capacity["beds_total"] is not None:
        item["maximum"] = capacity["beds_total"]
    return [item]


def _attributes(record: ServiceRecord) -> list[dict[str, Any]]:
    terms = {t["code"]: t for t in taxonomy_terms()}
    return [
        {
            "id": derived_id("attribute", record.view.id, code),
            "link_id": str(record.view.id),
            "link_type": "service",
            "link_entity": "service",
            "taxonomy_term_id": term_id(code),
            "taxonomy_term": terms[code],
        }
        for code in record.view.service_types
    ]


def service_full(record: ServiceRecord, names: Mapping[str, Region]) -> dict[str, Any]:
    """A fully nested service (`service`)."""
    data = service(record)
    sid = str(record.view.id)
    data["organization"] = organization(record.organization)
    data["phones"] = _phones(organization_phones(record.organization), service_id=sid)
    data["languages"] = _languages(record.view.languages, service_id=sid)
    data["service_areas"] = service_areas(record, names)
    data["capacities"] = _capacities(record)
    data["attributes"] = _attributes(record)
    published = schedules.to_hsds(
        sid,
        schedule=record.view.schedule,
        open_24_7=record.view.open_24_7,
        hours=record.view.hours,
        zones={hours.zone_name(site.region_code, site.country) for site in record.locations},
    )
    if published:
        data["schedules"] = published
    data["service_at_locations"] = [
        service_at_location(record, site, names, full=True) for site in record.locations
    ]
    return data


def service_at_location(
    record: ServiceRecord, site: LocationView, names: Mapping[str, Region], *, full: bool
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": service_at_location_id(record.view.id, site.id),
        "service_id": str(record.view.id),
        "location_id": str(site.id),
    }
    if full:
        data["location"] = location(site, names)
    return data


def region_codes(records: Iterable[ServiceRecord]) -> set[str]:
    """Every region code the HSDS forms of these services name."""
    codes: set[str] = set()
    for record in records:
        codes.update(record.view.coverage)
        codes.update(record.hidden_regencies)
        for site in record.locations:
            if site.region_code:
                codes.update(regions.ancestors_of(site.region_code))
    return codes
