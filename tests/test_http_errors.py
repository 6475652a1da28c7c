"""Routing-level failures answer in the envelope, never with a stack trace (SPEC B13)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sandbox.errors import ApiError


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("GET", "/", 404, b'{"status":"failed","message":"Not found","data":null}'),
        ("GET", "/api/v1/nope", 404, b'{"status":"failed","message":"Not found","data":null}'),
        (
            "POST",
            "/api/v1/get-balance",
            405,
            b'{"status":"failed","message":"Method not allowed","data":null}',
        ),
        (
            "DELETE",
            "/api/v1/get-balance",
            405,
            b'{"status":"failed","message":"Method not allowed","data":null}',
        ),
    ],
    ids=["root", "unknown-api", "post-on-get", "delete"],
)
def test_routing_errors(
    client: FlaskClient, method: str, path: str, status: int, body: bytes
) -> None:
    r = client.open(path, method=method)
    assert r.status_code == status
    assert r.data == body
    assert r.mimetype == "application/json"
    if status == 405:
        assert "GET" in r.headers["Allow"]


def test_body_over_64k_is_413(client: FlaskClient) -> None:
    r = client.post("/api/v1/get-balance", data=b"x" * (64 * 1024 + 1))
    assert r.status_code == 413
    assert r.data == b'{"status":"failed","message":"Payload too large","data":null}'


def test_unexpected_exception_is_the_documented_500(app: Flask, client: FlaskClient) -> None:
    store = app.extensions["sandbox"].store

    def broken(client_id: str) -> None:
        raise RuntimeError("secret internals /etc/passwd")

    store.balance = broken
    r = client.get(
        "/api/v1/get-balance?clientId=CLIENT_001",
        headers={"x-timestamp": "1", "x-signature": "x"},
    )
    assert r.status_code == 401  # the signature still comes first
    app.extensions["sandbox"].clock.now = lambda: 1.0
    from sandbox import signing

    sig = signing.sign(
        "sandbox-secret", "GET", "/api/v1/get-balance", 1, query="clientId=CLIENT_001"
    )
    r = client.get(
        "/api/v1/get-balance?clientId=CLIENT_001", headers={"x-timestamp": "1", "x-signature": sig}
    )
    assert r.status_code == 500
    assert r.data == (
        b'{"status":"failed","message":"Failed to get balance",'
        b'"data":{"error":"Database connection failed"}}'
    )
    assert b"passwd" not in r.data and b"Traceback" not in r.data


def test_api_error_headers_are_rendered() -> None:
    error = ApiError({"status": "failed", "message": "x", "data": None}, {"X-Sandbox-A": "1"})
    assert error.headers == {"X-Sandbox-A": "1"}
