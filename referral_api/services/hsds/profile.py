"""The Indonesian HSDS profile: RFC 7386 merge patches over the official 3.1 schemas.

The patches live beside this module (`profile/*.json`); the official schemas are read
from the HSDS folder the configuration names (`REFERRAL_API_HSDS_DIR`) and never copied
into the project. A profile schema is the official compiled schema with its patch merged
by `json_merge_patch` (RFC 7386: objects merge, anything else, arrays too, replaces).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import json_merge_patch

from ...errors import NotFound

PATCH_DIR = Path(__file__).resolve().parent / "profile"
# The schemas the read API's responses are checked against: the compiled item forms,
# and the taxonomy ones, which the official folder has only with relative `$ref`s.
SCHEMAS = (
    "service",
    "service_list",
    "organization",
    "organization_list",
    "service_at_location",
    "service_at_location_list",
    "taxonomy",
    "taxonomy_term",
)
UNCOMPILED = ("taxonomy", "taxonomy_term")


def require_folder(hsds_dir: Path) -> Path:
    """The official schema folder, or NotFound naming the setting."""
    if not (hsds_dir / "compiled" / "service.json").is_file():
        raise NotFound(
            f"The official HSDS 3.1 schemas are not at {hsds_dir}; "
            "set REFERRAL_API_HSDS_DIR to the folder that holds them."
        )
    return hsds_dir


def patch_names() -> list[str]:
    return sorted(path.stem for path in PATCH_DIR.glob("*.json"))


def patch(name: str) -> dict[str, Any]:
    """One of the profile's merge patches, or NotFound."""
    if name not in patch_names():
        raise NotFound(f"The profile has no patch {name!r}.")
    return _load(PATCH_DIR / f"{name}.json")


def official(hsds_dir: Path, name: str) -> dict[str, Any]:
    """An official schema with no `$ref` left (the taxonomy ones inlined here)."""
    if name not in SCHEMAS:
        raise NotFound(f"No HSDS schema {name!r}; there are: {', '.join(SCHEMAS)}.")
    folder = require_folder(hsds_dir)
    if name in UNCOMPILED:
        inlined: dict[str, Any] = _inline(folder, _load(folder / f"{name}.json"))
        return inlined
    return _load(folder / "compiled" / f"{name}.json")


def compiled(hsds_dir: Path, name: str) -> dict[str, Any]:
    """The profile's schema: the official one with the profile's patch merged in."""
    schema = official(hsds_dir, name)
    if name in patch_names():
        merged: dict[str, Any] = json_merge_patch.merge(schema, patch(name))
        return merged
    return schema


def page_schema(hsds_dir: Path) -> dict[str, Any]:
    """The HSDS `Page` envelope from the official API description, with every field
    required (3.1.1 made `empty` required; the others always were in practice)."""
    api = _load(require_folder(hsds_dir) / "openapi.json")
    page = dict(api["components"]["schemas"]["Page"])
    page["required"] = [*page["properties"], "contents"]
    page["properties"] = {**page["properties"], "contents": {"type": "array"}}
    return page


@cache
def _read(path: Path, mtime: float) -> str:
    return path.read_text(encoding="utf-8")


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(_read(path, path.stat().st_mtime))
    return loaded


def _inline(folder: Path, schema: Any) -> Any:
    """Replace each relative `{"$ref": "x.json"}` by that file, recursively."""
    if isinstance(schema, list):
        return [_inline(folder, item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.endswith(".json") and "/" not in ref:
        target = _inline(folder, _load(folder / ref))
        return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return {key: _inline(folder, value) for key, value in schema.items()}
