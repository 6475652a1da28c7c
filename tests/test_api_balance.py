"""GET /api/v1/get-balance: every documented response, exact bodies (SPEC A1, A4)."""

from __future__ import annotations

import json

from conftest import Signed
from flask import Flask

from sandbox.api import BY_NAME
from sandbox.errors import ServerError
from sandbox.store import money

PATH = "/api/v1/get-balance"


def body(response) -> dict:
    return json.loads(response.data)


def test_docs_user_balance(signed: Signed) -> None:
    r = signed.get(PATH, {"clientId": "CLIENT_001"})
    assert r.status_code == 200
    assert r.mimetype == "application/json"
    assert r.data == (
        b'{"status":"success","message":"Balance retrieved successfully","data":'
        b'{"userId":123,"clientId":"CLIENT_001","balance":1500.5,'
        b'"updatedAt":"2026-02-01T14:30:00.000Z"}}'
    )


def test_missing_client_id_is_validation_error(signed: Signed) -> None:
    r = signed.get(PATH)
    assert r.status_code == 400
    assert body(r) == {
        "status": "failed",
        "message": "Validation failed",
        "data": {"errors": {"clientId": ["The clientId field is required."]}},
    }


def test_empty_client_id_is_required_error(signed: Signed) -> None:
    r = signed.get(PATH, {"clientId": ""})
    assert r.status_code == 400
    assert body(r)["data"] == {"errors": {"clientId": ["The clientId field is required."]}}


def test_unknown_client_is_not_found(signed: Signed) -> None:
    r = signed.get(PATH, {"clientId": "NOBODY"})
    assert r.status_code == 404
    assert r.data == b'{"status":"failed","message":"User not found","data":null}'


def test_bad_signature_is_401_before_validation(signed: Signed) -> None:
    # B8: a bad signature is always 401, even when the request is also invalid.
    r = signed.get(PATH, timestamp="1")
    assert r.status_code == 401
    assert r.data == b'{"status":"error","message":"Invalid signature","data":null}'


def test_new_wallet_has_null_updated_at(app: Flask, signed: Signed) -> None:
    users = app.extensions["sandbox"].store
    with users._write() as conn:  # a fresh user, as generate-auth-token will create
        conn.execute(
            "INSERT INTO users VALUES (5, 'FRESH', 'f', 'F', '::1', '2026-01-01T00:00:00.000Z')"
        )
        conn.execute("INSERT INTO wallets VALUES (6, 5, 0, 'USD', NULL)")
    r = signed.get(PATH, {"clientId": "FRESH"})
    assert body(r)["data"] == {"userId": 5, "clientId": "FRESH", "balance": 0, "updatedAt": None}


def test_unknown_parameters_are_signed_and_ignored(signed: Signed) -> None:
    r = signed.get(PATH, {"clientId": "CLIENT_001", "zzz": "1", "aaa": ""})
    assert r.status_code == 200


def test_server_error_body() -> None:
    # Forced by scenarios (a later issue); the body is fixed here, in the one renderer.
    error = ServerError(BY_NAME["get-balance"].failure)
    assert error.status_code == 500
    assert error.body == {
        "status": "failed",
        "message": "Failed to get balance",
        "data": {"error": "Database connection failed"},
    }


def test_money_is_exact() -> None:
    assert money(150050) == 1500.5
    assert money(1) == 0.01
    assert money(99999999999) == 999999999.99
    assert json.dumps(money(10)) == "0.1"
