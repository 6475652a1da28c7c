"""The reference signing snippets in docs/ run against a live sandbox."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.process import ServerProcess

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess(["--port", "0", "--db", ":memory:", "--quiet"]) as proc:
        yield proc


def check(output: str, client_id: str) -> None:
    steps = [json.loads(line) for line in output.splitlines()]
    assert [s["status"] for s in steps] == [200, 200, 200], steps
    token, credit, balance = (s["body"]["data"] for s in steps)
    assert token["user"]["displayName"].startswith("Café")
    assert credit["balance"] == 25.75
    assert balance == {**balance, "clientId": client_id, "balance": 25.75}


def test_python_snippet(server: ServerProcess) -> None:
    result = subprocess.run(
        [sys.executable, str(DOCS / "sign_request.py"), server.url],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    check(result.stdout, "PY_PLAYER")


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_snippet(server: ServerProcess) -> None:
    result = subprocess.run(
        ["node", str(DOCS / "sign_request.mjs"), server.url],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    check(result.stdout, "NODE_PLAYER")
