"""Imports of Open Referral HSDS packages into the directory."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from ..db import db
from ..errors import ValidationFailed
from ..models import Role
from ..schemas.hsds import ImportArgsSchema, ImportReportSchema, check_import
from ..security import current_actor
from ..services.hsds import loading, package
from .common import authenticated, query_args

blp = Blueprint(
    "imports",
    __name__,
    url_prefix="/api/v1/imports",
    description="Load HSDS 3.1 packages into the directory (all or nothing).",
)
# application/zip is served too (ZIP_TYPES), but declared as application/octet-stream: the
# media type OpenAPI tools, openapi-python-client among them, understand as raw bytes.
ZIP_TYPES = ("application/zip", "application/octet-stream")
HSDS_DOCUMENT = {"type": "object", "additionalProperties": True}
BODY = {
    "required": True,
    "description": "An HSDS tabular data package as a .zip of CSV files (sent as "
    "application/octet-stream or application/zip), or the JSON forms: a list (or a Page, "
    "or one) of fully nested HSDS services or organizations.",
    "content": {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        "application/json": {
            "schema": {
                "oneOf": [
                    {"type": "array", "items": HSDS_DOCUMENT},
                    HSDS_DOCUMENT,
                ]
            }
        },
    },
}


@blp.route("")
class Imports(MethodView):
    @authenticated(blp, Role.ORG_ADMIN, Role.ADMIN)
    @query_args(blp, ImportArgsSchema)
    @blp.doc(requestBody=BODY, operationId="import_hsds_package")
    @blp.response(200, ImportReportSchema)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Import an HSDS package: every problem named by file, row and field (422), or
        everything loaded; a second import of the same package changes nothing.

        An org_admin may change only its own organization's entries; adding an
        organization needs an admin.
        """
        report = loading.import_package(
            db.session,
            actor=current_actor(),
            package=_read_body(),
            check=check_import,
            source=args["source"],
            dry_run=args["dry_run"],
        )
        return report.as_dict()


def _read_body() -> package.Package:
    data = request.get_data()
    if request.mimetype in ZIP_TYPES:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = [n for n in archive.namelist() if n.split("/")[-1] in package.FILES]
                return package.from_files({n.split("/")[-1]: archive.read(n) for n in names})
        except zipfile.BadZipFile:
            raise ValidationFailed({"body": "Not a .zip file."}) from None
    if request.mimetype == "application/json":
        return package.from_json("body.json", data.decode("utf-8", errors="replace"))
    raise ValidationFailed(
        {
            "Content-Type": "Send a tabular package's .zip as application/octet-stream or "
            "application/zip, or the JSON forms as application/json."
        }
    )
