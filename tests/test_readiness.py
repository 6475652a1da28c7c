"""The readiness report: each check on hand-made histories, the preset, every surface, and the
two example clients of examples/readiness (naive: fail; careful: no fail)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from readiness_events import credit, history, read, status_of

from sandbox import readiness
from sandbox.cli import main
from sandbox.client import SandboxClient
from sandbox.process import ServerProcess
from sandbox.readiness import History

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = ROOT / "examples" / "readiness" / "clients.py"


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([credit(500, applied=True), credit(200, reference="R2")], "fail"),
        ([credit(0), credit(200, reference=None)], "fail"),
        ([credit(500), read(), credit(200, reference="R2")], "pass"),  # it reconciled first
        ([credit(500), credit(200)], "pass"),  # the same reference: an idempotent retry
        ([credit(500), credit(200, cents=999, reference="R2")], "pass"),  # another amount
        ([credit(400), credit(200, reference="R2")], "n/a"),  # definitive, not ambiguous
        ([read()], "n/a"),
    ],
    ids=[
        "applied-then-500",
        "dropped-no-reference",
        "reconciled",
        "same-reference",
        "other-amount",
        "definitive",
        "no-wallet-call",
    ],
)
def test_retry_new_reference(events: list[dict[str, Any]], expected: str) -> None:
    assert status_of("retry-new-reference", history(*events)) == expected


def test_reconcile_after_ambiguous() -> None:
    assert status_of("reconcile-after-ambiguous", history(credit(500), read())) == "pass"
    assert (
        status_of("reconcile-after-ambiguous", history(credit(500), read("get-balance"))) == "pass"
    )
    assert status_of("reconcile-after-ambiguous", history(credit(500))) == "warn"
    moved_on = history(credit(500), credit(200, reference="R9", cents=5), read())
    assert status_of("reconcile-after-ambiguous", moved_on) == "warn"
    assert status_of("reconcile-after-ambiguous", history(credit(200))) == "n/a"


def test_missing_reference_and_reference_reuse() -> None:
    assert status_of("missing-reference", history(credit(200, reference=None))) == "warn"
    assert status_of("missing-reference", history(credit(200))) == "pass"
    assert status_of("missing-reference", history(credit(401, reference=None))) == "n/a"
    reused = history(credit(200), credit(200, cents=2000))  # R1 for another amount
    assert status_of("reference-reuse", reused) == "fail"
    other_client = history(credit(200), credit(200, client_id="P2"))
    assert status_of("reference-reuse", other_client) == "fail"
    assert status_of("reference-reuse", history(credit(500), credit(200))) == "pass"


def test_retry_after_definitive_and_storms() -> None:
    assert status_of("retry-after-definitive", history(credit(400), credit(400))) == "warn"
    assert status_of("retry-after-definitive", history(credit(404), credit(200, cents=5))) == "pass"
    burst = [credit(500, epoch=2000.0 + i * 0.05) for i in range(3)]
    assert status_of("retry-storm", history(*burst)) == "warn"
    flood = [credit(500, epoch=2000.0 + i * 0.05) for i in range(10)]
    assert status_of("retry-storm", history(*flood)) == "fail"
    paced = [credit(500, epoch=2000.0 + i * 0.6) for i in range(5)]
    assert status_of("retry-storm", history(*paced)) == "pass"
    polling = [read(epoch=2000.0 + i * 0.05) for i in range(20)]  # successes: no retry
    assert status_of("retry-storm", history(*polling)) == "pass"


def test_clock_skew_signature_failures_and_the_verdict() -> None:
    assert status_of("clock-skew", history(read(skew=121.0))) == "warn"
    assert status_of("clock-skew", history(read(skew=-119.0))) == "pass"
    refused = history(
        read(status=401, verdict="mismatch", finding="json-spacing"),
        read(status=401, verdict="mismatch", finding="json-spacing"),
        read(),
    )
    (check,) = [c for c in readiness.report(refused)["checks"] if c["id"] == "signature-failures"]
    assert check["status"] == "warn"
    assert check["summary"] == (
        "2 of 3 request(s) (67%) failed the signature; most often: json-spacing."
    )
    assert readiness.report([])["verdict"] == "n/a"
    assert readiness.report(history(read()))["verdict"] == "pass"
    assert readiness.report(history(read(skew=500.0)))["verdict"] == "warn"
    assert readiness.report(history(credit(500), credit(200, reference=None)))["verdict"] == "fail"


def test_the_history_is_bounded_and_filtered() -> None:
    h = History(size=3)
    for i in range(5):
        h.record(
            epoch=float(i),
            endpoint="get-balance",
            client_id=f"READY_{i}",
            status=200,
            applied=False,
        )
    assert [e.seq for e in h.events()] == [3, 4, 5]  # the oldest went first
    assert [e.client_id for e in h.events(client_id="READY_*", since=4.0)] == ["READY_4"]
    assert h.last_seq() == 5
    h.clear()
    assert h.events() == [] and h.last_seq() == 5


# --------------------------------------------------------------------------- live


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess(["--port", "0", "--db", ":memory:", "--quiet"]) as proc:
        yield proc


def run_client(style: str, server: ServerProcess, client_id: str) -> None:
    subprocess.run(
        [sys.executable, str(CLIENTS), style, server.url, client_id], check=True, timeout=120
    )


def test_the_preset_is_deterministic(server: ServerProcess) -> None:
    """Two READY_ clients get the same scripted outcomes, in the same order."""
    client = SandboxClient(server.url)
    statuses: dict[str, list[int]] = {}
    for client_id in ("READY_ONE", "READY_TWO"):
        client.post(
            "/api/v1/generate-auth-token",
            {"clientId": client_id, "username": "r", "displayName": "R", "ipAddress": "::1"},
        )
        statuses[client_id] = []
        for n in range(12):
            try:
                reply = client.post(
                    "/api/v1/credit-balance",
                    {"clientId": client_id, "amount": 1, "reference": f"{client_id}-{n}"},
                )
                statuses[client_id].append(reply.status)
            except OSError:
                statuses[client_id].append(0)  # dropped
    assert statuses["READY_ONE"] == statuses["READY_TWO"]
    assert statuses["READY_ONE"] == [200, 500, 200, 500, 200, 0, 200, 0, 200, 400, 200, 200]


def test_the_naive_client_fails_and_the_careful_one_does_not(server: ServerProcess) -> None:
    run_client("naive", server, "READY_NAIVE")
    run_client("careful", server, "READY_CAREFUL")
    reports = {}
    for client_id in ("READY_NAIVE", "READY_CAREFUL"):
        reply = SandboxClient(server.url).control("GET", "/report", query=f"clientId={client_id}")
        reports[client_id] = reply.json()["data"]
    naive = {c["id"]: c for c in reports["READY_NAIVE"]["checks"]}
    assert reports["READY_NAIVE"]["verdict"] == "fail"
    assert naive["retry-new-reference"]["status"] == "fail"
    first, second = naive["retry-new-reference"]["evidence"][0]
    assert (first["endpoint"], first["status"], first["applied"]) == ("credit-balance", 500, True)
    assert (second["status"], second["amount"]) == (200, first["amount"])
    assert first["reference"] != second["reference"]
    careful = {c["id"]: c["status"] for c in reports["READY_CAREFUL"]["checks"]}
    assert "fail" not in careful.values(), careful
    assert careful["retry-new-reference"] == "pass"
    assert careful["reconcile-after-ambiguous"] == "pass"

    # The CLI: a checklist, exit code 1 on fail (a CI gate), 0 otherwise.
    naive_cli = CliRunner().invoke(
        main, ["report", "--url", server.url, "--client-id", "READY_NAIVE"]
    )
    assert naive_cli.exit_code == 1
    assert "Readiness of partner default: FAIL" in naive_cli.output
    assert "  FAIL  retry-new-reference" in naive_cli.output
    careful_cli = CliRunner().invoke(
        main, ["report", "--url", server.url, "--client-id", "READY_CAREFUL", "--json"]
    )
    assert careful_cli.exit_code == 0
    assert json.loads(careful_cli.output)["verdict"] in ("pass", "warn")


def test_report_parameters_are_validated_and_reset_keeps_the_history_only_if_asked(
    server: ServerProcess,
) -> None:
    control = SandboxClient(server.url)
    bad = control.control("GET", "/report", query="since=yesterday")
    assert bad.status == 400
    assert bad.json()["data"]["errors"] == {"since": ["The since must be a number."]}
    control.get("/api/v1/get-balance", {"clientId": "CLIENT_001"})
    seq = control.control("POST", "/reset", query="keepReport=true").json()["data"]["reportSeq"]
    assert control.control("GET", "/report").json()["data"]["requests"] > 0
    after = control.control("GET", "/report", query=f"after={seq}").json()["data"]
    assert after["verdict"] == "n/a" and after["requests"] == 0  # no traffic: n/a, not pass
    control.control("POST", "/reset")
    assert control.control("GET", "/report").json()["data"]["requests"] == 0


def test_the_cli_says_when_the_sandbox_does_not_answer() -> None:
    result = CliRunner().invoke(main, ["report", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 2
    assert result.output.startswith("Error: http://127.0.0.1:9 does not answer")


def test_the_plugin_helper_and_the_session_gate(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_naive_retry(sabong_sandbox):
            sabong_sandbox.post("generate-auth-token", {
                "clientId": "READY_P", "username": "p", "displayName": "P", "ipAddress": "::1"})
            assert sabong_sandbox.post("credit-balance",
                {"clientId": "READY_P", "amount": 1, "reference": "A"}).status == 200
            assert sabong_sandbox.post("credit-balance",
                {"clientId": "READY_P", "amount": 1, "reference": "B"}).status == 500
            sabong_sandbox.post("credit-balance",
                {"clientId": "READY_P", "amount": 1, "reference": "C"})  # a new reference
            report = sabong_sandbox.report()
            checks = {c["id"]: c["status"] for c in report["checks"]}
            assert report["verdict"] == "fail" and checks["retry-new-reference"] == "fail"

        def test_its_report_is_its_own(sabong_sandbox):
            assert sabong_sandbox.report()["verdict"] == "n/a"
        """
    )
    plain = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    plain.assert_outcomes(passed=2)
    assert plain.ret == 0
    gated = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--sabong-sandbox-readiness")
    gated.assert_outcomes(passed=2)
    assert gated.ret == 1  # the tests passed, the integration did not
    gated.stdout.fnmatch_lines(["*sabong-sandbox readiness*", "*FAIL  retry-new-reference*"])
