"""The contract, machine-checked: docs/openapi.json under the tools partners point at it.

Run alone with ``.venv/bin/pytest tests/test_contract_tools.py``. Each check is one test, and
its failure message is the tool's own output:

- Redocly CLI lints the document (``redocly.yaml``): 0 errors, 0 warnings;
- Spectral lints it with ``.spectral.yaml`` (``spectral:oas``): 0 errors, 0 warnings;
- openapi-python-client generates a client, and ``tests/contract/client_driver.py`` drives it
  against a live sandbox: every documented response of every endpoint parses into its model;
- openapi-typescript generates types, and ``tsc --strict`` compiles ``tests/contract/usage.ts``
  against them;
- Stoplight Prism, as a validating proxy (``--errors``) in front of a live sandbox, sees every
  endpoint answer every outcome a scenario may force there (``Route.outcomes``) and the
  ordinary successes and failures, and finds no violation of the document.

The tools install themselves, pinned exactly, into a cache shared by every checkout (the
``contract-tools`` folder of ``$XDG_CACHE_HOME/sabong-sandbox``, else
``~/.cache/sabong-sandbox``): the npm packages of ``tests/contract/package-lock.json``
(``npm ci``) and a virtualenv of ``tests/contract/requirements.txt``, each in a folder named
after the hash of its pins, so a bump installs afresh and an unchanged pin set is reused. The
npm checks are skipped, saying why, where node or npm is not installed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sandbox import responses
from sandbox.api import BY_NAME, ROUTES, Route
from sandbox.client import Reply, SandboxClient
from sandbox.process import ServerProcess

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / "tests" / "contract"
DOC = ROOT / "docs" / "openapi.json"
CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "sabong-sandbox"
    / "contract-tools"
)
# Quiet, colourless, offline-minded tools: no telemetry, no update checks, no ANSI codes in
# the failure messages.
TOOL_ENV = {
    "NO_COLOR": "1",
    "FORCE_COLOR": "0",
    "REDOCLY_TELEMETRY": "off",
    "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true",
    "SCARF_ANALYTICS": "false",
    "DO_NOT_TRACK": "1",
    "npm_config_update_notifier": "false",
    "npm_config_fund": "false",
    "npm_config_audit": "false",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
}
TOKEN, BALANCE, CREDIT, DEBIT, TRANSACTIONS = (
    BY_NAME[name].path
    for name in (
        "generate-auth-token",
        "get-balance",
        "credit-balance",
        "debit-balance",
        "get-transactions",
    )
)
INSTALL_TIMEOUT = 900  # seconds; measured here: npm ci about 16 s, the virtualenv about 12 s
TOOL_TIMEOUT = 120


# --------------------------------------------------------------------------- running tools


@dataclass
class Run:
    """A finished tool run."""

    argv: list[str]
    code: int
    stdout: str
    stderr: str

    def report(self) -> str:
        """The command and everything it printed, as a failure message shows it."""
        return (
            f"$ {' '.join(self.argv)}\n(exit code {self.code})\n"
            f"--- stdout\n{self.stdout.rstrip()}\n--- stderr\n{self.stderr.rstrip()}"
        )

    def expect_success(self, what: str) -> Run:
        if self.code != 0:
            pytest.fail(f"{what} failed:\n{self.report()}", pytrace=False)
        return self


def run(args: Sequence[str | Path], *, cwd: Path = ROOT, timeout: float = TOOL_TIMEOUT) -> Run:
    """Run a tool to completion; its output is kept for the failure message."""
    argv = [str(a) for a in args]
    done = subprocess.run(
        argv,
        cwd=cwd,
        env={**os.environ, **TOOL_ENV},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(argv, done.returncode, done.stdout, done.stderr)


# --------------------------------------------------------------------------- installing them


def pins_hash(*files: Path, extra: str = "") -> str:
    digest = hashlib.sha256(extra.encode())
    for file in files:
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


@contextmanager
def install_lock() -> Iterator[None]:
    """One installer at a time (pytest-xdist workers, two checkouts) on the shared cache."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def installed(target: Path, install: Callable[[Path], None]) -> Path:
    """``target``, installed once by ``install``; a ``.complete`` stamp marks a finished
    install, so an interrupted one is started over."""
    stamp = target / ".complete"
    if stamp.exists():
        return target
    with install_lock():
        if not stamp.exists():
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            install(target)
            stamp.write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))
    return target


@pytest.fixture(scope="module")
def npm_bin() -> Path:
    """The ``node_modules/.bin`` of the pinned npm tools."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (the npm contract tools need them)")
    lock = CONTRACT / "package-lock.json"

    def install(target: Path) -> None:
        for name in ("package.json", "package-lock.json"):
            shutil.copy(CONTRACT / name, target / name)
        # No install scripts: none of the tools needs one, and one of their dependencies
        # would only send usage data.
        command = ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"]
        run(command, cwd=target, timeout=INSTALL_TIMEOUT).expect_success("npm ci")

    target = installed(CACHE / f"npm-{pins_hash(CONTRACT / 'package.json', lock)}", install)
    return target / "node_modules" / ".bin"


@pytest.fixture(scope="module")
def tools_python() -> Path:
    """The python of a virtualenv holding openapi-python-client and the generated client's
    dependencies (httpx, attrs, python-dateutil), never the project's own."""
    requirements = CONTRACT / "requirements.txt"
    version = f"{sys.implementation.name}-{sys.version_info[0]}.{sys.version_info[1]}"

    def install(target: Path) -> None:
        run([sys.executable, "-m", "venv", target / "venv"]).expect_success("python -m venv")
        pip: list[str | Path] = [target / "venv" / "bin" / "python", "-m", "pip", "install"]
        run([*pip, "--quiet", "-r", requirements], timeout=INSTALL_TIMEOUT).expect_success(
            "pip install"
        )

    target = installed(CACHE / f"python-{pins_hash(requirements, extra=version)}", install)
    return target / "venv" / "bin" / "python"


# --------------------------------------------------------------------------- a live sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ServerProcess]:
    """One sandbox for the module; duplicate references are refused (the documented 409)."""
    args = ["--port", "0", "--db", ":memory:", "--quiet", "--duplicate-reference", "reject"]
    proc = ServerProcess(args)
    try:
        yield proc
    finally:
        proc.stop()


# --------------------------------------------------------------------------- the linters


def test_redocly_lint_is_clean(npm_bin: Path) -> None:
    """Redocly CLI's recommended rules (redocly.yaml): 0 errors, 0 warnings."""
    command: list[str | Path] = [npm_bin / "redocly", "lint", os.path.relpath(DOC, ROOT)]
    command += ["--config", "redocly.yaml"]
    result = run([*command, "--format=json"])
    try:
        totals = json.loads(result.stdout)["totals"]
    except (ValueError, KeyError):
        pytest.fail(f"Redocly printed no JSON report:\n{result.report()}", pytrace=False)
    if result.code != 0 or totals["errors"] or totals["warnings"]:
        readable = run([*command, "--format=codeframe"])  # the same problems, for a person
        pytest.fail(f"Redocly: {totals}\n{readable.report()}", pytrace=False)


def test_spectral_lint_is_clean(npm_bin: Path) -> None:
    """Spectral with ``spectral:oas`` (.spectral.yaml): 0 errors, 0 warnings (nor hints)."""
    result = run(
        [
            npm_bin / "spectral",
            "lint",
            os.path.relpath(DOC, ROOT),
            "--ruleset",
            ".spectral.yaml",
            "--fail-severity",
            "hint",
            "--format",
            "stylish",
        ]
    )
    if result.code != 0:
        pytest.fail(f"Spectral found problems:\n{result.report()}", pytrace=False)


# --------------------------------------------------------------------------- generated code


def test_generated_python_client_parses_every_documented_response(
    tools_python: Path, sandbox: ServerProcess, tmp_path: Path
) -> None:
    """openapi-python-client's client, driven against the sandbox by client_driver.py: each
    documented response (200 on each endpoint, 400 validation and insufficient balance, 401,
    404, 409, 500, and the size limits' 413, 414 and 431) comes back as ``.parsed``, an
    instance of its generated model."""
    generator = tools_python.parent / "openapi-python-client"
    generated = run(
        [
            generator,
            "generate",
            "--path",
            DOC,
            "--meta",
            "none",
            "--output-path",
            tmp_path / "sabong_client",
            "--config",
            CONTRACT / "openapi-python-client.yaml",
        ]
    ).expect_success("openapi-python-client generate")
    if "warning" in (generated.stdout + generated.stderr).lower():
        pytest.fail(f"openapi-python-client warned:\n{generated.report()}", pytrace=False)

    driven = run([tools_python, CONTRACT / "client_driver.py", tmp_path, sandbox.url])
    lines = [json.loads(line) for line in driven.stdout.splitlines() if line.startswith("{")]
    failed = [line for line in lines if line.get("ok") is False]
    summary = [line["summary"] for line in lines if "summary" in line]
    if driven.code != 0 or failed or not summary:
        detail = "\n".join(json.dumps(line, indent=2) for line in failed)
        pytest.fail(
            f"the generated client did not parse every response:\n{detail}\n{driven.report()}",
            pytrace=False,
        )
    assert summary[0]["failed"] == 0
    statuses = {line["status"] for line in lines if "status" in line}
    assert statuses == {200, 400, 401, 404, 409, 413, 414, 431, 500}
    parsed = {line["parsed"] for line in lines if "parsed" in line}
    assert {"DebitBalanceInsufficientBalance", "CreditBalanceDuplicateReference"} <= parsed


def test_generated_typescript_types_compile_strict(npm_bin: Path, tmp_path: Path) -> None:
    """openapi-typescript's types of the document, used by tests/contract/usage.ts (two
    endpoints' requests and responses): ``tsc --strict --noEmit`` passes."""
    run(
        [npm_bin / "openapi-typescript", DOC, "--output", tmp_path / "openapi.d.ts"]
    ).expect_success("openapi-typescript")
    shutil.copy(CONTRACT / "usage.ts", tmp_path / "usage.ts")
    compiled = run(
        [
            npm_bin / "tsc",
            "--strict",
            "--noEmit",
            "--noUnusedLocals",
            "--target",
            "es2022",
            "--module",
            "esnext",
            "--moduleResolution",
            "bundler",
            "usage.ts",
        ],
        cwd=tmp_path,
    )
    if compiled.code != 0:
        pytest.fail(f"tsc refused usage.ts:\n{compiled.report()}", pytrace=False)


# --------------------------------------------------------------------------- Prism


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Prism:
    """``prism proxy <doc> <upstream> --errors`` on a free loopback port."""

    READY = "Prism is listening on"

    def __init__(self, npm_bin: Path, upstream: str, log: Path, timeout: float = 60) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        port = self.url.rsplit(":", 1)[1]
        self.log = log
        command = [str(npm_bin / "prism"), "proxy", str(DOC), upstream, "--errors"]
        command += ["--host", "127.0.0.1", "--port", port]
        # Output to a file nobody has to read: Prism logs every request.
        with log.open("w") as out:
            self.proc = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **TOOL_ENV},
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while self.READY not in log.read_text("utf-8", "replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"Prism did not start:\n{self.output()}", pytrace=False)
            time.sleep(0.1)

    def output(self) -> str:
        return self.log.read_text("utf-8", "replace")[-2500:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def violations(reply: Reply) -> list[str]:
    """What Prism (--errors) says is wrong with an exchange: an ``sl-violations`` header (a
    warning such as an undocumented status passes the body through), or a problem body of its
    own in place of the answer (an error: an invalid request or response, or an upstream
    answer it could not read)."""
    found = []
    header = reply.headers.get("sl-violations")
    if header:
        found.append(f"sl-violations: {header}")
    kind = reply.headers.get("content-type", "")
    if "problem+json" in kind or b"stoplight.io/prism/errors" in reply.body:
        found.append(f"Prism answered for the sandbox: {reply.body.decode('utf-8', 'replace')}")
    return found


@dataclass
class Exchange:
    """One request through Prism and the answer it must carry."""

    name: str
    reply: Reply
    status: int
    scenario: str | None = None  # the forced outcome X-Sandbox-Scenario must name

    def problems(self) -> list[str]:
        found = violations(self.reply)
        if self.reply.status != self.status:
            found.append(f"status {self.reply.status}, expected {self.status}")
        scenario = self.reply.headers.get("X-Sandbox-Scenario")
        if scenario is None:
            found.append("no X-Sandbox-Scenario header: the answer is not the sandbox's")
        elif self.scenario is not None and not scenario.startswith(self.scenario):
            found.append(f"X-Sandbox-Scenario: {scenario}, expected {self.scenario}")
        return found


def status_of(outcome: str) -> int:
    """The documented status of a response kind (sandbox/responses.json)."""
    status: int = responses.catalog()["responses"][outcome]["status"]
    return status


def _money(client_id: str, amount: float, **extra: Any) -> dict[str, Any]:
    return {"clientId": client_id, "amount": amount, **extra}


def valid_request(route: Route, client_id: str) -> dict[str, Any]:
    """The body or query of a request for ``client_id`` that the document allows."""
    if route.name == "generate-auth-token":
        return {"clientId": client_id, "username": "prism", "displayName": "P", "ipAddress": "::1"}
    if route.method == "POST":
        return _money(client_id, 1)
    return {"clientId": client_id}


def send(client: SandboxClient, route: Route, args: dict[str, Any]) -> Reply:
    if route.method == "POST":
        return client.post(route.path, args)
    return client.get(route.path, args)


def test_prism_proxy_finds_no_violation(
    npm_bin: Path, sandbox: ServerProcess, tmp_path: Path
) -> None:
    """Through Prism (validating proxy, --errors): every endpoint answering every outcome a
    scenario may force there, then the ordinary successes and failures; no violation."""
    direct = SandboxClient(sandbox.url)
    user, forced = "PRISM_USER", "PRISM_FORCED"
    for client_id in (user, forced):  # users with money, set up directly
        direct.post(TOKEN, valid_request(BY_NAME["generate-auth-token"], client_id)).expect()
        direct.post(CREDIT, _money(client_id, 1000)).expect()

    prism = Prism(npm_bin, sandbox.url, tmp_path / "prism.log")
    try:
        through = SandboxClient(prism.url)
        wrong = SandboxClient(prism.url, secret="not-the-secret")
        exchanges: list[Exchange] = []

        # Every endpoint x every outcome it allows, forced once through the control plane.
        for route in ROUTES:
            for outcome in route.outcomes:
                rule = {"outcome": outcome, "times": 1}
                direct.control("PUT", f"/scenarios/{forced}", rule).expect()
                reply = send(through, route, valid_request(route, forced))
                status = 200 if outcome == "success" else status_of(outcome)
                exchanges.append(Exchange(f"{route.name} forced {outcome}", reply, status, outcome))

        # The ordinary answers, no scenario.
        def ordinary(name: str, reply: Reply, status: int) -> None:
            exchanges.append(Exchange(name, reply, status, "none"))

        profile = valid_request(BY_NAME["generate-auth-token"], user)
        ordinary("token 200", through.post(TOKEN, {**profile, "expiration": 5}), 200)
        ordinary("token 200 known user", through.post(TOKEN, profile), 200)
        ordinary("credit 200", through.post(CREDIT, _money(user, 100, reference="P-C1")), 200)
        debit_body = _money(user, 10.5, description="bet", reference="P-D1")
        ordinary("debit 200", through.post(DEBIT, debit_body), 200)
        ordinary("balance 200", through.get(BALANCE, {"clientId": user}), 200)
        query = {
            "clientId": user,
            "limit": 5,
            "page": 1,
            "type": "credit",
            "sortBy": "amount",
            "sortOrder": "asc",
            "dateFrom": "2020-01-01",
            "dateTo": "2099-12-31T23:59:59.999Z",
        }
        ordinary("transactions 200", through.get(TRANSACTIONS, query), 200)
        page = {"clientId": user, "page": 99}
        ordinary("transactions 200 past the end", through.get(TRANSACTIONS, page), 200)
        # 400 validation: what the document's schemas allow and the rules refuse.
        late = {**profile, "expiration": "0"}
        ordinary("token 400 (expiration '0')", through.post(TOKEN, late), 400)
        ordinary("credit 400 (3 decimals)", through.post(CREDIT, _money(user, 1.005)), 400)
        ordinary("debit 400 (3 decimals)", through.post(DEBIT, _money(user, 1.005)), 400)
        backwards = {"clientId": user, "dateFrom": "2026-02-02", "dateTo": "2026-02-01"}
        ordinary("transactions 400 (dates)", through.get(TRANSACTIONS, backwards), 400)
        not_a_date = {"clientId": user, "dateFrom": "yesterday"}
        ordinary("transactions 400 (not a date)", through.get(TRANSACTIONS, not_a_date), 400)
        # 400 insufficient balance, 409 duplicate reference.
        ordinary("debit 400 insufficient", through.post(DEBIT, _money(user, 10**6)), 400)
        again = _money(user, 1, reference="P-C1")
        ordinary("credit 409", through.post(CREDIT, again), 409)
        ordinary("debit 409", through.post(DEBIT, _money(user, 1, reference="P-D1")), 409)
        # Over a size limit (SPEC B13): a 64 KiB body, an 8 KiB query. (Over 16 KiB of
        # headers, the 431, never reaches the sandbox: Node's own header limit answers first.)
        padded = _money(user, 1, note="x" * 64 * 1024)
        ordinary("credit 413", through.post(CREDIT, padded), 413)
        ordinary("balance 414", through.get(BALANCE, {"clientId": "L" * 8 * 1024}), 414)
        # 401 (a wrong secret), 404 (an unknown clientId), 500 (the magic clientId).
        for route in ROUTES:
            ordinary(f"{route.name} 401", send(wrong, route, valid_request(route, user)), 401)
            if "not-found" in route.failures:
                nobody = valid_request(route, "PRISM_NOBODY")
                ordinary(f"{route.name} 404", send(through, route, nobody), 404)
            magic = valid_request(route, "CLIENT_SERVER_ERROR")
            exchanges.append(
                Exchange(f"{route.name} 500", send(through, route, magic), 500, "server-error")
            )
    finally:
        prism.stop()

    bad = [(e, e.problems()) for e in exchanges if e.problems()]
    if bad:
        lines = [f"{e.name}: {'; '.join(p)}\n    {e.reply.explain()}" for e, p in bad]
        pytest.fail(
            f"{len(bad)} of {len(exchanges)} exchanges through Prism went wrong:\n"
            + "\n".join(lines)
            + f"\n--- Prism's log (end)\n{prism.output()}",
            pytrace=False,
        )
    assert {e.reply.status for e in exchanges} == {200, 400, 401, 404, 409, 413, 414, 500}


class _Drift(BaseHTTPRequestHandler):
    """An upstream that leaves the document: a wrong type, then an undocumented status."""

    def do_GET(self) -> None:
        status, body = (418, {}) if "TEAPOT" in self.path else (200, {"status": "success"})
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.send_header("X-Sandbox-Scenario", "none")
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_prism_reports_a_drift(npm_bin: Path, tmp_path: Path) -> None:
    """The check above can fail: in front of an upstream that leaves the document, Prism's
    answers carry violations that ``violations`` finds (a body off its schema: Prism's problem
    body; an undocumented status: the sl-violations header)."""
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Drift)
    thread = threading.Thread(target=upstream.serve_forever, daemon=True)
    thread.start()
    prism = None
    try:
        prism = Prism(npm_bin, f"http://127.0.0.1:{upstream.server_address[1]}", tmp_path / "log")
        client = SandboxClient(prism.url)
        off_schema = client.get("/api/v1/get-balance", {"clientId": "ANYONE"})
        teapot = client.get("/api/v1/get-balance", {"clientId": "TEAPOT"})
    finally:
        if prism is not None:
            prism.stop()
        upstream.shutdown()
        upstream.server_close()
        thread.join()
    assert any(v.startswith("Prism answered") for v in violations(off_schema)), off_schema.explain()
    assert any(v.startswith("sl-violations") for v in violations(teapot)), teapot.explain()
