"""A place named in words: the Kemendagri gazetteer (offline), or a geocoder if configured.

The gazetteer is the regions table (provinces, regencies, districts) matched case- and
accent-insensitively, with the common prefixes understood (Kota, Kabupaten/Kab.,
Kecamatan/Kec., Provinsi/Prov., Desa/Kelurahan) and typos tolerated (rapidfuzz's
normalised Indel similarity, 0-100). A street address is for the geocoder: a Nominatim
server at `REFERRAL_API_GEOCODER_URL`, asked only when the gazetteer has no sure match,
never waited on longer than its timeout, and the gazetteer's answer used when it fails.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from geopy.adapters import URLLibAdapter
from geopy.exc import GeopyError
from geopy.geocoders import Nominatim
from rapidfuzz import fuzz, process
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import ValidationFailed
from ..models import Region

log = logging.getLogger(__name__)

# A match at least this good is the origin; below it the caller is shown candidates.
GOOD_ENOUGH = 85.0
# So good that a configured geocoder is not asked at all.
SURE = 95.0
RUNNERS_UP = 4
# A prefix that names the level (and for regencies the kind) the caller means.
_PREFIXES = {
    "daerah khusus ibukota": ("province", None),
    "daerah istimewa": ("province", None),
    "dki": ("province", None),
    "kota administrasi": ("regency", "kota"),
    "kabupaten administrasi": ("regency", "kabupaten"),
    "kota": ("regency", "kota"),
    "kabupaten": ("regency", "kabupaten"),
    "kab": ("regency", "kabupaten"),
    "kecamatan": ("district", None),
    "kec": ("district", None),
    "provinsi": ("province", None),
    "prov": ("province", None),
    # Villages are not in the gazetteer: the prefix is dropped, the name still matches.
    "desa": (None, None),
    "kelurahan": (None, None),
    "kel": (None, None),
}
# Among equal scores: a city before a regency of the same name, then the regency, the
# province, the district (a caseworker naming "Kupang" is most likely in the city).
_RANK = {("regency", "kota"): 0, ("regency", "kabupaten"): 1, ("province", None): 2}
_DISTRICT_RANK = 3
# A prefix that contradicts the place costs this much of its score.
_WRONG_LEVEL = 20.0


def normalize(text: str) -> str:
    """Lower case, no accents, words of letters and digits separated by one space."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(re.findall(r"[a-z0-9]+", plain))


def _split_prefix(words: str) -> tuple[str, tuple[str | None, str | None]]:
    """`kab kupang` -> (`kupang`, (regency, kabupaten)); no prefix: (words, (None, None))."""
    for prefix, meaning in _PREFIXES.items():  # longer prefixes first
        if words.startswith(prefix + " ") and len(words) > len(prefix) + 1:
            return words[len(prefix) + 1 :], meaning
    return words, (None, None)


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    level: str
    score: float


@dataclass(frozen=True)
class _Entry:
    code: str
    name: str
    level: str
    kind: str | None  # `kota` or `kabupaten` for a regency
    full: str  # the normalised name
    bare: str  # the normalised name without its prefix


@dataclass(frozen=True)
class Gazetteer:
    entries: list[_Entry]
    full_keys: list[str] = field(default_factory=list)
    bare_keys: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, rows: list[tuple[str, str, str]]) -> Gazetteer:
        entries = []
        for code, name, level in rows:
            full = normalize(name)
            # District names keep their words: "Kota Raja" is a kecamatan in Kupang.
            bare, (_, kind) = _split_prefix(full) if level != "district" else (full, (None, None))
            entries.append(_Entry(code, name, level, kind, full, bare))
        return cls(entries, [e.full for e in entries], [e.bare for e in entries])

    def match(self, text: str) -> list[Place]:
        """Places for `text`, best first (only those scoring 50 or more)."""
        full = normalize(text.replace(".", ". "))
        bare, (level, kind) = _split_prefix(full)
        scores: dict[int, float] = {}
        for _, score, index in process.extract(
            full, self.full_keys, scorer=fuzz.ratio, limit=None, score_cutoff=50
        ):
            scores[index] = score
        for _, score, index in process.extract(
            bare, self.bare_keys, scorer=fuzz.ratio, limit=None, score_cutoff=50
        ):
            entry = self.entries[index]
            wrong = (level is not None and level != entry.level) or (
                kind is not None and kind != entry.kind
            )
            scores[index] = max(scores.get(index, 0.0), score - (_WRONG_LEVEL if wrong else 0.0))

        def order(index: int) -> tuple[float, int, str]:
            entry = self.entries[index]
            rank = _RANK.get((entry.level, entry.kind), _DISTRICT_RANK)
            return -round(scores[index], 1), rank, entry.code

        return [
            Place(e.code, e.name, e.level, round(scores[i], 1))
            for i in sorted(scores, key=order)
            for e in (self.entries[i],)
        ]


_cache: dict[tuple[str, int], Gazetteer] = {}


def gazetteer(session: Session) -> Gazetteer:
    """The gazetteer of this database's regions (built once per database and size)."""
    levels = ("province", "regency", "district")
    count = session.scalar(select(func.count()).where(Region.level.in_(levels))) or 0
    key = (str(session.get_bind().engine.url), count)
    if key not in _cache:
        rows = session.execute(
            select(Region.code, Region.name, Region.level)
            .where(Region.level.in_(levels))
            .order_by(Region.code)
        )
        _cache.clear()
        _cache[key] = Gazetteer.of([(code, name, level) for code, name, level in rows])
    return _cache[key]


@dataclass(frozen=True)
class Geocoder:
    """A Nominatim-compatible server (Nominatim itself, or Photon's Nominatim API)."""

    url: str
    timeout_s: float

    def locate(self, text: str) -> tuple[float, float, str] | None:
        """(latitude, longitude, display name) of an address in Indonesia, or None."""
        parts = urlsplit(self.url)
        geocoder = Nominatim(
            domain=parts.netloc + parts.path.rstrip("/"),
            scheme=parts.scheme or "https",
            timeout=self.timeout_s,
            user_agent="referral-api",
            # One attempt: geopy's requests adapter retries a timeout twice, which would
            # hold the search for three timeouts.
            adapter_factory=URLLibAdapter,
        )
        try:
            found = geocoder.geocode(text, exactly_one=True, country_codes="id")
        except GeopyError as error:
            log.warning("geocoder failed (%s); using the gazetteer", type(error).__name__)
            return None
        if found is None:
            return None
        return float(found.latitude), float(found.longitude), str(found.address)


@dataclass(frozen=True)
class Resolved:
    """Where `near=` points: a gazetteer place (with runners-up) or a geocoded point."""

    place: Place | None
    alternatives: list[Place]
    point: tuple[float, float, str] | None = None


def resolve(session: Session, *, text: str, geocoder: Geocoder | None) -> Resolved:
    """Resolve a place name (or, with a geocoder, an address); 422 with candidates if none."""
    places = gazetteer(session).match(text)
    best = places[0] if places else None
    if geocoder is not None and (best is None or best.score < SURE):
        point = geocoder.locate(text)
        if point is not None:
            return Resolved(None, places[:RUNNERS_UP], point)
    if best is None or best.score < GOOD_ENOUGH:
        candidates = "; ".join(f"{p.name} ({p.level} {p.code})" for p in places[:5])
        raise ValidationFailed(
            {
                "near": f"No place in the Kemendagri gazetteer matches {text!r} well enough. "
                + (f"Candidates: {candidates}." if candidates else "No candidates.")
            }
        )
    return Resolved(best, places[1 : 1 + RUNNERS_UP])
