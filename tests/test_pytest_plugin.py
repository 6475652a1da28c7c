"""The pytest plugin, exercised with pytester in throwaway projects."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sandbox.process import ServerProcess

ROOT = Path(__file__).resolve().parents[1]

USES_THE_FIXTURE = """
def test_balance(sabong_sandbox):
    reply = sabong_sandbox.get("get-balance", {"clientId": "CLIENT_001"})
    assert reply.status == 200
    assert reply.json()["data"]["balance"] == 1500.5
    assert sabong_sandbox.url.startswith("http://127.0.0.1:")
    assert sabong_sandbox.secret == "sandbox-secret"

def test_credit_is_undone_by_the_reset_a(sabong_sandbox):
    assert sabong_sandbox.post("credit-balance", {"clientId": "CLIENT_001", "amount": 10}).status == 200
    assert sabong_sandbox.balance("CLIENT_001") == 1510.5

def test_credit_is_undone_by_the_reset_b(sabong_sandbox):
    assert sabong_sandbox.balance("CLIENT_001") == 1500.5

def test_force_and_journal(sabong_sandbox):
    sabong_sandbox.force("CLIENT_001", "server-error", times=1)
    assert sabong_sandbox.get("get-balance", {"clientId": "CLIENT_001"}).status == 500
    assert sabong_sandbox.get("get-balance", {"clientId": "CLIENT_001"}).status == 200
    sabong_sandbox.force("CLIENT_002", sequence=["not-found", "success"])
    assert sabong_sandbox.get("get-balance", {"clientId": "CLIENT_002"}).status == 404
    entries = sabong_sandbox.requests(client_id="CLIENT_001")
    assert [e["status"] for e in entries] == [200, 500]

def test_clock(sabong_sandbox):
    sabong_sandbox.shift_clock(-301)
    reply = sabong_sandbox.get("get-balance", {"clientId": "CLIENT_001"})
    assert reply.status == 401
    assert reply.headers["X-Sandbox-Signature-Reason"] == "future-timestamp"
"""


def test_a_project_using_the_fixture_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USES_THE_FIXTURE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)


def test_a_failing_assertion_is_readable(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_wrong_balance(sabong_sandbox):
            assert sabong_sandbox.balance("CLIENT_001") == 1
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*assert 1500.5 == 1*"])


def test_a_crashed_server_fails_the_test_with_its_stderr(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_kills_it(sabong_sandbox):
            sabong_sandbox.process.proc.kill()
            sabong_sandbox.process.proc.wait()
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*the sabong sandbox exited with code -9*"])


class _FakeSandbox(BaseHTTPRequestHandler):
    """Answers like a sandbox whose journal holds an unforced 500 (a server-side bug)."""

    def do_POST(self) -> None:
        self._json({"status": "success", "message": "Sandbox reset", "data": {}})

    def do_GET(self) -> None:
        entry = {
            "method": "POST",
            "path": "/api/v1/credit-balance",
            "status": 500,
            "scenario": "none",
            "responseBody": '{"status":"failed"}',
        }
        self._json({"status": "success", "message": "", "data": {"requests": [entry]}})

    def _json(self, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_sandbox() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeSandbox)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_an_unforced_500_fails_the_test(pytester: pytest.Pytester, fake_sandbox: str) -> None:
    pytester.makepyfile("def test_x(sabong_sandbox):\n    pass\n")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--sabong-sandbox-url={fake_sandbox}"
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*answered 500 without a scenario forcing it*", "*POST /api/v1/credit-balance -> 500*"]
    )


def test_an_already_running_sandbox_can_be_used(pytester: pytest.Pytester) -> None:
    with ServerProcess(["--port", "0", "--db", ":memory:", "--quiet"]) as server:
        pytester.makepyfile(
            f"""
            def test_uses_it(sabong_sandbox):
                assert sabong_sandbox.url == "{server.url}"
                assert sabong_sandbox.process is None
                assert sabong_sandbox.balance("CLIENT_001") == 1500.5
            """
        )
        result = pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", f"--sabong-sandbox-url={server.url}"
        )
    result.assert_outcomes(passed=1)


def test_scenarios_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_magic(sabong_sandbox):
            assert sabong_sandbox.get("get-balance", {"clientId": "CLIENT_NOT_FOUND"}).status == 404
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--sabong-sandbox-scenarios={ROOT / 'scenarios.yaml'}"
    )
    result.assert_outcomes(passed=1)


def test_no_effect_on_a_run_that_does_not_use_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    assert True\n")
    plan = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--setup-plan")
    assert "sabong_sandbox" not in plan.stdout.str()  # no fixture of ours is set up
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_xdist_gives_each_worker_its_own_sandbox(pytester: pytest.Pytester, tmp_path: Path) -> None:
    log = tmp_path / "urls"
    tests = "\n".join(
        f"""
def test_{i}(sabong_sandbox):
    with open({str(log)!r}, "a") as fh:
        fh.write(sabong_sandbox.url + "\\n")
    assert sabong_sandbox.post("credit-balance", {{"clientId": "CLIENT_001", "amount": 1}}).status == 200
    assert sabong_sandbox.balance("CLIENT_001") == 1501.5
"""
        for i in range(6)
    )
    pytester.makepyfile(tests)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=6)
    assert len(set(log.read_text().split())) == 2
