"""The CLI: sign (headers and a ready curl), scenarios check, fixtures generate."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from sandbox import signing
from sandbox.cli import main
from sandbox.process import ServerProcess, command

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_sign_post_canonicalizes_the_body() -> None:
    code, out = run(
        "sign",
        "POST",
        "/api/v1/credit-balance",
        "--timestamp",
        "1769956200",
        "--body",
        '{ "clientId": "CLIENT_001",\n "amount": 100.50 }',
    )
    assert code == 0
    expected = signing.hmac_hex(
        "sandbox-secret",
        b'POST/api/v1/credit-balance1769956200{"clientId":"CLIENT_001","amount":100.5}',
    )
    assert out == f"x-timestamp: 1769956200\nx-signature: {expected}\n"


def test_sign_get_sorts_and_decodes_the_query() -> None:
    code, out = run(
        "sign",
        "get",
        "/api/v1/get-transactions",
        "-t",
        "100",
        "-q",
        "limit=5",
        "-q",
        "clientId=A B",
        "--secret",
        "s",
    )
    assert code == 0
    expected = signing.hmac_hex("s", b"GET/api/v1/get-transactions100clientId=A B&limit=5")
    assert out.splitlines()[1] == f"x-signature: {expected}"


def test_sign_rejects_a_malformed_query() -> None:
    code, out = run("sign", "GET", "/x", "-q", "novalue")
    assert code == 2
    assert "KEY=VALUE" in out


def test_sign_secret_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_SECRET", "env-secret")
    _, out = run("sign", "GET", "/p", "-t", "1")
    assert out.splitlines()[1] == "x-signature: " + signing.hmac_hex("env-secret", b"GET/p1")


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_the_printed_curl_works_against_a_live_sandbox() -> None:
    with ServerProcess(["--port", "0", "--db", ":memory:", "--quiet"]) as server:
        for args in (
            [
                "POST",
                "/api/v1/credit-balance",
                "--body",
                '{"clientId": "CLIENT_001", "amount": 1.50}',
            ],
            [
                "GET",
                "/api/v1/get-transactions",
                "-q",
                "clientId=CLIENT_001",
                "-q",
                "dateFrom=2026-02-01T00:00:00Z",
            ],
        ):
            code, out = run("sign", *args, "--curl", server.url)
            assert code == 0
            curl = out.splitlines()[-1]
            result = subprocess.run(
                ["bash", "-c", curl], capture_output=True, text=True, timeout=20
            )
            assert json.loads(result.stdout)["status"] == "success", result.stdout


def test_scenarios_check_ok_and_broken(tmp_path: Path) -> None:
    code, out = run("scenarios", "check", str(ROOT / "scenarios.yaml"))
    assert code == 0 and "extending the built-in set (11 scenarios, 0 only from" in out
    broken = tmp_path / "broken.yaml"
    broken.write_text("scenarios:\n  A: {outcome: explode}\n")
    result = CliRunner().invoke(main, ["scenarios", "check", str(broken)])
    assert result.exit_code == 1
    assert f"{broken}:2: scenarios.A.outcome: unknown outcome 'explode'" in result.output


def test_fixtures_generate_matches_the_committed_files(tmp_path: Path) -> None:
    code, _ = run("fixtures", "generate", "--out", str(tmp_path))
    assert code == 0
    for name in ("users.json", "transactions.json"):
        assert (tmp_path / name).read_bytes() == (ROOT / "fixtures" / name).read_bytes()


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--scenarios", "/no/such/scenarios.yaml"],
            "Error: cannot use the scenarios file /no/such/scenarios.yaml: cannot read: No such "
            "file or directory (give an existing file to --scenarios or SANDBOX_SCENARIOS, or "
            "leave both unset for the built-in set)",
        ),
        (
            ["--control-token", " "],
            "Error: the control token is empty: give --control-token (or SANDBOX_CONTROL_TOKEN) "
            "a value, or leave it unset to have one generated off loopback",
        ),
    ],
    ids=["missing scenarios file", "empty token"],
)
def test_a_users_mistake_is_one_line_and_exit_code_2(args: list[str], line: str) -> None:
    result = subprocess.run(
        [*command(), "serve", "--port", "0", *args], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == line + "\n"


def test_fixtures_generate_without_faker_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import sys

    import sandbox

    monkeypatch.setitem(sys.modules, "faker", None)  # as if the extra were not installed
    monkeypatch.delitem(sys.modules, "sandbox.fakedata", raising=False)
    monkeypatch.delattr(sandbox, "fakedata", raising=False)
    result = CliRunner().invoke(main, ["fixtures", "generate", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output == (
        "Error: fixtures generate needs Faker (faker is not installed): "
        "pip install 'sabong-sandbox[fixtures]'\n"
    )
