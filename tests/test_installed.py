"""The sandbox as partners get it: the built wheel in a fresh virtualenv, run from elsewhere.

The venv holds the wheel, pytest, pytest-xdist and an older Faker (as a partner project pinned
through factory-boy might): pip must resolve them together. Then, from folders that are not
this repository: ``sabong-sandbox serve`` answers the built-in magic clientIds, and the partner
project under ``examples/partner-ci`` (its own client, only the installed plugin) passes with
and without ``-n 2``, against sandboxes the plugin starts and against one shared,
token-protected sandbox.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.client import SandboxClient
from sandbox.process import ServerProcess

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "partner-ci"
EXAMPLE_TESTS = 15
TOKEN = "partner-ci-token-2026"


@pytest.fixture(scope="module")
def venv(built_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel, next to an older Faker; returns its bin/."""
    where = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    pip = [str(where / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    pip += ["--disable-pip-version-check"]
    result = subprocess.run(
        [*pip, str(built_wheel), "pytest>=8", "pytest-xdist>=3.5", "faker<40"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return where / "bin"


def installed(venv: Path, package: str) -> str:
    out = subprocess.run(
        [
            str(venv / "python"),
            "-c",
            f"import importlib.metadata as m; print(m.version({package!r}))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_the_wheel_lives_next_to_an_older_faker(venv: Path) -> None:
    assert int(installed(venv, "faker").split(".")[0]) < 40
    assert installed(venv, "sabong-sandbox") == "0.1.0"


def test_serve_from_an_empty_folder_answers_the_magic_client_ids(
    venv: Path, tmp_path: Path
) -> None:
    args = ["--port", "0", "--db", ":memory:"]
    with ServerProcess(args, cmd=[str(venv / "sabong-sandbox")], cwd=tmp_path) as server:
        client = SandboxClient(server.url)
        reply = client.get("/api/v1/get-balance", {"clientId": "CLIENT_SERVER_ERROR"})
        assert (reply.status, json.loads(reply.body)) == (
            500,
            {
                "status": "failed",
                "message": "Failed to get balance",
                "data": {"error": "Database connection failed"},
            },
        )
        assert client.get("/api/v1/get-balance", {"clientId": "CLIENT_001"}).status == 200
        banner = server.stderr.decode()
    assert "scenarios: the built-in set (11 scenarios)" in banner
    assert list(tmp_path.iterdir()) == []  # :memory: leaves nothing behind


@pytest.fixture
def project(tmp_path: Path) -> Path:
    copy = tmp_path / "partner-ci"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return copy


def run_example(venv: Path, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SABONG_", "PYTEST_"))}
    env["PATH"] = f"{venv}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        [str(venv / "python"), "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist -n 2"])
def test_the_partner_project_with_sandboxes_the_plugin_starts(
    venv: Path, project: Path, xdist: list[str]
) -> None:
    result = run_example(venv, project, *xdist)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert f"{EXAMPLE_TESTS} passed" in result.stdout


@pytest.fixture(scope="module")
def shared(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One sandbox shared by every session, its control plane protected by a token."""
    args = ["--port", "0", "--db", ":memory:", "--quiet", "--control-token", TOKEN]
    cwd = tmp_path_factory.mktemp("shared")
    with ServerProcess(args, cmd=[str(venv / "sabong-sandbox")], cwd=cwd) as server:
        yield server


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist -n 2"])
def test_the_partner_project_on_a_shared_token_protected_sandbox(
    venv: Path, project: Path, shared: ServerProcess, xdist: list[str]
) -> None:
    result = run_example(
        venv,
        project,
        f"--sabong-sandbox-url={shared.url}",
        f"--sabong-sandbox-token={TOKEN}",
        *xdist,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert f"{EXAMPLE_TESTS} passed" in result.stdout
    partners = SandboxClient(shared.url, token=TOKEN).control("GET", "/partners")
    assert partners.json()["data"]["partners"] == []  # every session removed its own
