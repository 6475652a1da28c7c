"""The request journal: what it records, its filters, its bound, and what it never holds."""

from __future__ import annotations

import json
from typing import Any

from conftest import Signed
from flask import Flask
from flask.testing import FlaskClient

from sandbox.app import create_app
from sandbox.config import Config
from sandbox.journal import Entry, Journal


def requests(client: FlaskClient, query: str = "") -> list[dict[str, Any]]:
    r = client.get(f"/__sandbox/requests{query}")
    assert r.status_code == 200
    return json.loads(r.data)["data"]["requests"]


def test_records_api_requests_newest_first(signed: Signed, client: FlaskClient) -> None:
    signed.get("/api/v1/get-balance", {"clientId": "CLIENT_001"})
    signed.post("/api/v1/credit-balance", {"clientId": "CLIENT_002", "amount": 1})
    client.get("/__sandbox/health")  # the control plane is not journaled
    got = requests(client)
    assert [e["path"] for e in got] == ["/api/v1/credit-balance", "/api/v1/get-balance"]
    credit = got[0]
    assert credit["clientId"] == "CLIENT_002"
    assert credit["status"] == 200
    assert credit["signature"] == {"verdict": "valid"}
    assert credit["scenario"] == "none"
    assert credit["requestBody"] == '{"clientId": "CLIENT_002", "amount": 1}'
    assert json.loads(credit["responseBody"])["message"] == "Balance credited successfully"
    assert credit["latencyMs"] >= 0
    assert got[1]["query"] == "clientId=CLIENT_001"


def test_rejected_request_keeps_client_and_diagnosis(signed: Signed, client: FlaskClient) -> None:
    signed.get("/api/v1/get-balance", {"clientId": "CLIENT_003"}, secret="wrong-secret")
    (entry,) = requests(client)
    assert entry["status"] == 401
    assert entry["clientId"] == "CLIENT_003"
    assert entry["signature"]["verdict"] == "mismatch"
    assert entry["signature"]["stringToSign"].startswith("GET/api/v1/get-balance")
    assert "wrong-secret" not in json.dumps(entry)


def test_filters_and_jsonl(signed: Signed, client: FlaskClient) -> None:
    signed.get("/api/v1/get-balance", {"clientId": "CLIENT_001"})
    signed.get("/api/v1/get-balance", {"clientId": "NOBODY"})
    signed.get("/api/v1/get-balance", {"clientId": "CLIENT_001"}, timestamp=1)
    assert [e["status"] for e in requests(client, "?clientId=CLIENT_001")] == [401, 200]
    assert [e["clientId"] for e in requests(client, "?status=404")] == ["NOBODY"]
    assert len(requests(client, "?status=200,404")) == 2
    assert len(requests(client, "?limit=1")) == 1
    assert requests(client, "?since=99999999999") == []
    newest = requests(client)[0]["id"]
    assert requests(client, f"?after={newest}") == []
    r = client.get("/__sandbox/requests?format=jsonl")
    assert r.mimetype == "application/x-ndjson"
    lines = r.data.decode().splitlines()
    assert [json.loads(x)["status"] for x in lines] == [401, 404, 200]
    assert client.get("/__sandbox/requests?status=abc").status_code == 400


def test_duplicates_are_flagged(signed: Signed, client: FlaskClient) -> None:
    for _ in range(2):
        signed.post(
            "/api/v1/credit-balance", {"clientId": "CLIENT_001", "amount": 1, "reference": "R"}
        )
    assert [e["flags"] for e in requests(client)] == [["duplicate-reference"], []]


def test_forced_scenario_and_drop_are_visible(signed: Signed, client: FlaskClient) -> None:
    client.put("/__sandbox/scenarios/CLIENT_001", json={"outcome": "server-error"})
    signed.get("/api/v1/get-balance", {"clientId": "CLIENT_001"})
    (entry,) = requests(client)
    assert entry["scenario"].startswith("server-error; client=CLIENT_001")
    assert entry["status"] == 500


def test_reset_and_delete_clear_it(signed: Signed, client: FlaskClient) -> None:
    signed.get("/api/v1/get-balance", {"clientId": "CLIENT_001"})
    client.post("/__sandbox/reset")
    assert requests(client) == []
    signed.get("/api/v1/get-balance", {"clientId": "CLIENT_001"})
    client.delete("/__sandbox/requests")
    assert requests(client) == []


def test_bounded_ring_buffer() -> None:
    app = create_app(Config(db=":memory:", journal_size=5))
    signed = Signed(app.test_client())
    for i in range(12):
        signed.get("/api/v1/get-balance", {"clientId": f"C{i}"})
    got = requests(app.test_client())
    assert [e["clientId"] for e in got] == [f"C{i}" for i in range(11, 6, -1)]


def test_bodies_are_truncated(app: Flask, signed: Signed, client: FlaskClient) -> None:
    signed.post(
        "/api/v1/credit-balance", {"clientId": "CLIENT_001", "amount": 1, "description": "d" * 5000}
    )
    (entry,) = requests(client)
    assert entry["requestBody"].endswith("more bytes]")
    assert len(entry["requestBody"]) < 2100


def an_entry(**values: Any) -> Entry:
    """A journal entry of an empty GET /, with ``values`` changed."""
    defaults: dict[str, Any] = {
        "epoch": 0.0,
        "method": "GET",
        "path": "/",
        "query": b"",
        "client_id": None,
        "status": 200,
        "latency": 0.001,
        "signature": None,
        "scenario": "none",
        "request_body": b"",
        "request_length": 0,
        "response_body": b"",
        "response_length": 0,
    }
    return Entry(**{**defaults, **values})


def test_journal_unit() -> None:
    journal = Journal(2)
    for i in range(3):
        journal.add(an_entry(epoch=float(i), client_id=str(i)))
    assert len(journal) == 2 and journal.size == 2
    assert [e.client_id for e in journal.query(since=2.0)] == ["2"]


def test_a_long_answer_is_cut_at_2048_bytes_saying_how_many_more(
    signed: Signed, client: FlaskClient
) -> None:
    """The count is of the whole answer, not of the bytes the journal kept (it once said
    "[1 more bytes]" of every answer over the limit)."""
    answer = signed.get("/api/v1/get-transactions", {"clientId": "CLIENT_001", "limit": "100"})
    assert len(answer.data) > 10_000
    (entry,) = requests(client)
    head = answer.data[:2048].decode()
    assert entry["responseBody"] == f"{head}...[{len(answer.data) - 2048} more bytes]"


def test_an_answer_of_exactly_2048_bytes_is_whole() -> None:
    whole = an_entry(response_body=b"x" * 2048, response_length=2048)
    assert whole.to_json()["responseBody"] == "x" * 2048
