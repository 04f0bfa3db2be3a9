"""Conditional requests on directory entries (RFC 9110): an item read carries an ETag and
answers 304 to a matching If-None-Match; a change with an If-Match that no longer matches
is refused with 412 before anything is written.

The ETag is a hash of the representation this caller gets, so it changes with every field
the caller can see (and differs where the directory rules redact a confidential site).
If-Match is optional on directory changes: without it the change is applied as before
(the last write wins), which keeps existing integrations working; with it, a stale bed
count is never applied. The caller's view is computed from the row read FOR UPDATE (see
`directory.get_*`), so two changes with the same If-Match cannot both pass.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from flask import Response, json, request
from flask_smorest import Blueprint
from marshmallow import Schema

from ..errors import PreconditionFailed, ValidationFailed

# Room for some fifty of our ETags; a longer header is refused (422), not parsed.
MAX_HEADER = 2000

IF_NONE_MATCH = {
    "in": "header",
    "name": "If-None-Match",
    "required": False,
    "schema": {"type": "string", "maxLength": MAX_HEADER},
    "description": "ETags you hold; if one still matches, the answer is 304 with no body.",
}
IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "schema": {"type": "string", "maxLength": MAX_HEADER},
    "description": "The ETag of the entry as you read it: if it has changed since, the "
    "change is refused with 412 and nothing is written. Without If-Match the change is "
    "applied whatever happened in between (the last write wins).",
}


def etag_of(schema: Schema, item: Any) -> str:
    """The (unquoted) ETag of `item` as `schema` renders it for this caller."""
    body = json.dumps(schema.dump(item), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()[:32]


def with_etag(schema: Schema, item: Any) -> tuple[Any, int, dict[str, str]]:
    """The item with its ETag (an answer to a change, never 304)."""
    return item, 200, {"ETag": f'"{etag_of(schema, item)}"', "Vary": "Authorization"}


def read(schema: Schema, item: Any) -> Any:
    """The item with its ETag, or 304 if the caller's If-None-Match names it."""
    _bounded("If-None-Match")
    etag = etag_of(schema, item)
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304)
        response.set_etag(etag)
        response.headers["Vary"] = "Authorization"
        return response
    return item, 200, {"ETag": f'"{etag}"', "Vary": "Authorization"}


def require_current(schema: Schema, item: Any) -> None:
    """Refuse (412) a change whose If-Match does not name the item as it is now."""
    _bounded("If-Match")
    if not request.headers.get("If-Match", "").strip():
        return  # none (or blank): the change applies, as documented
    if_match = request.if_match
    if if_match.star_tag or if_match.contains_weak(etag_of(schema, item)):
        return
    raise PreconditionFailed(
        "The entry has changed since you read it (If-Match does not match its ETag): "
        "read it again and reapply your change."
    )


def _bounded(header: str) -> None:
    if len(request.headers.get(header, "")) > MAX_HEADER:
        raise ValidationFailed({header: f"At most {MAX_HEADER} characters."})


def conditional_read(blp: Blueprint) -> Callable[[Any], Any]:
    """Document If-None-Match and its 304 on an item GET."""

    def decorator(view: Any) -> Any:
        view = blp.alt_response(304, response="NOT_MODIFIED")(view)
        view = blp.alt_response(422, response="UNPROCESSABLE_ENTITY")(view)
        return blp.doc(parameters=[IF_NONE_MATCH])(view)

    return decorator


def conditional_change(blp: Blueprint) -> Callable[[Any], Any]:
    """Document If-Match and its 412 on an item PATCH or DELETE."""

    def decorator(view: Any) -> Any:
        view = blp.alt_response(412, response="PRECONDITION_FAILED")(view)
        return blp.doc(parameters=[IF_MATCH])(view)

    return decorator
