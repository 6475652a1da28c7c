"""Hosted-sandbox limits: oversized requests get the envelope; stalled clients block nobody."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from sandbox.client import SandboxClient
from sandbox.process import ServerProcess

ENVELOPE_KEYS = {"status", "message", "data"}


def test_query_over_8k_is_414(client: FlaskClient) -> None:
    r = client.get("/api/v1/get-balance?clientId=" + "x" * 9000)
    assert r.status_code == 414
    assert json.loads(r.data) == {"status": "failed", "message": "URI too long", "data": None}


def test_headers_over_16k_are_431(client: FlaskClient) -> None:
    r = client.get("/api/v1/get-balance", headers={f"X-Pad-{i}": "p" * 1000 for i in range(20)})
    assert r.status_code == 431
    assert json.loads(r.data)["message"] == "Request header fields too large"


def test_too_many_runtime_scenarios(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from sandbox.scenarios import engine

    monkeypatch.setattr(engine, "MAX_OVERRIDES", 3)
    for i in range(3):
        assert client.put(f"/__sandbox/scenarios/C{i}", json={"outcome": "drop"}).status_code == 200
    r = client.put("/__sandbox/scenarios/C9", json={"outcome": "drop"})
    assert r.status_code == 400
    assert (
        json.loads(r.data)["data"]["errors"]["clientId"][0]
        == "At most 3 runtime scenarios at once."
    )
    assert client.put("/__sandbox/scenarios/C1", json={"outcome": "success"}).status_code == 200


def test_expired_override_counters_are_dropped() -> None:
    from sandbox.scenarios import Engine, ScenarioSet, parse_runtime_rule

    e = Engine(ScenarioSet())
    for i in range(50):
        rule, times = parse_runtime_rule({"sequence": ["drop", "success"], "times": 1})
        e.set_override(f"C{i}", rule, times)
        e.pick(f"C{i}", "get-balance")
    assert e._counters == {}  # nothing left behind by 50 expired overrides
    assert e.active()["overrides"] == {}


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess(["--port", "0", "--db", ":memory:", "--quiet"]) as proc:
        yield proc


def test_stalled_clients_do_not_block_others(server: ServerProcess) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    stalled = []
    try:
        for _ in range(30):  # more than the 4 worker threads, each mid-request, silent
            sock = socket.create_connection((host, int(port)), timeout=5)
            sock.sendall(
                b"POST /api/v1/credit-balance HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"
            )
            stalled.append(sock)
        started = time.monotonic()
        reply = SandboxClient(server.url, timeout=5).get(
            "/api/v1/get-balance", {"clientId": "CLIENT_001"}
        )
        assert reply.status == 200
        assert time.monotonic() - started < 5
    finally:
        for sock in stalled:
            sock.close()


def test_a_body_between_64k_and_the_server_cap_gets_the_envelope(server: ServerProcess) -> None:
    reply = SandboxClient(server.url).send(
        "POST", server.url + "/api/v1/credit-balance", b"x" * (200 * 1024), {}
    )
    assert reply.status == 413
    assert set(json.loads(reply.body)) == ENVELOPE_KEYS
