"""The OpenAPI document, rendered from the code."""

from __future__ import annotations

import yaml
from flask import Flask

from .contract import finish


def render_openapi_yaml(app: Flask) -> str:
    from .resources import api

    with app.app_context():
        spec = finish(api.spec.to_dict())
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100)
