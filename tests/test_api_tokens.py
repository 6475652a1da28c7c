"""POST /api/v1/generate-auth-token and the login link (SPEC A3, B9)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from conftest import Signed
from flask import Flask
from flask.testing import FlaskClient

PATH = "/api/v1/generate-auth-token"
PROFILE = {"clientId": "NEW_USER", "username": "neo", "displayName": "Neo A.", "ipAddress": "::1"}


def data(response: Any) -> Any:
    assert response.status_code == 200, response.data
    return json.loads(response.data)["data"]


def test_new_user_gets_an_empty_wallet(app: Flask, signed: Signed) -> None:
    app.extensions["sandbox"].clock.now = lambda: 1769956200.0  # 2026-02-01T14:30:00Z
    r = signed.post(PATH, PROFILE, timestamp=1769956200)
    body = json.loads(r.data)
    assert (body["status"], body["message"]) == ("success", "Auth token generated successfully")
    got = body["data"]
    assert list(got) == ["token", "expiration", "expiresIn", "loginLink", "user", "isNewUser"]
    assert re.fullmatch(r"[A-Za-z0-9]{64}", got["token"])
    assert got["expiration"] == "2026-02-01T14:32:00.000Z"
    assert got["expiresIn"] == 120
    assert got["loginLink"] == f"http://localhost/login/{got['token']}"
    assert got["user"] == {
        "id": 1026,  # after the fixtures' 1021 users and the 5 built-in named clients
        "username": "neo",
        "displayId": "NEW_USER",
        "displayName": "Neo A.",
    }
    assert got["isNewUser"] is True
    balance = data(
        signed.get("/api/v1/get-balance", {"clientId": "NEW_USER"}, timestamp=1769956200)
    )
    assert balance == {"userId": 1026, "clientId": "NEW_USER", "balance": 0, "updatedAt": None}


def test_known_user_is_updated(signed: Signed) -> None:
    got = data(signed.post(PATH, {**PROFILE, "clientId": "CLIENT_001", "username": "renamed"}))
    assert got["isNewUser"] is False
    assert got["user"]["id"] == 123
    assert got["user"]["username"] == "renamed"
    again = data(signed.post(PATH, {**PROFILE, "clientId": "CLIENT_001", "displayName": "D"}))
    assert again["user"] == {
        "id": 123,
        "username": "neo",
        "displayId": "CLIENT_001",
        "displayName": "D",
    }
    assert again["token"] != got["token"]
    balance = data(signed.get("/api/v1/get-balance", {"clientId": "CLIENT_001"}))
    assert balance["balance"] == 1500.5  # the wallet is untouched


@pytest.mark.parametrize(
    ("expiration", "seconds"),
    [(1, 60), (1440, 86400), (30.0, 1800), ("15", 900)],
    ids=["min", "max", "integral-float", "digit-string"],
)
def test_expiration(signed: Signed, expiration: Any, seconds: int) -> None:
    assert data(signed.post(PATH, {**PROFILE, "expiration": expiration}))["expiresIn"] == seconds


REQ = "The {} field is required."
INVALID: list[tuple[str, dict[str, Any], dict[str, list[str]]]] = [
    (
        "empty",
        {},
        {f: [REQ.format(f)] for f in ("clientId", "username", "displayName", "ipAddress")},
    ),
    (
        "types",
        {"clientId": 1, "username": True, "displayName": [], "ipAddress": {}},
        {
            "clientId": ["The clientId must be a string."],
            "username": ["The username must be a string."],
            "displayName": ["The displayName must be a string."],
            "ipAddress": ["The ipAddress must be a string."],
        },
    ),
    (
        "lengths",
        {
            "clientId": "c" * 256,
            "username": "u" * 101,
            "displayName": "d" * 101,
            "ipAddress": "1" * 46,
        },
        {
            "clientId": ["The clientId may not be greater than 255 characters."],
            "username": ["The username may not be greater than 100 characters."],
            "displayName": ["The displayName may not be greater than 100 characters."],
            "ipAddress": ["The ipAddress may not be greater than 45 characters."],
        },
    ),
    (
        "expiration-0",
        {**PROFILE, "expiration": 0},
        {"expiration": ["The expiration must be at least 1."]},
    ),
    (
        "expiration-1441",
        {**PROFILE, "expiration": 1441},
        {"expiration": ["The expiration may not be greater than 1440."]},
    ),
    (
        "expiration-decimal",
        {**PROFILE, "expiration": 1.5},
        {"expiration": ["The expiration must be an integer."]},
    ),
    (
        "expiration-bool",
        {**PROFILE, "expiration": True},
        {"expiration": ["The expiration must be an integer."]},
    ),
]


@pytest.mark.parametrize(("sent", "errors"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_validation(app: Flask, signed: Signed, sent: dict[str, Any], errors: Any) -> None:
    before = app.extensions["sandbox"].store.counts()
    r = signed.post(PATH, sent)
    assert r.status_code == 400
    assert json.loads(r.data) == {
        "status": "failed",
        "message": "Validation failed",
        "data": {"errors": errors},
    }
    assert app.extensions["sandbox"].store.counts() == before


def test_login_base_is_configurable() -> None:
    from conftest import Signed as S

    from sandbox.app import create_app
    from sandbox.config import Config

    app = create_app(Config(db=":memory:", login_base="https://games.example/"))
    got = data(S(app.test_client()).post(PATH, PROFILE))
    assert got["loginLink"] == f"https://games.example/login/{got['token']}"


class TestLoginLink:
    def token(self, signed: Signed, **extra: Any) -> str:
        return str(data(signed.post(PATH, {**PROFILE, **extra}))["token"])

    def test_html_page_names_the_user(self, signed: Signed, client: FlaskClient) -> None:
        token = self.token(signed, displayName="<Neo & Trinity>")
        r = client.get(f"/login/{token}")
        assert r.status_code == 200
        assert r.mimetype == "text/html"
        assert b"Welcome, &lt;Neo &amp; Trinity&gt;" in r.data

    def test_json_on_accept(self, signed: Signed, client: FlaskClient) -> None:
        token = self.token(signed)
        r = client.get(f"/login/{token}", headers={"Accept": "application/json"})
        assert r.status_code == 200
        body = json.loads(r.data)
        assert body["status"] == "success"
        assert body["data"]["user"]["displayId"] == "NEW_USER"

    def test_token_is_reusable_until_it_expires(
        self, app: Flask, signed: Signed, client: FlaskClient
    ) -> None:
        token = self.token(signed, expiration=1)
        assert client.get(f"/login/{token}").status_code == 200
        assert client.get(f"/login/{token}").status_code == 200
        app.extensions["sandbox"].clock.offset = 61
        r = client.get(f"/login/{token}", headers={"Accept": "application/json"})
        assert r.status_code == 401
        assert r.data == b'{"status":"error","message":"Invalid or expired token","data":null}'
        assert client.get(f"/login/{token}").status_code == 401

    def test_unknown_token(self, client: FlaskClient) -> None:
        r = client.get("/login/nope")
        assert r.status_code == 401
        assert b"invalid or expired" in r.data
