"""Shared fixtures: an in-memory sandbox app and a signing test client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from sandbox import signing
from sandbox.app import create_app
from sandbox.config import DEFAULT_SECRET, Config

SECRET = DEFAULT_SECRET

pytest_plugins = ["pytester"]


class Signed:
    """A Flask test client that signs every request like a correct partner would."""

    def __init__(self, client: FlaskClient, secret: str = SECRET) -> None:
        self.client = client
        self.secret = secret

    def get(
        self,
        path: str,
        params: dict[str, Any] | list[tuple[str, str]] | None = None,
        *,
        timestamp: int | str | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> TestResponse:
        query = urlencode(params or {})
        ts = str(int(time.time()) if timestamp is None else timestamp)
        sig = signing.sign(secret or self.secret, "GET", path, ts, query=query)
        sent = {"x-timestamp": ts, "x-signature": sig, **(headers or {})}
        return self.client.get(path + ("?" + query if query else ""), headers=sent)

    def post(
        self,
        path: str,
        body: dict[str, Any] | str | bytes | None = None,
        *,
        timestamp: int | str | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> TestResponse:
        raw = json.dumps(body).encode() if isinstance(body, dict) else body
        raw = raw.encode() if isinstance(raw, str) else (raw or b"")
        ts = str(int(time.time()) if timestamp is None else timestamp)
        sig = signing.sign(secret or self.secret, "POST", path, ts, body=raw)
        sent = {
            "x-timestamp": ts,
            "x-signature": sig,
            "content-type": "application/json",
            **(headers or {}),
        }
        return self.client.post(path, data=raw, headers=sent)


@pytest.fixture
def app() -> Iterator[Flask]:
    app = create_app(Config(db=":memory:"))
    yield app
    app.extensions["sandbox"].store.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def signed(client: FlaskClient) -> Signed:
    return Signed(client)
