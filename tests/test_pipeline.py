"""The API pipeline on its own: plain Python, a request description in, an answer out."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox import signing
from sandbox.api import ROUTES
from sandbox.api.exchange import Request
from sandbox.api.pipeline import handle
from sandbox.config import DEFAULT_SECRET, Config
from sandbox.state import Sandbox

CREDIT = "/api/v1/credit-balance"
BODY = b'{"clientId": "CLIENT_001", "amount": 5}'


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox.open(Config(db=":memory:"))
    yield box
    box.close()


def describe(
    method: str,
    path: str,
    *,
    query: str = "",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> Request:
    return Request(
        method=method,
        path=path,
        route_path=path,
        query=query,
        headers=headers or {},
        body=body,
        content_length=len(body),
        header_bytes=0,
        host_url="http://sandbox.test/",
    )


def signed(method: str, path: str, *, query: str = "", body: bytes = b"", **kw: Any) -> Request:
    ts = str(int(time.time()))
    sig = signing.sign(DEFAULT_SECRET, method, path, ts, query=query, body=body)
    return describe(
        method, path, query=query, body=body, headers={"x-timestamp": ts, "x-signature": sig}
    )


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every body the JSON parser is given."""
    seen: list[bytes] = []
    real = signing.parse_json

    def counting(raw: bytes) -> Any:
        seen.append(raw)
        return real(raw)

    monkeypatch.setattr(signing, "parse_json", counting)
    return seen


def test_the_pipeline_imports_no_flask() -> None:
    code = (
        "import sys, sandbox.api.pipeline\n"
        "web = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'werkzeug'))\n"
        "assert not web, web"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_signed_request_is_answered_and_journaled(sandbox: Sandbox, parses: list[bytes]) -> None:
    request = signed("POST", CREDIT, body=BODY)
    parses.clear()  # the client's own canonicalization
    answer = handle(sandbox, request)
    assert answer.status == 200
    assert json.loads(answer.body)["data"]["amount"] == 5
    assert answer.headers[-1] == ("X-Sandbox-Scenario", "none")
    assert parses == [BODY]  # parsed once: signed, validated and applied from the same parse
    (entry,) = sandbox.journal.query()
    assert entry is answer.entry
    assert (entry.client_id, entry.status, entry.request_body) == ("CLIENT_001", 200, BODY)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-timestamp": "1780000000"},
        {"x-signature": "0" * 64},
        {"x-signature": "0" * 64, "x-timestamp": "1"},
        {"x-signature": "0" * 64, "x-timestamp": "17800000000000"},
    ],
    ids=["no headers", "no signature", "no timestamp", "stale", "milliseconds"],
)
def test_a_request_without_valid_headers_is_refused_before_its_body_is_parsed(
    sandbox: Sandbox, parses: list[bytes], headers: dict[str, str]
) -> None:
    answer = handle(sandbox, describe("POST", CREDIT, body=b"[" * 60_000, headers=headers))
    assert answer.status == 401
    assert parses == []
    assert answer.entry is not None and answer.entry.client_id is None


def test_an_unexpected_error_is_the_endpoints_500_and_logged(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(sandbox.store, "apply", broken)
    answer = handle(sandbox, signed("POST", CREDIT, body=BODY))
    assert answer.status == 500
    assert json.loads(answer.body) == {
        "status": "failed",
        "message": "Failed to credit balance",
        "data": {"error": "Database connection failed"},
    }
    assert b"disk on fire" not in answer.body
    assert "unhandled error on POST /api/v1/credit-balance" in caplog.text


def test_routing_lists_the_allowed_methods(sandbox: Sandbox) -> None:
    for route in ROUTES:
        wrong = "POST" if route.method == "GET" else "GET"
        answer = handle(sandbox, signed(wrong, route.path))
        assert answer.status == 405
        assert ("Allow", ", ".join(route.methods)) in answer.headers


def test_a_failing_disk_is_logged_once_per_interval_with_a_count(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import sqlite3

    def full(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(sandbox.store, "apply", full)
    for _ in range(50):
        assert handle(sandbox, signed("POST", CREDIT, body=BODY)).status == 500
    (line,) = [r.getMessage() for r in caplog.records]
    assert line == (
        "unhandled error on POST /api/v1/credit-balance: OperationalError: database or disk is full"
    )
    assert caplog.records[0].exc_info is None  # the environment, not a bug: no traceback
    sandbox.incidents.interval = 0.0  # the interval is over: the next one says how many
    handle(sandbox, signed("POST", CREDIT, body=BODY))
    assert caplog.records[-1].getMessage().endswith("(49 more like it in the last 0 s)")
    assert (sandbox.incidents.total, sandbox.incidents.database_errors) == (51, 51)
    from sandbox.app import create_app

    health = create_app(sandbox.config, sandbox).test_client().get("/__sandbox/health")
    database = health.get_json()["data"]["database"]
    assert database["errors"] == 51
    assert database["lastError"] == (
        "POST /api/v1/credit-balance: OperationalError: database or disk is full"
    )
