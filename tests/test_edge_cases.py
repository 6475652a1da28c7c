"""Regression tests for edge cases found in review: none may give a 500 or leak."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Signed
from flask import Flask
from flask.testing import FlaskClient

from sandbox.app import create_app
from sandbox.config import Config

TX = "/api/v1/get-transactions"


@pytest.mark.parametrize(
    "body",
    [
        '{"clientId":"\\ud800","amount":1}',
        '{"clientId":"A","amount":1,"description":"x\\udfff"}',
        '{"\\udc00":1}',
    ],
    ids=["clientId", "description", "key"],
)
def test_lone_surrogates_are_a_400_and_the_journal_survives(
    signed: Signed, client: FlaskClient, body: str
) -> None:
    r = signed.post("/api/v1/credit-balance", body)
    assert r.status_code == 400
    assert "unpaired surrogates" in json.loads(r.data)["data"]["errors"]["body"][0]
    assert client.get("/__sandbox/requests").status_code == 200
    assert client.get("/__sandbox/requests?format=jsonl").status_code == 200
    assert client.get("/__sandbox/").status_code == 200


def test_surrogates_in_control_descriptions(client: FlaskClient) -> None:
    assert (
        client.post("/__sandbox/sign", data=b'{"method":"GET","path":"/\\ud800"}').status_code
        == 200
    )
    assert (
        client.post("/__sandbox/explain", data=b'{"method":"GET","path":"/\\ud800"}').status_code
        == 200
    )


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"page": "99999999999999999999"}, "page", "The page may not be greater than 1000000000."),
        (
            {"dateFrom": "0001-01-01T00:00:00+01:00"},
            "dateFrom",
            "The dateFrom is not a valid date.",
        ),
        ({"dateTo": "9999-12-31T23:59:59-01:00"}, "dateTo", "The dateTo is not a valid date."),
        (
            {"dateFrom": "9999-12-31T23:59:59.9999995"},
            "dateFrom",
            "The dateFrom is not a valid date.",
        ),
        ({"dateFrom": "\uff12026-02-01"}, "dateFrom", "The dateFrom is not a valid date."),
    ],
    ids=["huge-page", "year-1-minus", "year-9999-plus", "rounding-overflow", "unicode-digits"],
)
def test_transaction_parameters_at_the_edges(
    signed: Signed, params: dict[str, str], field: str, message: str
) -> None:
    r = signed.get(TX, {"clientId": "CLIENT_001", **params})
    assert r.status_code == 400
    assert json.loads(r.data)["data"]["errors"] == {field: [message]}


def test_years_below_1000_compare_correctly(signed: Signed) -> None:
    r = signed.get(TX, {"clientId": "CLIENT_001", "dateTo": "0999-01-01"})
    assert json.loads(r.data)["data"]["totalCount"] == 0


@pytest.mark.parametrize("client_id", ["测试", "A\nB", "测" * 255])  # 255: the longest clientId
def test_scenario_header_for_any_client_id(
    signed: Signed, client: FlaskClient, client_id: str
) -> None:
    from urllib.parse import quote

    assert (
        client.put(
            f"/__sandbox/scenarios/{quote(client_id)}", json={"outcome": "success"}
        ).status_code
        == 200
    )
    r = signed.post("/api/v1/credit-balance", {"clientId": client_id, "amount": 1})
    assert r.status_code == 404  # no such user: answered normally, and the header is safe
    assert r.headers["X-Sandbox-Scenario"].startswith("success; client=")
    assert len(r.headers["X-Sandbox-Scenario"]) < 700


@pytest.mark.parametrize("path", ["/api//v1/get-balance", "/__sandbox", "//api/v1/get-balance"])
def test_no_redirects_only_envelopes(client: FlaskClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code in (200, 404)
    assert r.status_code != 308 and "Location" not in r.headers
    if r.status_code == 404:
        assert json.loads(r.data)["message"] == "Not found"


@pytest.mark.parametrize(
    "body",
    [
        b'{"offsetSeconds": Infinity}',
        b'{"offsetSeconds": NaN}',
        b'{"offsetSeconds": 1e15}',
        b'{"offsetSeconds": 300000000000}',
    ],
    ids=["inf", "nan", "1e15", "year-11533"],
)
def test_clock_shift_is_bounded(
    app: Flask, signed: Signed, client: FlaskClient, body: bytes
) -> None:
    assert client.post("/__sandbox/clock", data=body).status_code == 400
    assert app.extensions["sandbox"].clock.offset == 0
    assert signed.get("/api/v1/get-balance", {"clientId": "CLIENT_001"}).status_code == 200


def test_a_post_takes_its_client_id_from_the_body_only(app: Flask, client: FlaskClient) -> None:
    magic = create_app(
        Config(db=":memory:", scenarios=str(Path(__file__).parents[1] / "scenarios.yaml"))
    )
    import time

    from sandbox import signing

    ts = str(int(time.time()))
    path = "/api/v1/credit-balance?clientId=CLIENT_SERVER_ERROR"
    sig = signing.hmac_hex("sandbox-secret", f"POST/api/v1/credit-balance{ts}[1]".encode())
    r = magic.test_client().post(path, data=b"[1]", headers={"x-timestamp": ts, "x-signature": sig})
    assert r.status_code == 400  # the body is not an object; the query's clientId forces nothing


def test_duplicate_flag_on_a_refused_debit(signed: Signed, client: FlaskClient) -> None:
    signed.post("/api/v1/credit-balance", {"clientId": "CLIENT_008", "amount": 1, "reference": "R"})
    r = signed.post(
        "/api/v1/debit-balance", {"clientId": "CLIENT_008", "amount": 5, "reference": "R"}
    )
    assert r.status_code == 400
    newest = json.loads(client.get("/__sandbox/requests?limit=1").data)["data"]["requests"][0]
    assert newest["flags"] == ["duplicate-reference"]


def test_sign_accepts_a_json_body_object(client: FlaskClient) -> None:
    r = client.post(
        "/__sandbox/sign",
        json={
            "method": "POST",
            "path": "/api/v1/credit-balance",
            "body": {"clientId": "A", "amount": 1.50},
            "timestamp": "1",
        },
    )
    assert json.loads(r.data)["data"]["payload"] == '{"clientId":"A","amount":1.5}'
    r = client.post(
        "/__sandbox/sign", json={"method": "GET", "path": "/x", "query": {"b": "2", "a": "1"}}
    )
    assert json.loads(r.data)["data"]["payload"] == "a=1&b=2"
    assert (
        client.post(
            "/__sandbox/sign", json={"method": "POST", "path": "/x", "body": [1]}
        ).status_code
        == 400
    )


def test_cross_origin_control_requests_are_refused(client: FlaskClient) -> None:
    r = client.post("/__sandbox/reset", headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert (
        client.post("/__sandbox/reset", headers={"Origin": "http://localhost"}).status_code == 200
    )
    assert client.post("/__sandbox/reset").status_code == 200  # curl and CI send no Origin


def test_login_tokens_are_not_journaled(signed: Signed, client: FlaskClient) -> None:
    r = signed.post(
        "/api/v1/generate-auth-token",
        {"clientId": "P", "username": "p", "displayName": "P", "ipAddress": "::1"},
    )
    token = json.loads(r.data)["data"]["token"]
    client.get(f"/login/{token}")
    entries = json.loads(client.get("/__sandbox/requests").data)["data"]["requests"]
    visit = entries[0]  # the login visit (unsigned: whoever reads the journal must not log in)
    assert visit["path"] == "/login/<token>"
    assert token not in json.dumps(visit)


@pytest.mark.parametrize(
    ("amount", "client_id"), [("", "CLIENT_001"), ("   ", "CLIENT_001"), (5, "   ")]
)
def test_blank_values_count_as_missing(signed: Signed, amount: object, client_id: str) -> None:
    r = signed.post("/api/v1/credit-balance", {"clientId": client_id, "amount": amount})
    errors = json.loads(r.data)["data"]["errors"]
    if amount == 5:
        assert errors == {"clientId": ["The clientId field is required."]}
    else:
        assert errors == {
            "amount": ["The amount field is required.", "The amount must be at least 0.01."]
        }


def test_default_tenant_control_needs_the_token_when_partners_exist(tmp_path: Path) -> None:
    import time

    from sandbox import signing

    path = tmp_path / "s.yaml"
    path.write_text("partners:\n  acme: {secret: acme-secret-1}\n")
    app = create_app(Config(db=":memory:", scenarios=str(path)))
    ts = str(int(time.time()))
    sig = signing.hmac_hex("sandbox-secret", f"GET/__sandbox/requests{ts}".encode())
    r = app.test_client().get(
        "/__sandbox/requests", headers={"x-timestamp": ts, "x-signature": sig}
    )
    assert r.status_code == 403
