"""Shared fixtures: an in-memory sandbox app and a signing test client."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
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


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built as a release would be: from a clean copy of the checkout
    (setuptools' build/ directory in a checkout can carry stale files)."""
    out = tmp_path_factory.mktemp("wheel")
    source = out / "source"
    shutil.copytree(
        ROOT,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "*.egg-info", "node_modules", "__pycache__", ".*cache"
        ),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("sabong_sandbox-*.whl")
    return wheel


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
