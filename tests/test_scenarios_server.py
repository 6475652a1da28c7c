"""Scenarios against real servers: faults on the wire, sequences, precedence, hot reload, check.

Every test here talks HTTP to a real ``sabong-sandbox serve`` process (waitress), because the
faults only exist on a real socket: a dropped connection, a request held past the client's
timeout, a broken 200 body. One server with the shipped ``scenarios.yaml`` is shared by the
module and reset before each test; the hot-reload test runs its own server on a copy of the
file, and the ``scenarios check`` / broken ``serve`` tests run the console script.

Real waits are short runtime overrides (``after: 1.5``, ``delay: 0.3``); the shipped 2 s
``CLIENT_SLOW`` is waited for once, the 35 s ``CLIENT_TIMEOUT`` never (only listed).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from sandbox import signing
from sandbox.client import Reply, SandboxClient
from sandbox.config import DEFAULT_SECRET
from sandbox.process import ServerProcess, command

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "scenarios.yaml"

TOKEN = "/api/v1/generate-auth-token"
BALANCE = "/api/v1/get-balance"
CREDIT = "/api/v1/credit-balance"
TRANSACTIONS = "/api/v1/get-transactions"

SERVER_ERROR_CREDIT = {
    "status": "failed",
    "message": "Failed to credit balance",
    "data": {"error": "Database connection failed"},
}
INVALID_SIGNATURE = {"status": "error", "message": "Invalid signature", "data": None}


def serve_args(scenarios: Path) -> list[str]:
    return ["--port", "0", "--db", ":memory:", "--scenarios", str(scenarios), "--quiet"]


# --------------------------------------------------------------------------- helpers


class Sandbox:
    """A signing client for a running server, plus its control plane."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = SandboxClient(url)
        parts = urlsplit(url)
        assert parts.hostname is not None and parts.port is not None
        self.host = parts.hostname
        self.port = parts.port

    def get(self, path: str, params: dict[str, Any], **kwargs: Any) -> Reply:
        return self.client.get(path, params, **kwargs)

    def post(self, path: str, body: dict[str, Any]) -> Reply:
        return self.client.post(path, body)

    def control(self, method: str, path: str, body: Any = None) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        reply = self.client.send(
            method, self.url + "/__sandbox" + path, data, {"content-type": "application/json"}
        )
        assert reply.status == 200, (method, path, reply.status, reply.body)
        return reply

    def force(self, client_id: str, rule: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = self.control("PUT", f"/scenarios/{client_id}", rule).json()["data"]
        return data

    def balance(self, client_id: str) -> float:
        reply = self.get(BALANCE, {"clientId": client_id})
        assert reply.status == 200, reply.body
        assert reply.headers["X-Sandbox-Scenario"] == "none"
        balance: float = reply.json()["data"]["balance"]
        return balance

    def newest_transactions(self, client_id: str) -> dict[str, Any]:
        reply = self.get(
            TRANSACTIONS, {"clientId": client_id, "sortBy": "id", "sortOrder": "desc", "limit": 1}
        )
        assert reply.status == 200, reply.body
        data: dict[str, Any] = reply.json()["data"]
        return data

    def signed_headers(
        self, method: str, path: str, *, query: str = "", body: bytes = b""
    ) -> dict[str, str]:
        ts = str(int(time.time()))
        if method == "GET":
            sig = signing.sign(DEFAULT_SECRET, method, path, ts, query=query)
        else:
            sig = signing.sign(DEFAULT_SECRET, method, path, ts, body=body)
        return {"x-timestamp": ts, "x-signature": sig, "content-type": "application/json"}

    def post_expecting_drop(self, path: str, body: dict[str, Any], timeout: float = 5) -> None:
        """POST with http.client and expect the connection to be closed with no response."""
        raw = json.dumps(body).encode()
        with closing(http.client.HTTPConnection(self.host, self.port, timeout=timeout)) as conn:
            conn.request("POST", path, raw, self.signed_headers("POST", path, body=raw))
            with pytest.raises(http.client.RemoteDisconnected):
                conn.getresponse()


def elapsed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.monotonic()
    result = fn(*args, **kwargs)
    return result, time.monotonic() - start


def statuses(sandbox: Sandbox, path: str, body_or_params: dict[str, Any], n: int) -> list[int]:
    send = sandbox.post if path == CREDIT else sandbox.get
    return [send(path, body_or_params).status for _ in range(n)]


def reference() -> str:
    return f"scn-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    process = ServerProcess(serve_args(SHIPPED))
    try:
        yield process
    finally:
        assert process.stop() == 0, process.stderr


@pytest.fixture
def sandbox(server: ServerProcess) -> Sandbox:
    box = Sandbox(server.url)
    box.control("POST", "/reset")
    return box


# --------------------------------------------------------------------------- 1. drop


def test_drop_closes_the_connection_without_a_byte_and_the_server_keeps_serving(
    sandbox: Sandbox,
) -> None:
    query = urlencode({"clientId": "CLIENT_DROP"})
    headers = sandbox.signed_headers("GET", BALANCE, query=query)
    request = f"GET {BALANCE}?{query} HTTP/1.1\r\nHost: {sandbox.host}:{sandbox.port}\r\n"
    request += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    received = b""
    with socket.create_connection((sandbox.host, sandbox.port), timeout=5) as sock:
        sock.sendall(request.encode())
        while chunk := sock.recv(4096):
            received += chunk
    assert received == b""  # an orderly close, before any byte of a response

    # A runtime drop over http.client: the client library sees the server hang up.
    # A plain drop happens before the operation: unlike applied-then-failed, nothing is applied.
    balance = sandbox.balance("CLIENT_002")
    sandbox.force("CLIENT_002", {"outcome": "drop"})
    credit = {"clientId": "CLIENT_002", "amount": 1, "reference": reference()}
    sandbox.post_expecting_drop(CREDIT, credit)
    sandbox.control("DELETE", "/scenarios/CLIENT_002")
    assert sandbox.balance("CLIENT_002") == balance

    reply = sandbox.get(BALANCE, {"clientId": "CLIENT_001"})
    assert reply.status == 200
    assert reply.json()["data"]["balance"] == 1500.5
    assert reply.headers["X-Sandbox-Scenario"] == "none"


# --------------------------------------------------------------------------- 2. timeout


def test_timeout_holds_the_request_past_a_short_client_timeout(sandbox: Sandbox) -> None:
    forced = sandbox.force("CLIENT_001", {"outcome": "timeout", "after": 1.5})
    assert forced["steps"] == [{"outcome": "timeout", "after": 1.5}]

    impatient = SandboxClient(sandbox.url, timeout=0.5)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        impatient.get(BALANCE, {"clientId": "CLIENT_001"})
    assert time.monotonic() - start >= 0.45  # the client gave up, the server never answered

    patient = SandboxClient(sandbox.url, timeout=5)
    reply, took = elapsed(patient.get, BALANCE, {"clientId": "CLIENT_001"})
    assert took >= 1.5
    assert reply.status == 200
    assert reply.json()["data"]["balance"] == 1500.5
    assert reply.headers["X-Sandbox-Scenario"].startswith("timeout; client=CLIENT_001")


def test_the_shipped_timeout_client_is_listed_with_35_seconds(sandbox: Sandbox) -> None:
    data = sandbox.control("GET", "/scenarios").json()["data"]
    rule = data["rules"]["CLIENT_TIMEOUT"]
    assert rule["steps"] == [{"outcome": "timeout", "after": 35}]
    assert data["clients"]["CLIENT_TIMEOUT"] == {"balance": 1000}
    assert Path(data["source"]) == SHIPPED


# --------------------------------------------------------------------------- 3. delay


def test_delay_answers_normally_after_the_delay(sandbox: Sandbox) -> None:
    forced = sandbox.force("CLIENT_001", {"delay": 0.3})
    assert forced["steps"] == [{"outcome": "success", "delay": "0.3s"}]
    reply, took = elapsed(sandbox.get, BALANCE, {"clientId": "CLIENT_001"})
    assert took >= 0.3
    assert reply.status == 200
    assert reply.json()["data"]["clientId"] == "CLIENT_001"
    assert reply.headers["X-Sandbox-Scenario"].startswith("success; client=CLIENT_001")


def test_the_shipped_slow_client_answers_after_two_seconds(sandbox: Sandbox) -> None:
    reply, took = elapsed(sandbox.get, BALANCE, {"clientId": "CLIENT_SLOW"})
    assert took >= 2.0
    assert reply.status == 200
    assert reply.json()["data"]["balance"] == 1000


# --------------------------------------------------------------------------- 4. applied-then-failed


def test_applied_then_failed_commits_the_credit_and_answers_500(sandbox: Sandbox) -> None:
    client_id = "CLIENT_APPLIED_THEN_FAILED"
    before = sandbox.newest_transactions(client_id)["totalCount"]
    assert sandbox.balance(client_id) == 1000
    ref = reference()

    reply = sandbox.post(CREDIT, {"clientId": client_id, "amount": 10, "reference": ref})
    assert reply.status == 500
    assert reply.json() == SERVER_ERROR_CREDIT
    assert reply.body == json.dumps(SERVER_ERROR_CREDIT, separators=(",", ":")).encode()
    assert reply.headers["X-Sandbox-Scenario"].startswith("applied-then-failed;")

    assert sandbox.balance(client_id) == 1010
    after = sandbox.newest_transactions(client_id)
    assert after["totalCount"] == before + 1
    newest = after["data"][0]
    assert (newest["referenceId"], newest["type"], newest["amount"]) == (ref, "credit", "10.00")


def test_applied_then_dropped_commits_the_credit_and_closes_the_connection(
    sandbox: Sandbox,
) -> None:
    client_id = "CLIENT_002"
    rule = {"endpoints": {"credit-balance": {"outcome": "applied-then-failed", "then": "drop"}}}
    forced = sandbox.force(client_id, rule)
    assert forced["endpoints"] == {
        "credit-balance": {"steps": [{"outcome": "applied-then-failed", "then": "drop"}]}
    }
    balance = sandbox.balance(client_id)  # other endpoints are not affected
    before = sandbox.newest_transactions(client_id)["totalCount"]
    ref = reference()

    sandbox.post_expecting_drop(CREDIT, {"clientId": client_id, "amount": 10, "reference": ref})

    assert sandbox.balance(client_id) == pytest.approx(balance + 10)
    after = sandbox.newest_transactions(client_id)
    assert after["totalCount"] == before + 1
    assert after["data"][0]["referenceId"] == ref


# --------------------------------------------------------------------------- 5. malformed


@pytest.mark.parametrize("body", [None, "truncated", "html", "empty"])
def test_malformed_answers_200_with_a_body_that_is_not_json(
    sandbox: Sandbox, body: str | None
) -> None:
    rule: dict[str, Any] = {"outcome": "malformed"}
    if body is not None:
        rule["body"] = body
    sandbox.force("CLIENT_001", rule)
    reply = sandbox.get(BALANCE, {"clientId": "CLIENT_001"})
    assert reply.status == 200
    assert reply.headers["X-Sandbox-Scenario"].startswith("malformed; client=CLIENT_001")
    with pytest.raises(ValueError):
        json.loads(reply.body)
    if body in (None, "truncated"):
        assert reply.body.startswith(b'{"status":"success","message":"Balance retrieved')
    elif body == "html":
        assert reply.body.startswith(b"<html>")
    else:
        assert reply.body == b""


# --------------------------------------------------------------------------- 6. sequences


def test_flaky_client_fails_twice_per_endpoint_then_stays_on_success(sandbox: Sandbox) -> None:
    balance = {"clientId": "CLIENT_FLAKY"}
    labels = []
    for expected in (500, 500, 200, 200):
        reply = sandbox.get(BALANCE, balance)
        assert reply.status == expected, reply.body
        labels.append(reply.headers["X-Sandbox-Scenario"])
    assert [label.split("; ")[0] for label in labels] == ["server-error"] * 2 + ["success"] * 2
    assert [label.split("; ")[-1] for label in labels] == ["step=1/3", "step=2/3"] + [
        "step=3/3"
    ] * 2
    assert sandbox.get(BALANCE, balance).json()["data"]["balance"] == 1000

    # credit-balance has its own position in the sequence.
    credit = {"clientId": "CLIENT_FLAKY", "amount": 5}
    first = sandbox.post(CREDIT, credit)
    assert first.json()["message"] == "Failed to credit balance"
    assert [first.status, *statuses(sandbox, CREDIT, credit, 3)] == [500, 500, 200, 200]
    assert sandbox.get(BALANCE, balance).json()["data"]["balance"] == 1010

    sandbox.control("POST", "/reset")
    assert statuses(sandbox, BALANCE, balance, 3) == [500, 500, 200]
    assert sandbox.get(BALANCE, balance).json()["data"]["balance"] == 1000


def test_an_override_for_two_requests_then_normal(sandbox: Sandbox) -> None:
    forced = sandbox.force("CLIENT_001", {"outcome": "server-error", "times": 2})
    assert forced["remaining"] == 2
    overrides = sandbox.control("GET", "/scenarios").json()["data"]["overrides"]
    assert overrides["CLIENT_001"]["remaining"] == 2

    first = sandbox.get(BALANCE, {"clientId": "CLIENT_001"})
    second = sandbox.get(TRANSACTIONS, {"clientId": "CLIENT_001"})  # counted per client
    assert (first.status, second.status) == (500, 500)
    assert first.json()["message"] == "Failed to get balance"
    assert second.json()["message"] == "Failed to get transactions"
    assert first.headers["X-Sandbox-Scenario"] == (
        "server-error; client=CLIENT_001; source=override"
    )

    assert sandbox.balance("CLIENT_001") == 1500.5
    assert statuses(sandbox, TRANSACTIONS, {"clientId": "CLIENT_001"}, 2) == [200, 200]
    assert sandbox.control("GET", "/scenarios").json()["data"]["overrides"] == {}


def test_a_cycling_sequence_alternates(sandbox: Sandbox) -> None:
    forced = sandbox.force("CLIENT_003", {"sequence": ["server-error", "success"], "cycle": True})
    assert forced["then"] == "cycle"
    assert statuses(sandbox, BALANCE, {"clientId": "CLIENT_003"}, 5) == [500, 200, 500, 200, 500]


def test_an_override_wins_over_the_file_and_delete_restores_it(sandbox: Sandbox) -> None:
    sandbox.force("CLIENT_NOT_FOUND", {"outcome": "success"})
    reply = sandbox.get(BALANCE, {"clientId": "CLIENT_NOT_FOUND"})
    assert reply.status == 404  # "success" means behave normally: the client does not exist
    assert reply.headers["X-Sandbox-Scenario"].startswith("success;")
    sandbox.force("CLIENT_NOT_FOUND", {"outcome": "server-error"})
    assert sandbox.get(BALANCE, {"clientId": "CLIENT_NOT_FOUND"}).status == 500
    removed = sandbox.control("DELETE", "/scenarios/CLIENT_NOT_FOUND").json()["data"]
    assert removed == {"clientId": "CLIENT_NOT_FOUND", "removed": True}
    reply = sandbox.get(BALANCE, {"clientId": "CLIENT_NOT_FOUND"})
    assert reply.status == 404
    assert reply.headers["X-Sandbox-Scenario"].endswith("source=file")


# --------------------------------------------------------------------------- 7. precedence


def test_a_bad_signature_wins_over_a_forced_scenario(sandbox: Sandbox) -> None:
    wrong = "0" * 64
    reply = sandbox.get(BALANCE, {"clientId": "CLIENT_NOT_FOUND"}, signature=wrong)
    assert reply.status == 401
    assert reply.json() == INVALID_SIGNATURE
    assert reply.headers["X-Sandbox-Signature-Reason"] == "mismatch"
    assert reply.headers["X-Sandbox-Scenario"] == "none"

    reply = sandbox.get(BALANCE, {"clientId": "CLIENT_NOT_FOUND"})
    assert reply.status == 404
    assert reply.headers["X-Sandbox-Scenario"] == (
        "not-found; client=CLIENT_NOT_FOUND; source=file"
    )

    # A refused request does not advance a sequence.
    for _ in range(3):
        assert sandbox.get(BALANCE, {"clientId": "CLIENT_FLAKY"}, signature=wrong).status == 401
    reply = sandbox.get(BALANCE, {"clientId": "CLIENT_FLAKY"})
    assert reply.status == 500
    assert reply.headers["X-Sandbox-Scenario"].endswith("step=1/3")


def test_every_response_names_its_scenario(sandbox: Sandbox) -> None:
    normal = [
        sandbox.get(BALANCE, {"clientId": "CLIENT_001"}),
        sandbox.get(BALANCE, {"clientId": "NOBODY"}),
        sandbox.post(TOKEN, {"clientId": "CLIENT_001"}),
        sandbox.get("/api/v1/nowhere", {}),
        sandbox.control("GET", "/health"),
    ]
    assert [r.headers["X-Sandbox-Scenario"] for r in normal] == ["none"] * len(normal)

    forced = {
        "CLIENT_NOT_FOUND": (404, "not-found"),
        "CLIENT_VALIDATION": (400, "validation"),
        "CLIENT_BAD_SIGNATURE": (401, "invalid-signature"),
        "CLIENT_SERVER_ERROR": (500, "server-error"),
    }
    for client_id, (status, outcome) in forced.items():
        reply = sandbox.get(BALANCE, {"clientId": client_id})
        assert reply.status == status, client_id
        assert reply.headers["X-Sandbox-Scenario"].startswith(f"{outcome}; client={client_id};")
    reply = sandbox.post(CREDIT, {"clientId": "CLIENT_INSUFFICIENT", "amount": 5})
    assert reply.status == 200  # only debits are refused
    reply = sandbox.post("/api/v1/debit-balance", {"clientId": "CLIENT_INSUFFICIENT", "amount": 1})
    assert reply.status == 400
    assert reply.headers["X-Sandbox-Scenario"].startswith("insufficient-balance;")


# --------------------------------------------------------------------------- 8. hot reload


class StderrReader:
    """Waits for text on a running server's stderr (which ServerProcess keeps in a file)."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server

    @property
    def seen(self) -> bytes:
        return self.server.stderr

    def wait_for(self, needle: bytes, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while needle not in self.server.stderr:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def everything(self) -> str:
        return self.server.stderr.decode("utf-8", "replace")


def rewrite(path: Path, text: str) -> None:
    """Write ``text`` and make sure the watcher sees a new mtime, whatever the clock's grain."""
    before = path.stat().st_mtime_ns
    path.write_text(text, "utf-8")
    bumped = max(path.stat().st_mtime_ns, before + 1_000_000_000)
    os.utime(path, ns=(bumped, bumped))


def poll(fn: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = fn()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def line_of(text: str, needle: str) -> int:
    index = text.index(needle)
    return text.count("\n", 0, index) + 1


def test_hot_reload_applies_edits_keeps_the_ledger_and_survives_a_broken_edit(
    tmp_path: Path,
) -> None:
    path = tmp_path / "scenarios.yaml"
    shutil.copyfile(SHIPPED, path)
    original = path.read_text("utf-8")
    assert original.endswith("          - success\n")  # scenarios: is last (READY_* ends it)

    server = ServerProcess(serve_args(path))
    stderr = StderrReader(server)
    try:
        box = Sandbox(server.url)
        assert box.get(BALANCE, {"clientId": "NEW_QA"}).status == 404
        assert box.post(CREDIT, {"clientId": "CLIENT_001", "amount": 10}).status == 200
        assert (
            box.get(BALANCE, {"clientId": "CLIENT_FLAKY"})
            .headers["X-Sandbox-Scenario"]
            .endswith("step=1/3")
        )

        new_client = "  NEW_QA_CLIENT: {balance: 5}\n"
        new_rule = "  NEW_QA:\n    outcome: server-error\n"
        edited = original.replace("clients:\n", "clients:\n" + new_client, 1) + new_rule
        rewrite(path, edited)

        def new_rule_applies() -> bool:
            return box.get(BALANCE, {"clientId": "NEW_QA"}).status == 500

        start = time.monotonic()
        assert poll(new_rule_applies, timeout=2.0), "the edit was not picked up within 2 s"
        reload_seconds = time.monotonic() - start
        assert reload_seconds < 2.0
        assert box.balance("CLIENT_001") == 1510.5  # the ledger survived the reload
        assert box.balance("NEW_QA_CLIENT") == 5  # a new named client was created
        # An unchanged rule keeps its position in its sequence.
        flaky = box.get(BALANCE, {"clientId": "CLIENT_FLAKY"})
        assert (flaky.status, flaky.headers["X-Sandbox-Scenario"][-8:]) == (500, "step=2/3")

        broken = edited.replace(new_rule, "  NEW_QA:\n    outcome: explode\n")
        assert broken.count("explode") == 1
        rewrite(path, broken)
        assert stderr.wait_for(b"scenarios not reloaded", timeout=3.0), stderr.seen

        assert box.get(BALANCE, {"clientId": "NEW_QA"}).status == 500  # previous set kept
        assert box.get(BALANCE, {"clientId": "CLIENT_SERVER_ERROR"}).status == 500
        assert box.get(BALANCE, {"clientId": "CLIENT_NOT_FOUND"}).status == 404
        assert box.balance("CLIENT_001") == 1510.5
        rules = box.control("GET", "/scenarios").json()["data"]["rules"]
        assert rules["NEW_QA"]["steps"] == [{"outcome": "server-error"}]
    finally:
        assert server.stop() == 0
    err = stderr.everything()
    line = line_of(broken, "outcome: explode")
    assert f"{path}:{line}: scenarios.NEW_QA.outcome: unknown outcome 'explode'" in err, err
    assert "Traceback" not in err


# --------------------------------------------------------------------------- 9. check and serve


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command(), *args], capture_output=True, text=True, timeout=30, cwd=cwd, check=False
    )


BROKEN_SCHEMA = textwrap.dedent(
    """\
    version: 1
    colour: blue
    scenarios:
      QA_SEQUENCE:
        sequence: [server-error, explode]
      QA_DELAY:
        delay: {seconds: 2}
      QA_ENDPOINT:
        endpoints:
          get-balanse: server-error
    """
)
BROKEN_DUPLICATE = textwrap.dedent(
    """\
    version: 1
    scenarios:
      QA_TWICE: {outcome: server-error}
      QA_TWICE: {outcome: not-found}
    """
)
BROKEN_YAML = textwrap.dedent(
    """\
    version: 1
    scenarios:
      QA_A: {outcome: server-error
      QA_B: drop
    """
)


def located(path: Path, line: int, key: str, message: str) -> str:
    return f"{path}:{line}: {key}: {message}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            BROKEN_SCHEMA,
            [
                (2, "colour", "unknown key (expected one of: version, builtin, secret, seed, "),
                (5, "scenarios.QA_SEQUENCE.sequence[1]", "unknown outcome 'explode' (expected "),
                (7, "scenarios.QA_DELAY.delay", "must be a number, not a mapping"),
                (10, "scenarios.QA_ENDPOINT.endpoints.get-balanse", "unknown key (expected one "),
            ],
            id="schema",
        ),
        pytest.param(
            BROKEN_DUPLICATE, [(4, "scenarios.QA_TWICE", "duplicate key")], id="duplicate-key"
        ),
        pytest.param(
            BROKEN_YAML, [(4, "(top level)", "not valid YAML: expected ',' or '}'")], id="yaml"
        ),
    ],
)
def test_scenarios_check_prints_every_located_error(
    tmp_path: Path, text: str, expected: list[tuple[int, str, str]]
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text, "utf-8")
    result = run_cli("scenarios", "check", str(path))
    assert result.returncode == 1, result
    lines = result.stderr.splitlines()
    assert len(lines) == len(expected) + 1, result.stderr
    for printed, (line, key, message) in zip(lines, expected, strict=False):
        assert printed.startswith(located(path, line, key, message)), printed
    assert lines[-1] == f"{len(expected)} problem(s) in {path}"
    assert result.stdout == ""


def test_scenarios_check_accepts_the_shipped_file() -> None:
    result = run_cli("scenarios", "check", str(SHIPPED))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{SHIPPED}: OK"
    assert lines[1] == (
        f"effective set: {SHIPPED}, extending the built-in set (11 scenarios, "
        "0 only from the built-in set)"
    )
    rules = lines[2:-1]
    assert len(rules) == 11 and all(line.endswith("[built-in]") for line in rules), rules
    assert lines[-1].startswith("named clients (balance): CLIENT_APPLIED_THEN_FAILED (1000.00)")


def test_serve_refuses_a_broken_scenarios_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN_SCHEMA, "utf-8")
    result = run_cli(*["serve", *serve_args(path)], cwd=tmp_path)
    assert result.returncode != 0
    assert "SANDBOX_URL=" not in result.stdout
    assert "the scenarios file is broken" in result.stderr
    assert located(path, 5, "scenarios.QA_SEQUENCE.sequence[1]", "unknown outcome") in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
