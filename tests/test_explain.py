"""The dry run (POST /__sandbox/explain), `sabong-sandbox verify`, and explanations in the body."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from sandbox import signing
from sandbox.app import create_app
from sandbox.cli import main
from sandbox.config import Config

NOW = 1769956200
PATH = "/api/v1/credit-balance"
PRETTY = '{"clientId": "CLIENT_001", "amount": 100.50}'
COMPACT = '{"clientId":"CLIENT_001","amount":100.5}'


def spaced_signature(secret: str = "sandbox-secret") -> str:
    return signing.hmac_hex(secret, f"POST{PATH}{NOW}{PRETTY}".encode())


@pytest.fixture
def frozen(app: Flask) -> Flask:
    app.extensions["sandbox"].clock.now = lambda: float(NOW)
    return app


def explain(client: FlaskClient, **fields: object) -> dict:
    r = client.post("/__sandbox/explain", json=fields)
    assert r.status_code == 200, r.data
    return json.loads(r.data)["data"]


def test_every_intermediate_value(frozen: Flask, client: FlaskClient) -> None:
    got = explain(
        client,
        method="post",
        path=PATH,
        body=PRETTY,
        timestamp=str(NOW),
        signature=spaced_signature(),
    )
    assert got["canonicalPayload"] == COMPACT
    assert got["stringToSign"] == f"POST{PATH}{NOW}{COMPACT}"
    assert got["expectedSignature"] == signing.hmac_hex(
        "sandbox-secret", f"POST{PATH}{NOW}{COMPACT}".encode()
    )
    assert got["verdict"]["reason"] == "mismatch"
    assert got["finding"]["code"] == "raw-body"
    assert COMPACT in got["finding"]["message"]


def test_valid_signature(frozen: Flask, client: FlaskClient) -> None:
    sig = signing.sign(
        "sandbox-secret", "GET", "/api/v1/get-balance", NOW, query="clientId=CLIENT_001"
    )
    got = explain(
        client,
        method="GET",
        path="/api/v1/get-balance",
        query={"clientId": "CLIENT_001"},
        timestamp=str(NOW),
        signature=sig,
    )
    assert got["verdict"] == {"reason": "valid", "detail": "valid"}
    assert "finding" not in got


def test_without_a_signature_it_computes_one(frozen: Flask, client: FlaskClient) -> None:
    got = explain(client, method="GET", path="/api/v1/get-balance", query="clientId=A")
    assert got["timestamp"] == str(NOW)
    assert got["stringToSign"] == f"GET/api/v1/get-balance{NOW}clientId=A"
    assert len(got["expectedSignature"]) == 64


def test_expired_timestamps_are_still_diagnosed(frozen: Flask, client: FlaskClient) -> None:
    got = explain(
        client,
        method="POST",
        path=PATH,
        body=PRETTY,
        timestamp=str(NOW),
        signature=spaced_signature(),
    )
    assert got["finding"]["code"] == "raw-body"
    old = signing.hmac_hex("sandbox-secret", f"POST{PATH}{NOW - 999}{COMPACT}".encode())
    got = explain(
        client, method="POST", path=PATH, body=PRETTY, timestamp=str(NOW - 999), signature=old
    )
    assert got["verdict"]["reason"] == "expired-timestamp"
    assert got["finding"]["code"] == "valid"  # the HMAC itself is right: only the time is off


def test_no_expected_signature_for_a_private_secret() -> None:
    app = create_app(Config(db=":memory:", secret="private-secret"))
    got = explain(app.test_client(), method="GET", path="/x")
    assert "expectedSignature" not in got
    assert "private-secret" not in json.dumps(got)


def test_invalid_request_description(client: FlaskClient) -> None:
    r = client.post("/__sandbox/explain", json={"path": 5, "signature": 1})
    assert r.status_code == 400
    assert set(json.loads(r.data)["data"]["errors"]) == {"method", "path", "signature"}


def test_verify_cli() -> None:
    runner = CliRunner()
    args = ["verify", "POST", PATH, "-d", PRETTY, "-t", str(NOW), "--now", str(NOW)]
    bad = runner.invoke(main, [*args, "-s", spaced_signature()])
    assert bad.exit_code == 1
    assert f"StringToSign:      POST{PATH}{NOW}{COMPACT}" in bad.output
    assert "You signed the body bytes exactly as sent" in bad.output
    good = signing.hmac_hex("sandbox-secret", f"POST{PATH}{NOW}{COMPACT}".encode())
    ok = runner.invoke(main, [*args, "-s", good])
    assert ok.exit_code == 0
    assert "verdict:           valid" in ok.output


def test_explanations_in_the_body_only_when_turned_on() -> None:
    for flag, expect_data in ((False, False), (True, True)):
        app = create_app(Config(db=":memory:", explain_in_body=flag))
        app.extensions["sandbox"].clock.now = lambda: float(NOW)
        r = app.test_client().post(
            PATH, data=PRETTY, headers={"x-timestamp": str(NOW), "x-signature": spaced_signature()}
        )
        body = json.loads(r.data)
        assert (body["status"], body["message"]) == ("error", "Invalid signature")
        if expect_data:
            assert body["data"]["findingCode"] == "raw-body"
            assert body["data"]["verdict"] == "mismatch"
        else:
            assert body["data"] is None


TRANSACTIONS = "/api/v1/get-transactions"


def test_a_null_query_value_is_left_out_as_clients_leave_it_out(
    frozen: Flask, client: FlaskClient
) -> None:
    """A query given as a mapping is sent as HTTP clients send it: null left out (axios,
    http_build_query, requests), values printed as JavaScript prints them."""
    signed = f"GET{TRANSACTIONS}{NOW}clientId=CLIENT_001&limit=5&mine=true&type=null"
    got = explain(
        client,
        method="GET",
        path=TRANSACTIONS,
        query={"clientId": "CLIENT_001", "type": None, "limit": 5, "mine": True},
        timestamp=str(NOW),
        signature=signing.hmac_hex("sandbox-secret", signed.encode()),
    )
    assert got["canonicalPayload"] == "clientId=CLIENT_001&limit=5&mine=true"
    assert got["finding"]["code"] == "unsent-param-null"
    assert (
        "You signed type=null though your HTTP client did not send it"
        in (got["finding"]["message"])
    )


def test_a_raw_plus_in_the_query_is_named(frozen: Flask, client: FlaskClient) -> None:
    query = "clientId=CLIENT_001&dateFrom=2026-01-01T00:00:00+08:00"
    got = explain(
        client,
        method="GET",
        path=TRANSACTIONS,
        query=query,
        timestamp=str(NOW),
        signature=signing.hmac_hex("sandbox-secret", f"GET{TRANSACTIONS}{NOW}{query}".encode()),
    )
    assert got["canonicalPayload"] == "clientId=CLIENT_001&dateFrom=2026-01-01T00:00:00 08:00"
    assert got["finding"]["code"] == "unencoded-plus"
    assert "Send '+' as %2B" in got["finding"]["message"]


def test_the_dry_run_shows_real_characters(frozen: Flask, client: FlaskClient) -> None:
    """No header escaping in the dry run: the fix reads 'Café', the mistake Caf\\u00e9."""
    body = '{"clientId":"CLIENT_001","amount":1,"description":"Caf\\u00e9"}'
    got = explain(
        client,
        method="POST",
        path=PATH,
        body=body,
        timestamp=str(NOW),
        signature=signing.hmac_hex("sandbox-secret", f"POST{PATH}{NOW}{body}".encode()),
    )
    assert got["finding"]["code"] == "unicode-escape"
    assert got["stringToSign"].endswith('"description":"Café"}')
    assert '"description":"Café"}' in got["finding"]["message"]
