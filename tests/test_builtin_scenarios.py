"""The built-in scenarios: the magic clientIds work from any folder, a user's file extends
them (or replaces them with ``builtin: false``), and the repository's copy is the shipped one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sandbox.cli import main
from sandbox.client import SandboxClient
from sandbox.process import ServerProcess
from sandbox.scenarios import builtin, load_effective

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "sandbox" / "scenarios" / "builtin.yaml"
BALANCE = "/api/v1/get-balance"
SERVER_ERROR = {
    "status": "failed",
    "message": "Failed to get balance",
    "data": {"error": "Database connection failed"},
}
OWN = """
scenarios:
  CLIENT_001: {outcome: not-found}
  CLIENT_SERVER_ERROR: {outcome: validation}
"""


def test_the_repository_copy_is_the_shipped_set() -> None:
    assert (ROOT / "scenarios.yaml").read_bytes() == SHIPPED.read_bytes()


def test_an_empty_folder_gets_the_built_in_set(tmp_path: Path) -> None:
    with ServerProcess(["--port", "0", "--db", ":memory:"], cwd=tmp_path) as server:
        client = SandboxClient(server.url)
        reply = client.get(BALANCE, {"clientId": "CLIENT_SERVER_ERROR"})
        assert (reply.status, reply.json()) == (500, SERVER_ERROR)
        assert client.get(BALANCE, {"clientId": "CLIENT_NOT_FOUND"}).status == 404
        assert client.get(BALANCE, {"clientId": "CLIENT_SLOW"}).status == 200  # a named client
        banner = server.stderr.decode()
    assert "  scenarios: the built-in set (11 scenarios)\n" in banner


def test_a_file_of_ones_own_extends_the_built_in_set(tmp_path: Path) -> None:
    own = tmp_path / "scenarios.yaml"
    own.write_text(OWN)
    effective = load_effective(own)
    assert effective.rules["CLIENT_001"].steps[0].outcome == "not-found"
    assert effective.rules["CLIENT_SERVER_ERROR"].steps[0].outcome == "validation"  # own wins
    assert effective.rules["CLIENT_DROP"] == builtin().rules["CLIENT_DROP"]
    assert set(effective.clients) == set(builtin().clients)
    assert effective.seed == builtin().seed
    assert effective.from_builtin == frozenset(builtin().rules) - {"CLIENT_SERVER_ERROR"}
    with ServerProcess(["--port", "0", "--db", ":memory:"], cwd=tmp_path) as server:
        client = SandboxClient(server.url)
        assert client.get(BALANCE, {"clientId": "CLIENT_001"}).status == 404
        assert client.get(BALANCE, {"clientId": "CLIENT_SERVER_ERROR"}).status == 400
        assert client.get(BALANCE, {"clientId": "CLIENT_NOT_FOUND"}).status == 404
        banner = server.stderr.decode()
    assert (
        "  scenarios: scenarios.yaml, extending the built-in set (12 scenarios, "
        "10 only from the built-in set)\n"
    ) in banner


def test_builtin_false_replaces_the_built_in_set(tmp_path: Path) -> None:
    own = tmp_path / "own.yaml"
    own.write_text("builtin: false\nseed: 7\n" + OWN)
    effective = load_effective(own)
    assert set(effective.rules) == {"CLIENT_001", "CLIENT_SERVER_ERROR"}
    assert effective.clients == {} and effective.seed == 7
    assert effective.describe() == f"{own} (2 scenarios; builtin: false)"
    with ServerProcess(
        ["--port", "0", "--db", ":memory:", "--scenarios", str(own)], cwd=tmp_path
    ) as server:
        reply = SandboxClient(server.url).get(BALANCE, {"clientId": "CLIENT_NOT_FOUND"})
        assert json.loads(reply.body)["message"] == "User not found"  # no scenario: no user
        assert reply.headers["X-Sandbox-Scenario"] == "none"


def test_scenarios_check_shows_the_effective_set_and_where_each_scenario_comes_from(
    tmp_path: Path,
) -> None:
    own = tmp_path / "scenarios.yaml"
    own.write_text(OWN)
    result = CliRunner().invoke(main, ["scenarios", "check", str(own)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"{own}: OK"
    assert lines[1].startswith(f"effective set: {own}, extending the built-in set (12 scenarios")
    by_client = {line.split()[0]: line for line in lines[2:-1]}
    assert by_client["CLIENT_001"].endswith(
        "not-found (not on generate-auth-token: answered normally there)  [file]"
    )
    assert by_client["CLIENT_SERVER_ERROR"].endswith("validation  [file]")
    assert by_client["CLIENT_FLAKY"].endswith(
        "server-error -> server-error -> success (then stay)  [built-in]"
    )
    assert len(by_client) == 12


def test_scenarios_check_without_a_file_shows_the_built_in_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./scenarios.yaml
    monkeypatch.delenv("SANDBOX_SCENARIOS", raising=False)
    result = CliRunner().invoke(main, ["scenarios", "check"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        "built-in scenarios: OK\neffective set: the built-in set (11 scenarios)\n"
    )
