"""The served OpenAPI document is valid, and the sandbox's real responses conform to it."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from conftest import Signed
from flask.testing import FlaskClient
from openapi_spec_validator import validate


@pytest.fixture
def doc(client: FlaskClient) -> dict[str, Any]:
    r = client.get("/__sandbox/openapi.json")
    assert r.status_code == 200
    return json.loads(r.data)


def test_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    assert sorted(doc["paths"]) == [
        "/api/v1/credit-balance",
        "/api/v1/debit-balance",
        "/api/v1/generate-auth-token",
        "/api/v1/get-balance",
        "/api/v1/get-transactions",
    ]
    assert doc["security"] == [{"signature": [], "timestamp": []}]
    schemes = doc["components"]["securitySchemes"]
    assert {(s["in"], s["name"]) for s in schemes.values()} == {
        ("header", "x-signature"),
        ("header", "x-timestamp"),
    }
    for path in doc["paths"].values():
        (operation,) = path.values()
        assert "401" in operation["responses"]
        assert "X-Sandbox-Signature-Doctor" in operation["responses"]["401"]["headers"]


def test_examples_match_their_schemas(doc: dict[str, Any]) -> None:
    for path in doc["paths"].values():
        (operation,) = path.values()
        for response in operation["responses"].values():
            content = response["content"]["application/json"]
            for example in content["examples"].values():
                jsonschema.validate(example["value"], content["schema"])


def conform(doc: dict[str, Any], path: str, response: Any) -> None:
    (operation,) = doc["paths"][path].values()
    spec = operation["responses"].get(str(response.status_code))
    assert spec is not None, f"{path} answered an undocumented {response.status_code}"
    jsonschema.validate(json.loads(response.data), spec["content"]["application/json"]["schema"])


def test_real_responses_conform(doc: dict[str, Any], signed: Signed, client: FlaskClient) -> None:
    token = "/api/v1/generate-auth-token"
    profile = {"clientId": "OA", "username": "oa", "displayName": "OA", "ipAddress": "::1"}
    calls = [
        (token, signed.post(token, profile)),
        (token, signed.post(token, {})),
        (
            "/api/v1/credit-balance",
            signed.post("/api/v1/credit-balance", {"clientId": "OA", "amount": 10.5}),
        ),
        (
            "/api/v1/credit-balance",
            signed.post("/api/v1/credit-balance", {"clientId": "NOPE", "amount": 1}),
        ),
        (
            "/api/v1/debit-balance",
            signed.post("/api/v1/debit-balance", {"clientId": "OA", "amount": 99}),
        ),
        (
            "/api/v1/debit-balance",
            signed.post("/api/v1/debit-balance", {"clientId": "OA", "amount": 1}),
        ),
        ("/api/v1/debit-balance", signed.post("/api/v1/debit-balance", {"amount": "x"})),
        ("/api/v1/get-balance", signed.get("/api/v1/get-balance", {"clientId": "OA"})),
        ("/api/v1/get-balance", signed.get("/api/v1/get-balance", {"clientId": "CLIENT_001"})),
        ("/api/v1/get-balance", signed.get("/api/v1/get-balance", {})),
        ("/api/v1/get-balance", signed.get("/api/v1/get-balance", {"clientId": "x"}, secret="bad")),
        (
            "/api/v1/get-transactions",
            signed.get(
                "/api/v1/get-transactions",
                {"clientId": "CLIENT_001", "type": "credit", "dateFrom": "2026-01-01"},
            ),
        ),
        (
            "/api/v1/get-transactions",
            signed.get("/api/v1/get-transactions", {"clientId": "OA", "limit": 0}),
        ),
        (
            "/api/v1/get-transactions",
            signed.get("/api/v1/get-transactions", {"clientId": "CLIENT_008"}),
        ),
    ]
    client.put("/__sandbox/scenarios/FORCED", json={"outcome": "server-error"})
    calls.append(("/api/v1/get-balance", signed.get("/api/v1/get-balance", {"clientId": "FORCED"})))
    statuses = set()
    for path, response in calls:
        conform(doc, path, response)
        statuses.add(response.status_code)
    assert statuses == {200, 400, 401, 404, 500}


def test_the_published_document_is_the_served_one(doc: dict[str, Any]) -> None:
    """docs/openapi.json (what partners feed their generators) is what the sandbox serves and
    what `sabong-sandbox openapi` prints; regenerate it with that command."""
    from pathlib import Path

    from click.testing import CliRunner

    from sandbox.cli import main

    published = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"
    printed = CliRunner().invoke(main, ["openapi"]).output
    assert published.read_text("utf-8") == printed
    assert json.loads(printed) == doc


def test_operation_ids_are_method_names(doc: dict[str, Any]) -> None:
    ids = [op["operationId"] for path in doc["paths"].values() for op in path.values()]
    assert ids == [
        "generateAuthToken",
        "getBalance",
        "creditBalance",
        "debitBalance",
        "getTransactions",
    ]
