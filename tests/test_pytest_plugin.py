"""The pytest plugin, exercised with pytester in throwaway projects."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sandbox.client import SandboxClient
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
    result.assert_outcomes(failed=1)
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
    result.assert_outcomes(failed=1)  # the test's own failure, not an error at teardown
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


WRONG_SPACING = """
import time
from sandbox import signing
from sandbox.client import SandboxClient

def test_signed_like_python_json_dumps(sabong_sandbox):
    body = b'{"clientId": "CLIENT_001", "amount": 5}'
    ts = str(int(time.time()))
    message = signing.string_to_sign("POST", "/api/v1/credit-balance", ts, body)
    reply = sabong_sandbox.post(
        "credit-balance", body, timestamp=ts, signature=signing.hmac_hex(sabong_sandbox.secret, message)
    )
    assert reply.status == 200
"""


def test_a_401_shows_the_doctors_finding_in_the_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(WRONG_SPACING)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*assert 401 == 200*",
            "*where 401 = <Reply 401 signature mismatch | doctor: json-spacing: You signed the*",
            "*sabong-sandbox: requests refused with 401 in this test*",
            "*POST /api/v1/credit-balance clientId=CLIENT_001*",
            "*verdict: mismatch*",
            "*finding: You signed the body with spaces after ',' and ':'*",
            '*stringToSign: POST/api/v1/credit-balance*{"clientId":"CLIENT_001","amount":5}*',
        ]
    )


def test_assert_requested_counts_and_shows_what_arrived(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_counts(sabong_sandbox):
            sabong_sandbox.post("credit-balance", {"clientId": "CLIENT_001", "amount": 1})
            sabong_sandbox.post("credit-balance", {"clientId": "CLIENT_002", "amount": 1})
            sabong_sandbox.get("get-balance", {"clientId": "CLIENT_001"})
            sabong_sandbox.assert_requested("credit-balance", client_id="CLIENT_001", count=1)
            sabong_sandbox.assert_requested("credit-balance", count=2, status=200)
            sabong_sandbox.assert_requested(client_id="CLIENT_001")
            with pytest.raises(AssertionError) as info:
                sabong_sandbox.assert_requested("debit-balance", client_id="CLIENT_001")
            assert str(info.value).splitlines() == [
                "expected at least 1 request(s) matching path=/api/v1/debit-balance "
                "clientId=CLIENT_001; the sandbox received 0 matching of 3 in this test:",
                "    POST /api/v1/credit-balance clientId=CLIENT_001 -> 200   (path differs)",
                "    POST /api/v1/credit-balance clientId=CLIENT_002 -> 200   (path, clientId differs)",
                "    GET /api/v1/get-balance clientId=CLIENT_001 -> 200   (path differs)",
            ]

        def test_the_journal_is_the_tests_own(sabong_sandbox):
            sabong_sandbox.assert_requested(count=0)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


SHARED_TESTS = "\n".join(
    f"""
def test_{i}(sabong_sandbox):
    assert sabong_sandbox.secret != "sandbox-secret"  # the session's own partner
    for _ in range(3):
        sabong_sandbox.post("credit-balance", {{"clientId": "CLIENT_001", "amount": 1}}).expect(200)
    assert sabong_sandbox.balance("CLIENT_001") == 1503.5
    sabong_sandbox.assert_requested("credit-balance", count=3)
"""
    for i in range(16)
)


@pytest.fixture(scope="module")
def protected() -> Iterator[ServerProcess]:
    args = ["--port", "0", "--db", ":memory:", "--quiet", "--control-token", "ci-token-123"]
    with ServerProcess(args) as server:
        yield server


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one session", "xdist -n 2"])
def test_a_shared_protected_sandbox_isolates_every_session(
    pytester: pytest.Pytester, protected: ServerProcess, workers: list[str]
) -> None:
    pytester.makepyfile(SHARED_TESTS)
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        f"--sabong-sandbox-url={protected.url}",
        "--sabong-sandbox-token=ci-token-123",
        *workers,
    )
    result.assert_outcomes(passed=16)
    partners = SandboxClient(protected.url, token="ci-token-123").control("GET", "/partners")
    assert partners.json()["data"]["partners"] == []  # each session removed its own


def test_without_the_token_xdist_workers_are_not_silently_mixed(
    pytester: pytest.Pytester, protected: ServerProcess
) -> None:
    pytester.makepyfile(SHARED_TESTS)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--sabong-sandbox-url={protected.url}", "-n", "2"
    )
    assert result.ret != 0
    result.stdout.fnmatch_lines(
        ["*cannot give each of the 2 xdist workers its own state*--sabong-sandbox-token*"]
    )


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--sabong-sandbox-url=http://127.0.0.1:9", "*http://127.0.0.1:9 does not answer*"),
        ("--sabong-sandbox-token=", "*the control token is empty*"),
    ],
)
def test_bad_options_stop_the_session_with_one_clear_line(
    pytester: pytest.Pytester, option: str, message: str
) -> None:
    pytester.makepyfile("def test_x(sabong_sandbox):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", option)
    assert result.ret == 2
    result.stdout.fnmatch_lines([message])
    assert "Traceback" not in result.stdout.str()
