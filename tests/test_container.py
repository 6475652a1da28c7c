"""The container image, built from the repository's Dockerfile and run with podman.

No registry can be reached from the machines this suite runs on, so the base image the
Dockerfile names (``python:3.11-slim``) is stood in for by a Debian bookworm root filesystem
made with ``mmdebstrap`` (Python 3.11 and pip, like the real one; this network's CA bundle and
pip settings, like the host's), imported under that name; the build uses ``--pull=never``.
The stand-in is cached (``~/.cache/sabong-sandbox``, and podman's own image store). podman is
configured here, not by hand: the ``runc`` runtime and lowered default ulimits (crun cannot
raise rlimits on these machines). ``make test`` installs podman, mmdebstrap and runc.

Against the running container: signed requests, a forced scenario, the token-protected control
plane (the given token, and the generated one), a SANDBOX_* variable, the non-root user, the
HEALTHCHECK command, and SIGTERM stopping it with exit code 0.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.client import SandboxClient

ROOT = Path(__file__).resolve().parents[1]
BASE = "docker.io/library/python:3.11-slim"  # what the Dockerfile's FROM resolves to
IMAGE = "localhost/sabong-sandbox:test"
TOKEN = "container-token-2026"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sabong-sandbox"
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
runtime = "runc"
"""

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("podman", "mmdebstrap", "runc")),
    reason="podman, mmdebstrap and runc are needed (make test installs them as root)",
)


def podman(
    *args: str, check: bool = True, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, env=ENV
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}: {result.returncode}\n{result.stderr}")
    return result


ENV = dict(os.environ)


@pytest.fixture(scope="module", autouse=True)
def configured(tmp_path_factory: pytest.TempPathFactory) -> None:
    conf = tmp_path_factory.mktemp("podman") / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    ENV["CONTAINERS_CONF"] = str(conf)


def stand_in_base() -> None:
    """Make the stand-in for the base image, unless an image of that name exists."""
    if podman("image", "exists", BASE, check=False).returncode == 0:
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    tarball = CACHE / "python-3.11-slim-standin.tar"
    if not tarball.exists():
        # mmdebstrap picks its output format by the name: it must end with .tar
        partial = tarball.with_name("partial-" + tarball.name)
        hooks = [
            'rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED',  # pip installs, as in the real one
            'ln -sf python3 "$1"/usr/bin/python; ln -sf pip3 "$1"/usr/bin/pip',
            'cp /etc/ssl/certs/ca-certificates.crt "$1"/etc/ssl/certs/ca-certificates.crt',
            'printf "[global]\\ncert = /etc/ssl/certs/ca-certificates.crt\\n" > "$1"/etc/pip.conf',
        ]
        command = ["mmdebstrap", "--variant=apt", "--quiet"]
        command += ["--include=python3,python3-pip,python3-venv,ca-certificates"]
        command += [f"--customize-hook={hook}" for hook in hooks]
        subprocess.run([*command, "bookworm", str(partial)], check=True, timeout=900)
        partial.rename(tarball)
    with tarball.open("rb") as data:
        subprocess.run(
            ["podman", "import", "--change", 'CMD ["python3"]', "-", BASE],
            stdin=data,
            check=True,
            capture_output=True,
            env=ENV,
            timeout=300,
        )


@pytest.fixture(scope="module")
def image(configured: None) -> str:
    stand_in_base()
    podman(
        "build", "--format", "docker", "--pull=never", "--network", "host", "-t", IMAGE, str(ROOT)
    )
    return IMAGE


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Container:
    def __init__(self, image: str, env: dict[str, str]) -> None:
        self.name = f"sabong-test-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        args = ["run", "-d", "--name", self.name, "-p", f"127.0.0.1:{self.port}:8080"]
        for key, value in env.items():
            args += ["-e", f"{key}={value}"]
        podman(*args, image)
        self.url = f"http://127.0.0.1:{self.port}"
        self._wait()

    def _wait(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if SandboxClient(self.url, timeout=2).control("GET", "/health").status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"the container never answered:\n{self.logs()}")

    def logs(self) -> str:
        result = podman("logs", self.name, check=False)
        return result.stdout + result.stderr

    def remove(self) -> None:
        podman("rm", "-f", self.name, check=False)


@pytest.fixture(scope="module")
def container(image: str) -> Iterator[Container]:
    running = Container(
        image, {"SANDBOX_CONTROL_TOKEN": TOKEN, "SANDBOX_DUPLICATE_REFERENCE": "reject"}
    )
    try:
        yield running
    finally:
        running.remove()


def test_signed_requests_and_a_forced_scenario(container: Container) -> None:
    client = SandboxClient(container.url)
    reply = client.get("/api/v1/get-balance", {"clientId": "CLIENT_001"})
    assert (reply.status, reply.json()["data"]["balance"]) == (200, 1500.5)
    forced = client.get("/api/v1/get-balance", {"clientId": "CLIENT_SERVER_ERROR"})
    assert (forced.status, forced.json()["message"]) == (500, "Failed to get balance")
    wrong = SandboxClient(container.url, "not-the-secret").get(
        "/api/v1/get-balance", {"clientId": "CLIENT_001"}
    )
    assert wrong.status == 401 and wrong.headers["X-Sandbox-Signature-Reason"] == "mismatch"


def test_a_sandbox_variable_is_applied(container: Container) -> None:
    client = SandboxClient(container.url)
    body = {"clientId": "CLIENT_001", "amount": 1, "reference": "ONCE"}
    assert client.post("/api/v1/credit-balance", body).status == 200
    again = client.post("/api/v1/credit-balance", body)
    assert (again.status, again.json()["message"]) == (409, "Duplicate reference")


def test_the_control_plane_needs_the_token(container: Container) -> None:
    anonymous = SandboxClient(container.url).control("PUT", "/scenarios/X", {"outcome": "drop"})
    assert anonymous.status == 401
    operator = SandboxClient(container.url, token=TOKEN)
    assert operator.control("PUT", "/scenarios/X", {"outcome": "drop"}).status == 200
    assert operator.control("POST", "/reset").status == 200


def test_it_runs_as_a_user_without_privileges(container: Container) -> None:
    assert podman("exec", container.name, "id", "-u").stdout.strip() == "10001"


def test_the_healthcheck_command_passes(container: Container) -> None:
    config = json.loads(podman("image", "inspect", IMAGE).stdout)[0]
    assert "/__sandbox/health" in " ".join(config["Healthcheck"]["Test"])
    assert podman("healthcheck", "run", container.name, check=False).returncode == 0


def test_a_generated_token_is_printed_once_and_works(image: str) -> None:
    running = Container(image, {})
    try:
        match = re.search(r"control plane token: (\S+)", running.logs())
        assert match, running.logs()
        client = SandboxClient(running.url, token=match.group(1))
        assert client.control("GET", "/partners").status == 200
        assert SandboxClient(running.url).control("GET", "/partners").status == 401
    finally:
        running.remove()


def test_sigterm_stops_it_with_exit_code_0(image: str) -> None:
    running = Container(image, {"SANDBOX_CONTROL_TOKEN": TOKEN})
    try:
        podman("stop", "--time", "10", running.name)
        state = json.loads(podman("inspect", running.name).stdout)[0]["State"]
        assert state["ExitCode"] == 0
        assert "sabong-sandbox stopped" in running.logs()
    finally:
        running.remove()


README = (ROOT / "README.md").read_text("utf-8")


def readme_block(name: str, lang: str) -> str:
    match = re.search(
        rf"<!-- readme-test: {re.escape(name)} -->\n```{lang}\n(.*?)```", README, re.S
    )
    assert match, f"README block {name} not found"
    return match.group(1)


def test_the_readme_docker_run_recipe(image: str, tmp_path: Path) -> None:
    """The README's docker commands, run with podman (``docker`` is a shell function here)."""
    port = free_port()
    script = readme_block("docker-run", "bash").replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    script = script.replace("curl -s http", "sleep 3; curl -sf http", 1)
    prelude = (
        'docker() { if [ "$1" = build ]; then shift; '
        'podman build --format docker --pull=never --network host "$@"; '
        'else podman "$@"; fi; }\n'
        "podman rm -f sabong >/dev/null 2>&1 || true\n"
    )
    try:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", prelude + script],
            cwd=ROOT,
            env=ENV,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert '"message":"Sandbox is running"' in result.stdout
        assert '"message":"Sandbox reset"' in result.stdout
        state = json.loads(podman("inspect", "sabong").stdout)[0]["State"]
        assert state["ExitCode"] == 0
    finally:
        podman("rm", "-f", "sabong", check=False)


def test_the_ci_service_recipes_match_the_image(container: Container) -> None:
    import yaml

    github = yaml.safe_load(readme_block("github-services", "yaml"))
    service = github["jobs"]["integration"]["services"]["sabong"]
    assert service["ports"] == ["8080:8080"]
    assert "SANDBOX_CONTROL_TOKEN" in service["env"]
    health = re.search(r'--health-cmd "((?:[^"\\]|\\.)*)"', service["options"])
    assert health, service["options"]
    command = health.group(1).replace('\\"', '"')
    assert podman("exec", container.name, "sh", "-c", command, check=False).returncode == 0
    gitlab = yaml.safe_load(readme_block("gitlab-services", "yaml"))
    (gitlab_service,) = gitlab["integration"]["services"]
    assert gitlab_service["alias"] == "sabong"
    assert gitlab["integration"]["variables"]["SANDBOX_URL"] == "http://sabong:8080"
    assert "SANDBOX_CONTROL_TOKEN" in gitlab_service["variables"]
