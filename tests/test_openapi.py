import re
from http import HTTPStatus
from pathlib import Path

import yaml

from referral_api.openapi import render_openapi_yaml

ROOT = Path(__file__).resolve().parent.parent


def test_committed_openapi_yaml_is_current(app) -> None:
    committed = (ROOT / "openapi.yaml").read_text(encoding="utf-8")
    assert committed == render_openapi_yaml(app), (
        "openapi.yaml is stale: run `referral-api openapi openapi.yaml`"
    )


def test_spec_is_openapi_31_with_problem_errors(app) -> None:
    spec = yaml.safe_load(render_openapi_yaml(app))
    assert spec["openapi"].startswith("3.1")
    unauthorized = spec["components"]["responses"]["UNAUTHORIZED"]
    assert "application/problem+json" in unauthorized["content"]
    for name, response in spec["components"]["responses"].items():
        if name in HTTPStatus.__members__ and HTTPStatus[name] < 400:
            assert "content" not in response, name  # 304 Not Modified has no body
            continue
        assert list(response["content"]) == ["application/problem+json"], name
    assert "bearerAuth" in spec["components"]["securitySchemes"]


def test_docs_are_served_from_local_assets(client) -> None:
    page = client.get("/docs/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/docs/swagger-ui-bundle.js" in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    assert all(url.startswith("/docs/") for url in assets), assets
    asset = client.get("/docs/swagger-ui-bundle.js")
    assert asset.status_code == 200
    assert len(asset.get_data()) > 100_000
    assert client.get("/openapi.json").json["openapi"].startswith("3.1")
