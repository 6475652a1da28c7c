"""The README's runnable examples are executed, so they never rot."""

from __future__ import annotations

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
    assert "signed-curl" in blocks()


@pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("openssl")), reason="needs curl and openssl"
)
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
