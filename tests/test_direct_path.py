"""The direct path (sandbox/fastpath.py) answers exactly as the Flask pipeline does.

Two sandboxes with the same configuration get the same requests in the same order: one as
``create_app`` builds it (the direct path in front), one with the direct path taken off (Flask
answers everything). Status, headers (in order), bodies and journal entries must be equal, up
to the times and latencies. The direct path must also really answer the ordinary requests.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from conftest import SECRET
from flask import Flask

from sandbox import signing
from sandbox.app import create_app
from sandbox.config import Config
from sandbox.fastpath import Direct

REPO = Path(__file__).resolve().parent.parent
TIME = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
PARTNERS = """
partners:
  acme: {secret: acme-secret-0001}
"""

Request = tuple[str, str, str, bytes, dict[str, str]]  # method, path, query, body, headers


def signed(
    method: str,
    path: str,
    query: str = "",
    body: bytes = b"",
    *,
    secret: str = SECRET,
    timestamp: str | None = None,
    signature: str | None = None,
    sign_path: str | None = None,
) -> Request:
    ts = timestamp or str(int(time.time()))
    if method in ("GET", "HEAD"):
        sig = signing.sign(secret, "GET", sign_path or path, ts, query=query)
    else:
        sig = signing.sign(secret, method, sign_path or path, ts, body=body)
    headers = {"x-timestamp": ts, "x-signature": signature if signature is not None else sig}
    if body:
        headers["content-type"] = "application/json"
    return method, path, query, body, headers


def credit(
    body: dict[str, Any] | bytes, path: str = "/api/v1/credit-balance", **kw: Any
) -> Request:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return signed("POST", path, body=raw, **kw)


def debit(body: dict[str, Any], **kw: Any) -> Request:
    return credit(body, "/api/v1/debit-balance", **kw)


BAL = "/api/v1/get-balance"
TXN = "/api/v1/get-transactions"

ORDINARY = [
    signed("GET", BAL, "clientId=CLIENT_001"),
    signed("GET", TXN, "clientId=CLIENT_001&limit=100"),
    signed("GET", TXN, "clientId=CLIENT_001&limit=5&page=2&type=debit&sortBy=amount&sortOrder=asc"),
    signed("GET", TXN, "clientId=CLIENT_001&dateFrom=2026-01-01&dateTo=2026-01-31"),
    credit({"clientId": "CLIENT_001", "amount": 100.50}),
    credit({"clientId": "CLIENT_001", "amount": 1.25, "reference": "R-1", "description": "é"}),
    debit({"clientId": "CLIENT_001", "amount": 20, "reference": "B-1"}),
    credit(b'{"amount": 7, "clientId": "CLIENT_001"}'),
    credit({"clientId": "CLIENT_001", "amount": 1.25, "reference": "R-1"}),  # duplicate (allow)
    signed("GET", BAL, "clientId=CLIENT%5F001&extra=a+b"),
    signed("GET", BAL, "clientId=CLIENT_001", secret="acme-secret-0001"),
    credit({"clientId": "CLIENT_001", "amount": 2}, secret="acme-secret-0001"),
    signed("GET", BAL, "clientId=CLIENT_001", secret="acme-secret-0001"),
    signed("GET", BAL, "clientId=CLIENT_001"),
]
OTHERS = [
    debit({"clientId": "CLIENT_001", "amount": 10**7}),  # insufficient
    debit({"clientId": "CLIENT_INSUFFICIENT", "amount": 1}),  # scenario
    credit({"clientId": "NOBODY", "amount": 1}),
    credit({"clientId": "CLIENT_001", "amount": -1, "description": 5}),
    credit({"clientId": "CLIENT_001"}),
    credit({"clientId": 7, "amount": 1}),
    credit(b"[1, 2]"),
    credit(b"{not json"),
    credit(b""),
    credit({"clientId": "CLIENT_APPLIED_THEN_FAILED", "amount": 3}),
    credit({"clientId": "CLIENT_001", "amount": 1}, signature="0" * 64),
    credit({"clientId": "CLIENT_001", "amount": 1}, timestamp="1"),
    signed("GET", BAL, "clientId=CLIENT_001", signature=""),
    signed("GET", BAL, "clientId=CLIENT_001", signature="f" * 64),
    signed("GET", BAL, "clientId=CLIENT_001", timestamp=str(int(time.time() * 1000))),
    signed("GET", BAL, ""),
    signed("GET", BAL, "clientId="),
    signed("GET", BAL, "clientId=NOBODY"),
    signed("GET", BAL, "clientId=CLIENT_NOT_FOUND"),
    signed("GET", BAL, "clientId=CLIENT_FLAKY"),
    signed("GET", BAL, "clientId=CLIENT_FLAKY"),
    signed("GET", BAL, "clientId=CLIENT_FLAKY"),
    signed("GET", BAL, "clientId=CLIENT_001&clientId=CLIENT_002"),
    signed("GET", TXN, "clientId=CLIENT_001&limit=0&page=x&type=both&dateFrom=nope"),
    signed("GET", TXN, "clientId=CLIENT_VALIDATION"),
    signed("HEAD", BAL, "clientId=CLIENT_001"),
    signed("GET", BAL + "/", "clientId=CLIENT_001"),
    signed("GET", BAL, "clientId=CLIENT_001&pad=" + "x" * 9000),
    signed("POST", BAL, "clientId=CLIENT_001"),
    signed("GET", "/api/v1/credit-balance", "clientId=CLIENT_001"),
]


def make(tmp_path: Path, **settings: Any) -> tuple[Flask, Flask]:
    """(with the direct path, without it): two sandboxes with the same settings."""
    scenarios = tmp_path / "scenarios.yaml"
    scenarios.write_text((REPO / "scenarios.yaml").read_text() + PARTNERS)
    config = Config(db=":memory:", scenarios=str(scenarios), **settings)
    direct, flask_only = create_app(config), create_app(config)
    assert isinstance(direct.wsgi_app, Direct)
    flask_only.wsgi_app = flask_only.wsgi_app.app  # type: ignore[attr-defined,method-assign]
    return direct, flask_only


def send(app: Flask, request: Request) -> tuple[int, list[tuple[str, str]], bytes]:
    method, path, query, body, headers = request
    response = app.test_client().open(
        path, method=method, query_string=query, data=body, headers=headers
    )
    return response.status_code, list(response.headers.items()), TIME.sub(b"T", response.data)


def journal(app: Flask) -> list[dict[str, Any]]:
    entries = []
    for tenant in app.extensions["sandbox"].tenants.values():
        for entry in tenant.journal.query():
            data = entry.to_json()
            for key in ("id", "time", "epoch", "latencyMs"):
                data.pop(key)
            data["responseBody"] = TIME.sub(b"T", data["responseBody"].encode()).decode()
            entries.append(data)
    return entries


def count_flask(app: Flask) -> list[str]:
    """Record the paths that reach the Flask app behind the direct path."""
    seen: list[str] = []
    direct: Direct = app.wsgi_app  # type: ignore[assignment]
    inner = direct.app

    def counting(environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        seen.append(environ["PATH_INFO"])
        return inner(environ, start)

    direct.app = counting
    return seen


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"duplicate_reference": "reject"},
        {"duplicate_reference": "replay"},
        {"signing_payload": "raw"},
        {"explain_in_body": True},
    ],
    ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "defaults",
)
def test_same_answers_and_journal_as_flask(tmp_path: Path, settings: dict[str, Any]) -> None:
    direct, flask_only = make(tmp_path, **settings)
    for request in ORDINARY + OTHERS + ORDINARY:
        assert send(direct, request) == send(flask_only, request), request[:3]
    assert journal(direct) == journal(flask_only)


def test_ordinary_requests_never_reach_flask(tmp_path: Path) -> None:
    direct, _ = make(tmp_path)
    seen = count_flask(direct)
    for request in ORDINARY:
        status, _, _ = send(direct, request)
        assert status == 200, request[:3]
    assert seen == []
    for request in OTHERS:
        send(direct, request)
    assert len(seen) == len(OTHERS)  # every one of them is Flask's to answer


def test_an_unexpected_error_is_answered_once_like_flask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    direct, flask_only = make(tmp_path)
    seen = count_flask(direct)
    calls: list[str] = []
    for app in (direct, flask_only):
        store = app.extensions["sandbox"].store

        def broken(client_id: str, *args: Any, **kwargs: Any) -> Any:
            calls.append(client_id)
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(store, "apply", broken)
    request = credit({"clientId": "CLIENT_001", "amount": 1})
    answer = send(direct, request)
    assert answer == send(flask_only, request)
    assert answer[0] == 500
    assert json.loads(answer[2])["message"] == "Failed to credit balance"
    assert calls == ["CLIENT_001", "CLIENT_001"]  # once per sandbox: never run twice
    assert seen == []
    assert journal(direct) == journal(flask_only)
