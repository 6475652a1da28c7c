"""The README's CI recipes, executed: a shell job, and a GitHub Actions job's run steps."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text("utf-8")
NEEDS = pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("openssl")), reason="needs curl and openssl"
)

# A partner's integration suite, reduced to one signed request that must succeed.
SUITE = """#!/usr/bin/env bash
set -euo pipefail
TS=$(date +%s)
SIG=$(printf '%s' "GET/api/v1/get-balance${TS}clientId=CLIENT_001" \\
      | openssl dgst -sha256 -hmac sandbox-secret -r | cut -d' ' -f1)
curl -sf "$SANDBOX_URL/api/v1/get-balance?clientId=CLIENT_001" \\
     -H "x-timestamp: $TS" -H "x-signature: $SIG" | grep -q '"balance":1500.5'
echo "integration suite passed against $SANDBOX_URL"
"""


def block(name: str, lang: str) -> str:
    match = re.search(
        rf"<!-- readme-test: {re.escape(name)} -->\n```{lang}\n(.*?)```", README, re.S
    )
    assert match, f"README block {name} not found"
    return match.group(1)


def workdir(tmp_path: Path) -> Path:
    suite = tmp_path / "run-integration-tests.sh"
    suite.write_text(SUITE)
    suite.chmod(0o755)
    return tmp_path


def env_with(bin_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", **extra}


@NEEDS
def test_shell_ci_job(tmp_path: Path) -> None:
    cwd = workdir(tmp_path)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block("shell-ci", "bash")],
        cwd=cwd,
        env=env_with(Path(sys.executable).parent),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "integration suite passed" in result.stdout
    journal = [json.loads(x) for x in (cwd / "sandbox-journal.jsonl").read_text().splitlines()]
    assert [e["path"] for e in journal] == ["/api/v1/get-balance"]
    assert journal[0]["status"] == 200
    assert not (cwd / "sandbox.url").exists()  # removed on the clean stop


@NEEDS
def test_github_actions_job(tmp_path: Path) -> None:
    workflow = yaml.safe_load(block("github-actions", "yaml"))
    job = workflow["jobs"]["integration"]
    cwd = workdir(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    github_env = tmp_path / "github_env"
    github_env.touch()
    env = env_with(
        venv / "bin", GITHUB_ENV=str(github_env), **{**job["env"], "SABONG_SANDBOX_PIP": str(ROOT)}
    )
    ran = []
    try:
        for step in job["steps"]:
            if "run" not in step:
                continue  # `uses:` steps (checkout, setup-python, upload) are GitHub's own
            for line in github_env.read_text().splitlines():
                key, _, value = line.partition("=")
                env[key] = value
            result = subprocess.run(
                ["bash", "-eo", "pipefail", "-c", step["run"]],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert result.returncode == 0, f"{step['name']}: {result.stdout}{result.stderr}"
            ran.append(step["name"])
    finally:
        # The background server belongs to this venv only: stop it like the runner would.
        subprocess.run(["pkill", "-TERM", "-f", str(venv / "bin")], check=False)
    assert ran == [
        "Install the sandbox",
        "Start the sandbox in the background",
        "Integration tests",
        "Collect the sandbox journal",
    ]
    journal = (cwd / "sandbox-journal.jsonl").read_text().splitlines()
    assert json.loads(journal[0])["status"] == 200
