"""A new custom SearchParameter takes effect by reindexing existing data at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson

from fhir_sandbox.config import Settings
from fhir_sandbox.testing import LiveServer

CUSTOM = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {
            "resource": {
                "resourceType": "SearchParameter",
                "url": "https://example.org/SearchParameter/Organization-alias",
                "name": "alias",
                "status": "active",
                "code": "alias",
                "base": ["Organization"],
                "type": "string",
                "expression": "Organization.alias",
            }
        }
    ],
}


def test_custom_parameter_added_later_is_applied_to_existing_data(
    tmp_path: Path, databases: Any
) -> None:
    url = databases.new() if databases.backend == "postgresql" else ""
    settings = Settings(
        data_dir=tmp_path, database_url=url, seed_on_start=False, log_requests=False
    )
    with LiveServer(settings) as server, httpx.Client(base_url=server.url) as client:
        created = client.post(
            "/fhir/Organization", json={"resourceType": "Organization", "alias": ["Nickname"]}
        )
        assert created.status_code == 201
        assert client.get("/fhir/Organization", params={"alias": "nick"}).status_code == 400
    definitions = tmp_path / "custom.json"
    definitions.write_bytes(orjson.dumps(CUSTOM))
    extended = settings.model_copy(update={"search_parameters": [definitions]})
    with LiveServer(extended) as server, httpx.Client(base_url=server.url) as client:
        found = client.get("/fhir/Organization", params={"alias": "nick"})
        assert found.status_code == 200, found.text
        assert found.json()["total"] == 1
        statement = client.get("/fhir/metadata").json()
        org = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Organization")
        assert "alias" in {p["name"] for p in org["searchParam"]}
