"""pytest plugin: a real sandbox per test session, isolated and reset before each test.

Registered under the ``pytest11`` entry point; it adds options, fixtures and hooks that only
act on tests that ask for ``sabong_sandbox``: a run that does not use it is unaffected.

    def test_credit(sabong_sandbox):
        sabong_sandbox.force("CLIENT_001", "server-error", times=1)
        reply = sabong_sandbox.post("credit-balance", {"clientId": "CLIENT_001", "amount": 5})
        assert reply.status == 500
        sabong_sandbox.assert_requested("credit-balance", client_id="CLIENT_001", count=1)

Where the sandbox comes from:

- by default, each session (each pytest-xdist worker) starts its own server process
  (``sabong-sandbox serve --port 0 --db :memory:``; ``--cpu auto`` spreads the workers' servers
  over the cores) and stops it at the end;
- with ``--sabong-sandbox-url`` (one shared, already running sandbox), each session creates a
  partner of its own through the control plane (``POST /__sandbox/partners``; the operator's
  token from ``--sabong-sandbox-token`` when the control plane is protected) and works only in
  it: its own ledger, journal, scenarios and clock, so that resets never cross between workers.
  Requests are then signed with that partner's generated secret (``sabong_sandbox.secret``).
  If no partner can be created (no token for a protected sandbox) the session uses the given
  secret directly, which is safe for one session only: under xdist it stops with an error
  that says why, never with silent cross-talk.

A test fails, in its own call phase, when the server crashed or answered a 500 that no scenario
forced during it; its report then carries the server's stderr. A failing test's report also
lists the requests the sandbox refused with 401 during it, with the doctor's finding.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.error import URLError
from urllib.parse import urlencode

import pytest

from .client import Reply, SandboxClient
from .config import DEFAULT_SECRET
from .process import ServerProcess, StartError

API_PREFIX = "/api/v1/"
TOKEN_ENV = "SABONG_SANDBOX_TOKEN"
URL_ENV = "SABONG_SANDBOX_URL"
BOX = "sabong_sandbox"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sabong-sandbox")
    group.addoption(
        "--sabong-sandbox-url",
        help=f"Use this running sandbox instead of starting one (env {URL_ENV}); each session "
        "works in a partner of its own there.",
    )
    group.addoption(
        "--sabong-sandbox-token",
        help=f"The control plane's bearer token of a protected sandbox (env {TOKEN_ENV}).",
    )
    group.addoption(
        "--sabong-sandbox-readiness",
        action="store_true",
        help="At the end, print the readiness report of the session's requests and fail the "
        "run when its verdict is fail.",
    )
    group.addoption("--sabong-sandbox-scenarios", help="scenarios.yaml for the started sandbox.")
    group.addoption("--sabong-sandbox-seed", type=int, help="Seed for the started sandbox.")
    group.addoption(
        "--sabong-sandbox-secret",
        default=None,
        help="The secret to sign with (default: sandbox-secret; on a shared sandbox, the "
        "generated secret of the session's own partner).",
    )


@dataclass
class Session:
    """The session's sandbox: where it is, how to sign, whose state this session owns."""

    url: str
    secret: str
    process: ServerProcess | None = None  # None: a shared sandbox, not started here
    partner: str | None = None  # the partner created for this session on a shared sandbox
    token: str | None = None

    def client(self) -> SandboxClient:
        return SandboxClient(self.url, self.secret, token=self.token)


class SabongSandbox:
    """One test's handle on the sandbox: signed requests, scenarios, journal, clock."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.url = session.url
        self.secret = session.secret
        self.process = session.process
        self.client = session.client()
        self.report_seq = 0

    @staticmethod
    def _path(path: str) -> str:
        return path if path.startswith("/") else API_PREFIX + path

    def get(self, path: str, params: dict[str, Any] | None = None, **kwargs: Any) -> Reply:
        """A signed GET; ``path`` may be short (``"get-balance"``)."""
        return self.client.get(self._path(path), params, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        """A signed POST; ``path`` may be short (``"credit-balance"``)."""
        return self.client.post(self._path(path), body, **kwargs)

    def control(self, method: str, path: str, body: Any = None, query: str = "") -> Reply:
        """A control-plane request on this session's state (signed with its partner's secret
        on a shared sandbox); an error answer fails the test with the sandbox's explanation."""
        signed = self.session.partner is not None
        reply = self.client.control(method, path, body, signed=signed, query=query)
        if reply.status >= 400:
            raise AssertionError(f"{method} /__sandbox{path} failed:\n{reply.explain()}")
        return reply

    def force(
        self,
        client_id: str,
        outcome: str | None = None,
        *,
        times: int | None = None,
        **rule: Any,
    ) -> dict[str, Any]:
        """Force a scenario for ``client_id``: ``force("A", "server-error", times=2)`` or
        ``force("A", sequence=["drop", "success"])`` or ``force("A", endpoints={...})``."""
        body = dict(rule)
        if outcome is not None:
            body["outcome"] = outcome
        if times is not None:
            body["times"] = times
        data: dict[str, Any] = self.control("PUT", f"/scenarios/{client_id}", body).json()["data"]
        return data

    def clear(self, client_id: str | None = None) -> None:
        self.control("DELETE", f"/scenarios/{client_id}" if client_id else "/scenarios")

    def requests(
        self,
        client_id: str | None = None,
        status: int | list[int] | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """The journal of this test (it is cleared by the reset before it), newest first."""
        query: dict[str, Any] = {}
        if client_id:
            query["clientId"] = client_id
        if status is not None:
            query["status"] = ",".join(map(str, status if isinstance(status, list) else [status]))
        if limit is not None:
            query["limit"] = limit
        reply = self.control("GET", "/requests", query=urlencode(query))
        entries: list[dict[str, Any]] = reply.json()["data"]["requests"]
        return entries

    def assert_requested(
        self,
        endpoint: str | None = None,
        *,
        client_id: str | None = None,
        status: int | None = None,
        count: int | None = None,
    ) -> list[dict[str, Any]]:
        """Assert what the sandbox received in this test, in the style of WireMock's
        ``verify``: ``count`` requests (at least one when not given) of ``endpoint``
        (``"credit-balance"`` or a path), for ``client_id``, answered ``status``. Fails with
        every request it did receive, each marked as matching or not, and why not."""
        path = self._path(endpoint) if endpoint else None
        wanted = {"path": path, "clientId": client_id, "status": status}
        received = list(reversed(self.requests()))  # oldest first, as they happened
        matching, lines = [], []
        for entry in received:
            differs = [k for k, v in wanted.items() if v is not None and entry.get(k) != v]
            line = (
                f"{entry['method']} {entry['path']} clientId={entry.get('clientId')} "
                f"-> {entry['status'] or 'dropped'}"
            )
            if differs:
                lines.append(f"    {line}   ({', '.join(differs)} differs)")
            else:
                matching.append(entry)
                lines.append(f"  + {line}")
        ok = len(matching) == count if count is not None else bool(matching)
        if not ok:
            what = " ".join(f"{k}={v}" for k, v in wanted.items() if v is not None) or "any"
            expected = f"{count}" if count is not None else "at least 1"
            raise AssertionError(
                f"expected {expected} request(s) matching {what}; the sandbox received "
                f"{len(matching)} matching of {len(received)} in this test:\n"
                + ("\n".join(lines) or "    (none)")
            )
        return matching

    def shift_clock(self, seconds: float) -> None:
        """Shift the sandbox clock (e.g. -301 to make fresh timestamps look expired)."""
        self.control("POST", "/clock", {"offsetSeconds": seconds})

    def reset(self) -> None:
        """Back to the starting state; the readiness history of the session is kept (each
        test's own part starts where the reset left it)."""
        reply = self.control("POST", "/reset", query="keepReport=true")
        self.report_seq = int(reply.json()["data"].get("reportSeq", 0))

    def report(self, client_id: str | None = None) -> dict[str, Any]:
        """The readiness report of this test's requests (README, "Readiness"): ``verdict``
        and ``checks``, each with ``id``, ``status``, ``summary`` and ``evidence``."""
        query = {"after": self.report_seq, **({"clientId": client_id} if client_id else {})}
        data: dict[str, Any] = self.control("GET", "/report", query=urlencode(query)).json()["data"]
        return data

    def balance(self, client_id: str) -> Any:
        return (
            self.get("get-balance", {"clientId": client_id}).expect(200).json()["data"]["balance"]
        )

    def server_stderr(self) -> str:
        return self.process.stderr.decode("utf-8", "replace") if self.process else ""

    def problems(self) -> list[str]:
        """What went wrong on the server's side during the test: a crash, or a 500 that no
        scenario forced (a bug of the sandbox's, or of what the test drove it to)."""
        if self.process is not None and not self.process.alive():
            return [f"the sabong sandbox exited with code {self.process.proc.returncode}"]
        unexpected = [e for e in self.requests(status=500) if e.get("scenario", "none") == "none"]
        return (
            [
                "the sabong sandbox answered 500 without a scenario forcing it:\n  "
                + "\n  ".join(
                    f"{e['method']} {e['path']} -> 500 {e['responseBody']}" for e in unexpected
                )
            ]
            if unexpected
            else []
        )

    def refused(self) -> list[str]:
        """The requests the sandbox answered 401 in this test, with the doctor's finding."""
        lines = []
        for e in reversed(self.requests(status=401)):
            signature = e.get("signature") or {}
            lines.append(f"{e['method']} {e['path']} clientId={e.get('clientId')}")
            for key in ("verdict", "detail", "finding", "stringToSign"):
                if signature.get(key):
                    lines.append(f"    {key}: {signature[key]}")
        return lines


def _stderr_tail(box: SabongSandbox, limit: int = 4000) -> str:
    text = box.server_stderr()
    return f"\n--- server stderr ---\n{text[-limit:]}" if text else ""


# --------------------------------------------------------------------------- the session


def _start(config: pytest.Config, secret: str) -> Session:
    args = ["--port", "0", "--db", ":memory:", "--quiet", "--secret", secret]
    scenarios = config.getoption("--sabong-sandbox-scenarios")
    if scenarios:
        args += ["--scenarios", scenarios]
    seed = config.getoption("--sabong-sandbox-seed")
    if seed is not None:
        args += ["--seed", str(seed)]
    try:
        process = ServerProcess(args)
    except StartError as exc:
        pytest.fail(f"sabong-sandbox: the sandbox did not start: {exc}", pytrace=False)
    return Session(process.url, secret, process)


def _worker(config: pytest.Config) -> tuple[str, int]:
    """This session's xdist worker id and the number of workers (``main``, 1 without xdist).
    Read from xdist's own config, not the environment: a pytest run inside a test of an xdist
    worker inherits that worker's variables."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return "main", 1
    return str(workerinput["workerid"]), int(workerinput["workercount"])


def _options(config: pytest.Config) -> tuple[str | None, str | None]:
    """The shared sandbox's URL and the control token, from the options or the environment."""
    url = config.getoption("--sabong-sandbox-url") or os.environ.get(URL_ENV)
    token = config.getoption("--sabong-sandbox-token")
    return url, token if token is not None else os.environ.get(TOKEN_ENV)


def _workers(config: pytest.Config) -> int:
    numprocesses = getattr(config.option, "numprocesses", None)  # pytest-xdist's -n
    return int(numprocesses) if isinstance(numprocesses, int) else 0


def pytest_sessionstart(session: pytest.Session) -> None:
    """Check the options once, in the main process, before any test: a bad one stops the
    run with one line that names the problem and the fix (exit code 2)."""
    config = session.config
    if hasattr(config, "workerinput"):  # an xdist worker: the controller checked already
        return
    url, token = _options(config)
    if token is not None and not token.strip():
        pytest.exit(
            "sabong-sandbox: the control token is empty: give --sabong-sandbox-token a value "
            f"or unset {TOKEN_ENV}",
            returncode=2,
        )
    if not url:
        return
    client = SandboxClient(url, token=token, timeout=5)
    try:
        health = client.control("GET", "/health")
    except (URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        pytest.exit(
            f"sabong-sandbox: {url} does not answer ({reason}): start the sandbox there, or "
            "fix --sabong-sandbox-url",
            returncode=2,
        )
    if health.status != 200:
        pytest.exit(
            f"sabong-sandbox: {url} is no sabong sandbox (health answered HTTP {health.status})",
            returncode=2,
        )
    workers = _workers(config)
    if workers > 1 and client.control("GET", "/partners").status != 200:
        pytest.exit(
            f"sabong-sandbox: cannot give each of the {workers} xdist workers its own state on "
            f"{url}: its control plane is protected; pass --sabong-sandbox-token or set "
            f"{TOKEN_ENV} (without it, resets would cross between workers)",
            returncode=2,
        )


def _shared(config: pytest.Config, url: str, token: str | None, secret: str) -> Session:
    """A session of its own on a shared sandbox: a partner created for it, when possible
    (``pytest_sessionstart`` has checked that it is when several workers share the sandbox)."""
    session = Session(url.rstrip("/"), secret, token=token)
    worker, workers = _worker(config)
    name = f"pytest-{worker}-{secrets.token_hex(4)}"
    created = session.client().control("POST", "/partners", {"name": name})
    if created.status == 201:
        data = created.json()["data"]
        return Session(session.url, data["secret"], partner=data["name"], token=token)
    if workers > 1:
        pytest.fail(
            f"sabong-sandbox: this worker cannot have a partner of its own on {url}:\n"
            + created.explain(),
            pytrace=False,
        )
    return session  # one session: its own secret's state is its own


READINESS = pytest.StashKey[list[dict[str, Any]]]()


def _session_report(session: Session) -> list[dict[str, Any]]:
    """The readiness report of everything this session sent, before its sandbox goes."""
    client = session.client()
    reply = client.control("GET", "/report", signed=session.partner is not None)
    return [reply.json()["data"]] if reply.status == 200 else []


def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist: each worker's report comes back to the controller with the worker."""
    reports = getattr(node, "workeroutput", {}).get("sabong_readiness")
    if reports:
        node.config.stash.setdefault(READINESS, []).extend(reports)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    reports = config.stash.get(READINESS, [])
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:  # a worker: hand it over to the controller
        workeroutput["sabong_readiness"] = reports
        return
    if not config.getoption("--sabong-sandbox-readiness") or not reports:
        return
    from .cli import readiness_text

    reporter = config.pluginmanager.get_plugin("terminalreporter")
    failed = any(r["verdict"] == "fail" for r in reports)
    if reporter is not None:
        reporter.section("sabong-sandbox readiness")
        for report in reports:
            reporter.write_line(readiness_text(report))
    if failed and session.exitstatus == 0:
        session.exitstatus = 1


@pytest.fixture(scope="session")
def sabong_sandbox_server(request: pytest.FixtureRequest) -> Iterator[Session]:
    """The session's sandbox (started here, or a partner of its own on a shared one)."""
    config = request.config
    secret = config.getoption("--sabong-sandbox-secret") or DEFAULT_SECRET
    url, token = _options(config)
    session = _shared(config, url, token, secret) if url else _start(config, secret)
    try:
        yield session
    finally:
        if config.getoption("--sabong-sandbox-readiness"):
            config.stash[READINESS] = _session_report(session)
        if session.process is not None:
            session.process.stop()
        elif session.partner is not None:
            SandboxClient(session.url, session.secret).control(
                "DELETE", f"/partners/{session.partner}", signed=True
            )


@pytest.fixture
def sabong_sandbox(sabong_sandbox_server: Session) -> SabongSandbox:
    """The sandbox, reset for this test."""
    box = SabongSandbox(sabong_sandbox_server)
    crashed = box.problems() if box.process is not None and not box.process.alive() else []
    if crashed:
        pytest.fail(crashed[0] + _stderr_tail(box), pytrace=False)
    box.reset()
    return box


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Fail the test itself (not its teardown) when the sandbox crashed or answered an
    unforced 500 while it ran."""
    result = yield
    box = getattr(item, "funcargs", {}).get(BOX)
    if isinstance(box, SabongSandbox):
        problems = box.problems()
        if problems:
            pytest.fail("\n".join(problems) + _stderr_tail(box), pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test that used the sandbox: its report lists the 401s of the test."""
    report: pytest.TestReport = yield
    box = getattr(item, "funcargs", {}).get(BOX)
    if report.when == "call" and report.failed and isinstance(box, SabongSandbox):
        try:
            refused = box.refused()
        except Exception:  # the sandbox may be what failed: the report must not
            refused = []
        if refused:
            report.sections.append(
                ("sabong-sandbox: requests refused with 401 in this test", "\n".join(refused))
            )
    return report
