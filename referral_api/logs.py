"""JSON-lines logging with a request id; request bodies and client data are never logged."""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
import uuid
from typing import Any

from flask import Flask, Response, g, request

REQUEST_FIELDS = ("request_id", "method", "path", "status", "duration_ms", "principal_id")
_MARKER = "_referral_api_json"
_REQUEST_ID_MAX = 128

access_log = logging.getLogger("referral_api.access")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in REQUEST_FIELDS:
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)

    def formatException(self, ei: Any) -> str:
        """Where it happened and what kind of error, never the message: a database
        error's message may quote the values of a request (reasons, notes, names)."""
        kind, _error, trace = ei
        return "".join(traceback.format_tb(trace)) + f"{kind.__name__} (message withheld)"


JsonFormatter.converter = time.gmtime


def configure_logging(level: str) -> None:
    """Send every log record to stderr as one JSON object per line (idempotent)."""
    root = logging.getLogger()
    root.setLevel(level)
    if not any(getattr(h, _MARKER, False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        setattr(handler, _MARKER, True)
        root.addHandler(handler)
    # werkzeug's own access lines would duplicate ours, in another format.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def init_request_logging(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "").strip()
        valid = incoming and len(incoming) <= _REQUEST_ID_MAX and incoming.isprintable()
        g.request_id = incoming if valid else uuid.uuid4().hex

    @app.after_request
    def _log(response: Response) -> Response:
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers["X-Request-ID"] = request_id
        actor = g.get("actor")
        started = g.get("started")
        access_log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2)
                if started
                else None,
                "principal_id": str(actor.principal_id)
                if actor is not None and actor.principal_id is not None
                else None,
            },
        )
        return response
