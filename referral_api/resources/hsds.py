"""Open Referral HSDS 3.1: the public, read-only directory feed and its profile."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from flask import Response, current_app, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from ..db import db
from ..schemas.hsds import (
    HsdsMetaSchema,
    HsdsObjectSchema,
    HsdsPageSchema,
    HsdsQueryArgsSchema,
    HsdsTaxonomyArgsSchema,
)
from ..services.hsds import mapping, profile, reads
from ..services.pagination import Page
from .common import query_args

blp = Blueprint(
    "hsds",
    __name__,
    url_prefix="/api/hsds",
    description="Open Referral HSDS 3.1 feed of the public directory (Indonesian profile); "
    "confidential sites never appear.",
)
NDJSON = "application/x-ndjson"
# `format=ndjson` answers a list as NDJSON: contract.py declares it beside the JSON.
SERVED_AS_NDJSON = {"x-also-served-as": [NDJSON]}


def _hsds_dir() -> Path:
    hsds_dir: Path = current_app.config["REFERRAL_API"].hsds_dir
    return hsds_dir


def _query(args: dict[str, Any]) -> reads.Query:
    names = ("search", "taxonomy_term_id", "taxonomy_id", "organization_id", "modified_after")
    query = reads.Query(**{n: args[n] for n in names if n in args})
    if args["format"] == "ndjson":
        return reads.Query(**{**query.__dict__, "page": 1, "per_page": reads.EVERYTHING})
    return reads.Query(**{**query.__dict__, "page": args["page"], "per_page": args["per_page"]})


def _page(page: Page[Any], args: dict[str, Any], item: Callable[[Any], Any]) -> Any:
    """The HSDS `Page` envelope, or with `format=ndjson` every item on its own line."""
    contents = [item(x) for x in page.items]
    if args["format"] == "ndjson":
        return _ndjson(contents)
    return {
        "total_items": page.total,
        "total_pages": page.pages,
        "page_number": page.page,
        "size": len(contents),
        "first_page": page.page == 1,
        "last_page": page.page >= page.pages,
        "empty": page.total == 0,
        "contents": contents,
    }


def _ndjson(items: Iterable[dict[str, Any]]) -> Response:
    lines = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    return Response(lines, mimetype=NDJSON)


# HSDS clients ask for `{base}/`; OpenAPI paths end without a slash: both are served.
@blp.route("", strict_slashes=False)
class HsdsRoot(MethodView):
    @blp.response(200, HsdsMetaSchema)
    def get(self) -> dict[str, Any]:
        """What this HSDS API is: its version, profile and API description."""
        return {
            "version": "3.1",
            "profile": url_for("hsds.HsdsProfile", _external=True),
            "openapi_url": url_for("api-docs.openapi_json", _external=True),
            "schemas_url": url_for("hsds.HsdsSchemas", _external=True),
            "description": (
                "The public directory of Indonesia's anti-trafficking (TPPO) service network "
                "as Open Referral HSDS 3.1, Indonesian profile: Kemendagri region codes, a "
                "bilingual service taxonomy, capacity in beds. Confidential sites (safe "
                "houses) are never published."
            ),
            "publisher": {"name": "referral-api", "url": url_for("hsds.HsdsRoot", _external=True)},
        }


@blp.route("/services")
class HsdsServices(MethodView):
    @query_args(blp, HsdsQueryArgsSchema)
    @blp.response(200, HsdsPageSchema)
    @blp.doc(**SERVED_AS_NDJSON)
    def get(self, args: dict[str, Any]) -> Any:
        """Services, one page (`full`: nested; `minimal`: for a sync with `modified_after`)."""
        page = reads.list_services(db.session, query=_query(args))
        if args["minimal"]:
            return _page(page, args, mapping.service_minimal)
        if args["full"]:
            names = reads.names_for(db.session, page.items)
            return _page(page, args, lambda record: mapping.service_full(record, names))
        return _page(page, args, mapping.service)


@blp.route("/services/<uuid:service_id>")
class HsdsServicesById(MethodView):
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, HsdsObjectSchema)
    def get(self, service_id: uuid.UUID) -> dict[str, Any]:
        """One service, fully nested."""
        record = reads.get_service(db.session, service_id=service_id)
        return mapping.service_full(record, reads.names_for(db.session, [record]))


@blp.route("/organizations")
class HsdsOrganizations(MethodView):
    @query_args(blp, HsdsQueryArgsSchema)
    @blp.response(200, HsdsPageSchema)
    @blp.doc(**SERVED_AS_NDJSON)
    def get(self, args: dict[str, Any]) -> Any:
        """Organizations, one page."""
        page = reads.list_organizations(db.session, query=_query(args))
        if args["full"]:
            return _page(
                page,
                args,
                lambda org: reads.organization_full(db.session, organization_id=org.id),
            )
        return _page(page, args, mapping.organization)


@blp.route("/organizations/<uuid:organization_id>")
class HsdsOrganizationsById(MethodView):
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, HsdsObjectSchema)
    def get(self, organization_id: uuid.UUID) -> dict[str, Any]:
        """One organization with its public sites and its services."""
        return reads.organization_full(db.session, organization_id=organization_id)


@blp.route("/service_at_locations")
class HsdsServiceAtLocations(MethodView):
    @query_args(blp, HsdsQueryArgsSchema)
    @blp.response(200, HsdsPageSchema)
    @blp.doc(**SERVED_AS_NDJSON)
    def get(self, args: dict[str, Any]) -> Any:
        """Services at their public sites, one page (confidential sites are not listed)."""
        page = reads.list_service_at_locations(db.session, query=_query(args))
        full = args["full"]
        names = reads.names_for(db.session, [s.service for s in page.items]) if full else {}
        return _page(
            page,
            args,
            lambda s: mapping.service_at_location(s.service, s.site, names, full=full),
        )


@blp.route("/service_at_locations/<uuid:sal_id>")
class HsdsServiceAtLocationsById(MethodView):
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, HsdsObjectSchema)
    def get(self, sal_id: uuid.UUID) -> dict[str, Any]:
        """One service at a public site, with the site."""
        s = reads.get_service_at_location(db.session, sal_id=sal_id)
        names = reads.names_for(db.session, [s.service])
        return mapping.service_at_location(s.service, s.site, names, full=True)


@blp.route("/taxonomies")
class HsdsTaxonomies(MethodView):
    @query_args(blp, HsdsTaxonomyArgsSchema)
    @blp.response(200, HsdsPageSchema)
    @blp.doc(**SERVED_AS_NDJSON)
    def get(self, args: dict[str, Any]) -> Any:
        """The taxonomies: one, the service types of the network."""
        items = reads.filter_terms(
            [mapping.taxonomy()], search=args.get("search"), taxonomy_id=None
        )
        return _page(_fixed_page(items, args), args, dict)


@blp.route("/taxonomies/<uuid:taxonomy_id>")
class HsdsTaxonomiesById(MethodView):
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, HsdsObjectSchema)
    def get(self, taxonomy_id: uuid.UUID) -> dict[str, Any]:
        """One taxonomy."""
        return reads.find([mapping.taxonomy()], taxonomy_id, "Taxonomy")


@blp.route("/taxonomy_terms")
class HsdsTaxonomyTerms(MethodView):
    @query_args(blp, HsdsTaxonomyArgsSchema)
    @blp.response(200, HsdsPageSchema)
    @blp.doc(**SERVED_AS_NDJSON)
    def get(self, args: dict[str, Any]) -> Any:
        """The taxonomy's terms: the four pillars and the service types under them."""
        items = reads.filter_terms(
            mapping.taxonomy_terms(), search=args.get("search"), taxonomy_id=args.get("taxonomy_id")
        )
        return _page(_fixed_page(items, args), args, dict)


@blp.route("/taxonomy_terms/<uuid:term_id>")
class HsdsTaxonomyTermsById(MethodView):
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, HsdsObjectSchema)
    def get(self, term_id: uuid.UUID) -> dict[str, Any]:
        """One taxonomy term, with its taxonomy."""
        return reads.find(mapping.taxonomy_terms(full=True), term_id, "Taxonomy term")


def _fixed_page(items: list[dict[str, Any]], args: dict[str, Any]) -> Page[dict[str, Any]]:
    if args["format"] == "ndjson":
        return Page(items, 1, max(1, len(items)), len(items))
    start = (args["page"] - 1) * args["per_page"]
    return Page(items[start : start + args["per_page"]], args["page"], args["per_page"], len(items))


@blp.route("/profile", strict_slashes=False)
class HsdsProfile(MethodView):
    @blp.response(200, HsdsObjectSchema)
    def get(self) -> dict[str, Any]:
        """The Indonesian profile: its RFC 7386 merge patches over the official schemas."""
        return {
            "name": "referral-api Indonesian anti-trafficking profile of HSDS 3.1",
            "patches": {
                name: url_for("hsds.HsdsProfilePatch", name=name, _external=True)
                for name in profile.patch_names()
            },
            "schemas": url_for("hsds.HsdsSchemas", _external=True),
        }


@blp.route("/profile/<name>.json")
class HsdsProfilePatch(MethodView):
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, HsdsObjectSchema)
    @blp.doc(operationId="get_hsds_profile_patch")
    def get(self, name: str) -> dict[str, Any]:
        """One merge patch (RFC 7386) of the profile."""
        return profile.patch(name)


@blp.route("/schema", strict_slashes=False)
class HsdsSchemas(MethodView):
    @blp.response(200, HsdsObjectSchema)
    @blp.doc(operationId="list_hsds_schemas")
    def get(self) -> dict[str, Any]:
        """The profile's compiled schemas: the official ones with the patches merged."""
        return {
            name: url_for("hsds.HsdsSchema", name=name, _external=True) for name in profile.SCHEMAS
        }


@blp.route("/schema/<name>.json")
class HsdsSchema(MethodView):
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, HsdsObjectSchema)
    def get(self, name: str) -> dict[str, Any]:
        """One compiled schema of the profile."""
        return profile.compiled(_hsds_dir(), name)
