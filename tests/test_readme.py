"""The README's runnable examples are executed, so they never rot."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sandbox.process import ServerProcess

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"<!-- readme-test: (?P<name>[\w-]+) -->\n```bash\n(?P<code>.*?)```", re.S)


def blocks() -> dict[str, str]:
    return {m["name"]: m["code"] for m in BLOCK.finditer(README.read_text("utf-8"))}


def test_readme_has_runnable_blocks() -> None:
    assert {"signed-curl", "endpoints", "control"} <= set(blocks())


NEEDS_TOOLS = pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("openssl")), reason="needs curl and openssl"
)


def run_block(name: str, url: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", blocks()[name]],
        env={**os.environ, "SANDBOX_URL": url},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return result


@NEEDS_TOOLS
def test_endpoint_examples_and_control_plane_examples() -> None:
    with ServerProcess(["--port", "0", "--db", ":memory:", "--quiet"]) as server:
        lines = [
            json.loads(line) for line in run_block("endpoints", server.url).stdout.splitlines()
        ]
        assert [body["status"] for body in lines] == ["success"] * 5
        token, credit, debit, balance, transactions = (body["data"] for body in lines)
        assert token["isNewUser"] is True and token["expiresIn"] == 1800
        assert token["loginLink"] == f"{server.url}/login/{token['token']}"
        assert (credit["balance"], debit["balance"], balance["balance"]) == (100.5, 80.5, 80.5)
        assert [t["amount"] for t in transactions["data"]] == ["100.50", "20.00"]
        control = [json.loads(x) for x in run_block("control", server.url).stdout.splitlines()]
        assert [c["message"] for c in control] == [
            "Scenario set",
            "Active scenarios",
            "Scenario cleared",
            "Sandbox clock shifted",
            "Sandbox reset",
        ]
        assert control[1]["data"]["overrides"]["PLAYER_42"]["remaining"] == 2


@NEEDS_TOOLS
def test_signed_curl_example() -> None:
    with ServerProcess(["--port", "0", "--db", ":memory:", "--quiet"]) as server:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", blocks()["signed-curl"]],
            env={**os.environ, "SANDBOX_URL": server.url},
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        '{"status":"success","message":"Balance retrieved successfully","data":'
        '{"userId":123,"clientId":"CLIENT_001","balance":1500.5,'
        '"updatedAt":"2026-02-01T14:30:00.000Z"}}'
    )


def test_the_synopsis_lists_every_option_of_every_command() -> None:
    """The README's synopsis is checked against the real --help of each command."""
    import re

    from click.testing import CliRunner

    from sandbox.cli import main

    synopsis = re.search(
        r"<!-- readme-test: synopsis -->\n```text\n(.*?)```", README.read_text("utf-8"), re.S
    )
    assert synopsis, "README synopsis block not found"
    text = synopsis.group(1)
    for command in (["serve"], ["sign"], ["verify"], ["openapi"], ["fixtures", "generate"]):
        assert f"sabong-sandbox {' '.join(command)}" in text, command
        help_text = CliRunner().invoke(main, [*command, "--help"]).output
        for option in set(re.findall(r"^\s+(--[a-z][a-z-]+)", help_text, re.M)) - {"--help"}:
            assert option in text, (command, option)


def test_the_parameter_table_is_the_declared_rules() -> None:
    """The README's parameter table is rendered from sandbox/api/fields.py, the rules the
    server validates with; after changing them, paste ``parameters_markdown()`` there."""
    from sandbox.api.fields import parameters_markdown

    text = README.read_text("utf-8")
    start = text.index("<!-- readme-test: parameters -->\n") + len(
        "<!-- readme-test: parameters -->\n"
    )
    assert text[start : start + len(parameters_markdown())] == parameters_markdown()
