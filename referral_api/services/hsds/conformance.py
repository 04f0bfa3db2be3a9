"""The conformance check of an HSDS 3.1 feed, by the UK validator's method.

Discover the API from its root, fetch each list endpoint's first, a middle and the last
page, harvest the ids they list and fetch every one; check each envelope against the
HSDS `Page`, each object against the official compiled 3.1 schema and, if asked, against
the Indonesian profile's (`jsonschema`, draft 2020-12, with format checking).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft202012Validator, FormatChecker

from . import profile

# endpoint -> (schema of a listed item, schema of the item by id); `services` is required.
ENDPOINTS = {
    "services": ("service_list", "service"),
    "organizations": ("organization_list", "organization"),
    "service_at_locations": ("service_at_location_list", "service_at_location"),
    "taxonomies": ("taxonomy", "taxonomy"),
    "taxonomy_terms": ("taxonomy_term", "taxonomy_term"),
}
REQUIRED = ("services",)


@dataclass(frozen=True)
class Finding:
    url: str
    schema: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.url} [{self.schema}] {self.path}: {self.message}"


@dataclass
class Report:
    responses: int = 0
    objects: int = 0
    skipped: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


class Checker:
    """Validates one feed; `client` may be any httpx client (a WSGI app's, in tests)."""

    def __init__(
        self, client: httpx.Client, base_url: str, *, hsds_dir: Path, with_profile: bool
    ) -> None:
        self.client = client
        self.base = base_url.rstrip("/")
        self.report = Report()
        self.validators: dict[str, list[tuple[str, Draft202012Validator]]] = {}
        checker = FormatChecker()
        for name in profile.SCHEMAS:
            forms = [("official " + name, profile.official(hsds_dir, name))]
            if with_profile:
                forms.append(("profile " + name, profile.compiled(hsds_dir, name)))
            self.validators[name] = [
                (label, Draft202012Validator(schema, format_checker=checker))
                for label, schema in forms
            ]
        self.page = Draft202012Validator(profile.page_schema(hsds_dir), format_checker=checker)

    def run(self) -> Report:
        root = self._get(self.base + "/")
        if root is not None and not str(root.get("version", "")).startswith("3.1"):
            self._fail(self.base + "/", "root", "version", f"not 3.1: {root.get('version')!r}")
        for endpoint, (list_schema, item_schema) in ENDPOINTS.items():
            ids = self._pages(endpoint, list_schema)
            if ids is None:
                continue
            for item_id in ids:
                url = f"{self.base}/{endpoint}/{item_id}"
                body = self._get(url)
                if body is not None:
                    self._validate(url, item_schema, body)
        return self.report

    def _pages(self, endpoint: str, schema: str) -> list[str] | None:
        url = f"{self.base}/{endpoint}"
        first = self._get(url, optional=endpoint not in REQUIRED)
        if first is None:
            return None
        total = first.get("total_pages") if isinstance(first.get("total_pages"), int) else 1
        ids: list[str] = []
        for number in sorted({1, (total + 1) // 2, total} - {0}):
            page_url = f"{url}?page={number}"
            body = first if number == 1 else self._get(page_url)
            if body is None:
                continue
            self._check_page(page_url, body)
            for item in body.get("contents") or []:
                self._validate(page_url, schema, item)
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    ids.append(item["id"])
        return list(dict.fromkeys(ids))

    def _check_page(self, url: str, body: Any) -> None:
        for error in self.page.iter_errors(body):
            self._fail(url, "Page", error.json_path, error.message)

    def _validate(self, url: str, schema: str, body: Any) -> None:
        self.report.objects += 1
        for label, validator in self.validators[schema]:
            for error in _errors(validator, body):
                self._fail(url, label, error.json_path, error.message)

    def _get(self, url: str, *, optional: bool = False) -> Any:
        try:
            response = self.client.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            self._fail(url, "http", "$", f"request failed: {exc}")
            return None
        self.report.responses += 1
        if optional and response.status_code == 404:
            self.report.skipped.append(url)
            return None
        if response.status_code != 200:
            self._fail(url, "http", "$", f"status {response.status_code}, not 200")
            return None
        try:
            return response.json()
        except ValueError:
            self._fail(url, "http", "$", "the body is not JSON")
            return None

    def _fail(self, url: str, schema: str, path: str, message: str) -> None:
        self.report.findings.append(Finding(url, schema, path, message))


def _errors(validator: Draft202012Validator, body: Any) -> Iterator[Any]:
    return iter(sorted(validator.iter_errors(body), key=lambda e: e.json_path))


def check_feed(
    client: httpx.Client, base_url: str, *, hsds_dir: Path, with_profile: bool = True
) -> Report:
    """Check an HSDS feed at `base_url` (its root, e.g. https://host/api/hsds)."""
    return Checker(client, base_url, hsds_dir=hsds_dir, with_profile=with_profile).run()
