"""Golden answers of the API pipeline: status, headers in order, body bytes, journal entries.

The corpus was first recorded when two bodies of code answered ``/api/v1/*`` (the Flask
pipeline and a direct WSGI path in front of it, which a differential test held byte for byte
equal); the one pipeline that replaced both must answer every request exactly as they did.
Each configuration replays the same requests, in order, against a fresh in-memory sandbox at a
frozen clock, so that timestamps, StringToSigns and ``createdAt`` values are reproducible.

Deliberate changes since the recording: a POST refused on its headers alone (no signature,
no timestamp, a stale one) is journaled without its clientId, because its body is no longer
parsed at all (work before trust stays cheap); the journal (and a 401 body with explanations
turned on) gives the StringToSign in real characters (headers still escape it); journal
entries keep the signature headers sent and the answer's headers.

After a deliberate change of behaviour, regenerate with ``SANDBOX_REGENERATE_GOLDEN=1`` and
review the diff of ``tests/golden/pipeline.json`` like code.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import SECRET
from flask import Flask

from sandbox import signing
from sandbox.app import create_app
from sandbox.config import Config

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden" / "pipeline.json"
NOW = 1_780_000_000  # the frozen clock: 2026-05-28T20:26:40Z
TS = str(NOW)
TOKEN = re.compile(r"[A-Za-z0-9]{64}")
PARTNERS = """
partners:
  acme: {secret: acme-secret-0001}
"""

Request = dict[str, Any]


def signed(
    method: str,
    path: str,
    query: str = "",
    body: bytes = b"",
    *,
    secret: str = SECRET,
    timestamp: str = TS,
    signature: str | None = None,
    sign_as: str | None = None,
    headers: dict[str, str] | None = None,
) -> Request:
    """A request signed as a correct client signs it (or with the given signature)."""
    as_method = sign_as or method
    if as_method in ("GET", "HEAD"):
        sig = signing.hmac_hex(
            secret,
            signing.string_to_sign(as_method, path, timestamp, signing.canonical_query(query)),
        )
    else:
        sig = signing.hmac_hex(
            secret, signing.string_to_sign(as_method, path, timestamp, signing.canonical_json(body))
        )
    sent = {"x-timestamp": timestamp, "x-signature": signature if signature is not None else sig}
    if body:
        sent["content-type"] = "application/json"
    sent.update(headers or {})
    return {"method": method, "path": path, "query": query, "body": body.decode(), "headers": sent}


def post(path: str, body: dict[str, Any] | bytes, **kw: Any) -> Request:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return signed("POST", path, body=raw, **kw)


BAL = "/api/v1/get-balance"
TXN = "/api/v1/get-transactions"
CREDIT = "/api/v1/credit-balance"
DEBIT = "/api/v1/debit-balance"
TOKEN_PATH = "/api/v1/generate-auth-token"
USER = {"username": "player1", "displayName": "Player One", "ipAddress": "10.0.0.1"}

ORDINARY = [
    signed("GET", BAL, "clientId=CLIENT_001"),
    signed("GET", TXN, "clientId=CLIENT_001&limit=100"),
    signed("GET", TXN, "clientId=CLIENT_001&limit=5&page=2&type=debit&sortBy=amount&sortOrder=asc"),
    signed("GET", TXN, "clientId=CLIENT_001&dateFrom=2026-01-01&dateTo=2026-01-31"),
    post(CREDIT, {"clientId": "CLIENT_001", "amount": 100.50}),
    post(
        CREDIT, {"clientId": "CLIENT_001", "amount": 1.25, "reference": "R-1", "description": "é"}
    ),
    post(DEBIT, {"clientId": "CLIENT_001", "amount": 20, "reference": "B-1"}),
    post(CREDIT, b'{"amount": 7, "clientId": "CLIENT_001"}'),
    post(CREDIT, {"clientId": "CLIENT_001", "amount": 1.25, "reference": "R-1"}),  # duplicate
    signed("GET", BAL, "clientId=CLIENT%5F001&extra=a+b"),
    signed("GET", BAL, "clientId=CLIENT_001", secret="acme-secret-0001"),
    post(CREDIT, {"clientId": "CLIENT_001", "amount": 2}, secret="acme-secret-0001"),
    signed("GET", BAL, "clientId=CLIENT_001", secret="acme-secret-0001"),
    signed("GET", BAL, "clientId=CLIENT_001"),
    post(TOKEN_PATH, {"clientId": "NEW_PLAYER", **USER}),
    post(TOKEN_PATH, {"clientId": "CLIENT_001", **USER, "expiration": 30}),
    signed("GET", BAL, "clientId=NEW_PLAYER"),
]
OTHERS = [
    post(DEBIT, {"clientId": "CLIENT_001", "amount": 10**7}),  # insufficient
    post(DEBIT, {"clientId": "CLIENT_INSUFFICIENT", "amount": 1}),  # scenario
    post(CREDIT, {"clientId": "NOBODY", "amount": 1}),
    post(CREDIT, {"clientId": "CLIENT_001", "amount": -1, "description": 5}),
    post(CREDIT, {"clientId": "CLIENT_001"}),
    post(CREDIT, {"clientId": 7, "amount": 1}),
    post(CREDIT, b"[1, 2]"),
    post(CREDIT, b"{not json"),
    post(CREDIT, b""),
    post(CREDIT, {"clientId": "CLIENT_APPLIED_THEN_FAILED", "amount": 3}),
    post(DEBIT, {"clientId": "CLIENT_APPLIED_THEN_FAILED", "amount": 10**6}),
    post(CREDIT, {"clientId": "CLIENT_001", "amount": 1}, signature="0" * 64),
    post(CREDIT, {"clientId": "CLIENT_001", "amount": 1}, timestamp="1"),
    post(CREDIT, {"clientId": "CLIENT_001", "amount": 1}, signature=""),
    post(CREDIT, {"clientId": "CLIENT_001", "amount": 1}, headers={"x-timestamp": ""}),
    post(
        CREDIT, {"clientId": "CLIENT_001", "amount": 100.50, "description": "Café"}, sign_as="post"
    ),
    post(
        CREDIT,
        b'{"clientId": "CLIENT_001", "amount": 5}',
        signature=signing.hmac_hex(
            SECRET,
            signing.string_to_sign("POST", CREDIT, TS, b'{"clientId": "CLIENT_001", "amount": 5}'),
        ),
    ),
    post(
        CREDIT,
        {"clientId": "CLIENT_001", "amount": 1},
        secret="acme-secret-0001",
        signature="1" * 64,
    ),
    signed("GET", BAL, "clientId=CLIENT_001", signature=""),
    signed("GET", BAL, "clientId=CLIENT_001", signature="f" * 64),
    signed("GET", BAL, "clientId=CLIENT_001", timestamp=str(NOW * 1000)),
    signed("GET", BAL, "clientId=CLIENT_001", timestamp=str(NOW + 301)),
    signed("GET", BAL, "clientId=CLIENT_001", timestamp=str(NOW - 300)),
    signed(
        "GET",
        BAL,
        "clientId=CLIENT_001&b=2",
        signature=signing.hmac_hex(
            SECRET, signing.string_to_sign("GET", BAL, TS, b"clientId=CLIENT_001&b=2")
        ),
    ),
    signed("GET", BAL, ""),
    signed("GET", BAL, "clientId="),
    signed("GET", BAL, "clientId=NOBODY"),
    signed("GET", BAL, "clientId=CLIENT_NOT_FOUND"),
    signed("GET", BAL, "clientId=CLIENT_VALIDATION"),
    signed("GET", BAL, "clientId=CLIENT_BAD_SIGNATURE"),
    signed("GET", BAL, "clientId=CLIENT_SERVER_ERROR"),
    signed("GET", BAL, "clientId=CLIENT_DROP"),
    signed("GET", BAL, "clientId=CLIENT_FLAKY"),
    signed("GET", BAL, "clientId=CLIENT_FLAKY"),
    signed("GET", BAL, "clientId=CLIENT_FLAKY"),
    signed("GET", BAL, "clientId=CLIENT_001&clientId=CLIENT_002"),
    signed("GET", TXN, "clientId=CLIENT_001&limit=0&page=x&type=both&dateFrom=nope"),
    signed("GET", TXN, "clientId=CLIENT_VALIDATION"),
    signed("GET", TXN, "clientId=NOBODY"),
    post(TOKEN_PATH, {"clientId": "X" * 300, "username": 5}),
    post(TOKEN_PATH, {"clientId": "CLIENT_SERVER_ERROR", **USER}),
    signed("HEAD", BAL, "clientId=CLIENT_001"),
    signed("HEAD", BAL, "clientId=CLIENT_001", sign_as="GET"),
    signed("GET", BAL + "/", "clientId=CLIENT_001"),
    signed("GET", "/api/v1//get-balance", "clientId=CLIENT_001"),
    signed("GET", "/api/v1/nothing", "clientId=CLIENT_001"),
    signed("GET", "/api/v2/get-balance", "clientId=CLIENT_001"),
    signed("GET", BAL, "clientId=CLIENT_001&pad=" + "x" * 9000),
    signed("GET", BAL, "clientId=CLIENT_001", headers={"x-pad": "y" * 17000}),
    post(CREDIT, b'{"clientId": "CLIENT_001", "amount": 1, "pad": "' + b"z" * 70000 + b'"}'),
    signed("POST", BAL, "clientId=CLIENT_001"),
    signed("PUT", CREDIT, body=b"{}"),
    signed("DELETE", BAL, "clientId=CLIENT_001"),
    signed("OPTIONS", BAL),
    signed("GET", "/api/v1/credit-balance", "clientId=CLIENT_001"),
]
CONFIGS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "reject": {"duplicate_reference": "reject"},
    "replay": {"duplicate_reference": "replay"},
    "raw": {"signing_payload": "raw"},
    "explain": {"explain_in_body": True},
}
CORPUS = ORDINARY + OTHERS + ORDINARY


def mask(text: str) -> str:
    """Login tokens are random: the only part of an answer that is not reproducible."""
    return TOKEN.sub("<token>", text)


def digest(text: str) -> str | dict[str, Any]:
    """A long text as its length, head and SHA-256: exact, and the golden file stays small."""
    if len(text) <= 2000:
        return text
    return {
        "length": len(text),
        "head": text[:200],
        "sha256": hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
    }


def make(tmp_path: Path, **settings: Any) -> Flask:
    scenarios = tmp_path / "scenarios.yaml"
    scenarios.write_text((REPO / "scenarios.yaml").read_text() + PARTNERS)
    config = Config(db=":memory:", scenarios=str(scenarios), **settings)
    app = create_app(config)
    app.extensions["sandbox"].base_url = "http://sandbox.test"
    return app


def exchange(app: Flask, request: Request) -> dict[str, Any]:
    response = app.test_client().open(
        request["path"],
        method=request["method"],
        query_string=request["query"],
        data=request["body"].encode(),
        headers=request["headers"],
    )
    return {
        "request": f"{request['method']} {request['path']}?{request['query'][:80]}",
        "status": response.status_code,
        "headers": [[k, mask(v)] for k, v in response.headers.items()],
        "body": digest(mask(response.get_data().decode("utf-8", "backslashreplace"))),
    }


def journal(app: Flask) -> list[dict[str, Any]]:
    entries = []
    for tenant in app.extensions["sandbox"].tenants.values():
        for entry in tenant.journal.query():
            data = entry.to_json()
            del data["latencyMs"]
            data["tenant"] = tenant.name
            data["responseBody"] = digest(mask(data["responseBody"]))
            data["query"] = digest(data["query"])
            entries.append(data)
    return entries


def record(tmp_path: Path, settings: dict[str, Any]) -> dict[str, Any]:
    app = make(tmp_path, **settings)
    answers = [exchange(app, request) for request in CORPUS]
    return {"answers": answers, "journal": journal(app)}


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: float(NOW))


@pytest.mark.usefixtures("frozen_clock")
@pytest.mark.parametrize("name", list(CONFIGS))
def test_answers_and_journal_match_the_golden_corpus(tmp_path: Path, name: str) -> None:
    got = record(tmp_path, CONFIGS[name])
    if os.environ.get("SANDBOX_REGENERATE_GOLDEN"):
        golden = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
        golden[name] = got
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(golden, indent=1, ensure_ascii=False) + "\n")
    want = json.loads(GOLDEN.read_text())[name]
    assert len(got["answers"]) == len(want["answers"])
    for got_answer, want_answer in zip(got["answers"], want["answers"], strict=True):
        assert got_answer == want_answer
    assert got["journal"] == want["journal"]
