"""pytest plugin: a real sandbox server per test session, reset before each test.

Registered under the ``pytest11`` entry point; it adds options and fixtures only, no autouse
fixture, so a test run that does not ask for ``sabong_sandbox`` is unaffected.

    def test_credit(sabong_sandbox):
        sabong_sandbox.force("CLIENT_001", "server-error", times=1)
        reply = sabong_sandbox.post("credit-balance", {"clientId": "CLIENT_001", "amount": 5})
        assert reply.status == 500

One server process per session (``sabong-sandbox serve --port 0 --db :memory:``, its URL read
from the ``SANDBOX_URL=`` line); under pytest-xdist each worker is a session, so each gets its
own server and state. A crashed server, or a 500 that no scenario forced, fails the test with
the server's stderr in the message.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from .client import Reply, SandboxClient
from .config import DEFAULT_SECRET
from .process import ServerProcess, StartError

API_PREFIX = "/api/v1/"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sabong-sandbox")
    group.addoption(
        "--sabong-sandbox-url",
        help="Use this running sandbox instead of starting one (it is reset before each test).",
    )
    group.addoption("--sabong-sandbox-scenarios", help="scenarios.yaml for the started sandbox.")
    group.addoption("--sabong-sandbox-seed", type=int, help="Seed for the started sandbox.")
    group.addoption(
        "--sabong-sandbox-secret",
        default=None,
        help="The secret requests are signed with (default: sandbox-secret).",
    )


class SabongSandbox:
    """One test's handle on the sandbox: signed requests, scenarios, journal, clock."""

    def __init__(self, url: str, secret: str, process: ServerProcess | None) -> None:
        self.url = url
        self.secret = secret
        self.process = process
        self.client = SandboxClient(url, secret)

    @staticmethod
    def _path(path: str) -> str:
        return path if path.startswith("/") else API_PREFIX + path

    def get(self, path: str, params: dict[str, Any] | None = None, **kwargs: Any) -> Reply:
        """A signed GET; ``path`` may be short (``"get-balance"``)."""
        return self.client.get(self._path(path), params, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        """A signed POST; ``path`` may be short (``"credit-balance"``)."""
        return self.client.post(self._path(path), body, **kwargs)

    def control(self, method: str, path: str, body: Any = None) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        headers = {"content-type": "application/json"} if data is not None else {}
        reply = self.client.send(method, f"{self.url}/__sandbox{path}", data, headers)
        if reply.status >= 400:
            raise AssertionError(f"{method} /__sandbox{path} -> {reply.status}: {reply.body!r}")
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
        return self.control("PUT", f"/scenarios/{client_id}", body).json()["data"]  # type: ignore[no-any-return]

    def clear(self, client_id: str | None = None) -> None:
        self.control("DELETE", f"/scenarios/{client_id}" if client_id else "/scenarios")

    def requests(
        self,
        client_id: str | None = None,
        status: int | list[int] | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """The journal, newest first."""
        query: dict[str, Any] = {}
        if client_id:
            query["clientId"] = client_id
        if status is not None:
            query["status"] = ",".join(map(str, status if isinstance(status, list) else [status]))
        if limit is not None:
            query["limit"] = limit
        suffix = f"?{urlencode(query)}" if query else ""
        return self.control("GET", f"/requests{suffix}").json()["data"]["requests"]  # type: ignore[no-any-return]

    def shift_clock(self, seconds: float) -> None:
        """Shift the sandbox clock (e.g. -301 to make fresh timestamps look expired)."""
        self.control("POST", "/clock", {"offsetSeconds": seconds})

    def reset(self) -> None:
        self.control("POST", "/reset")

    def balance(self, client_id: str) -> Any:
        return self.get("get-balance", {"clientId": client_id}).json()["data"]["balance"]

    def server_stderr(self) -> str:
        return self.process.stderr.decode("utf-8", "replace") if self.process else ""


@pytest.fixture(scope="session")
def sabong_sandbox_server(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[str, ServerProcess | None]]:
    """The session's sandbox: (url, process); the process is None with --sabong-sandbox-url."""
    config = request.config
    url = config.getoption("--sabong-sandbox-url")
    if url:
        yield url.rstrip("/"), None
        return
    args = ["--port", "0", "--db", ":memory:", "--quiet"]
    scenarios = config.getoption("--sabong-sandbox-scenarios")
    if scenarios:
        args += ["--scenarios", scenarios]
    seed = config.getoption("--sabong-sandbox-seed")
    if seed is not None:
        args += ["--seed", str(seed)]
    secret = config.getoption("--sabong-sandbox-secret")
    if secret:
        args += ["--secret", secret]
    try:
        process = ServerProcess(args)
    except StartError as exc:
        pytest.fail(f"the sabong sandbox did not start: {exc}", pytrace=False)
    try:
        yield process.url, process
    finally:
        process.stop()


@pytest.fixture
def sabong_sandbox(
    request: pytest.FixtureRequest, sabong_sandbox_server: tuple[str, ServerProcess | None]
) -> Iterator[SabongSandbox]:
    """A sandbox reset for this test; fails the test if the server crashes or answers an
    unforced 500."""
    url, process = sabong_sandbox_server
    secret = request.config.getoption("--sabong-sandbox-secret") or DEFAULT_SECRET
    box = SabongSandbox(url, secret, process)
    _check_alive(box)
    box.reset()
    yield box
    _check_alive(box)
    unexpected = [e for e in box.requests(status=500) if e.get("scenario", "none") == "none"]
    if unexpected:
        lines = [f"{e['method']} {e['path']} -> 500 {e['responseBody']}" for e in unexpected]
        pytest.fail(
            "the sabong sandbox answered 500 without a scenario forcing it:\n  "
            + "\n  ".join(lines)
            + _stderr_tail(box),
            pytrace=False,
        )


def _check_alive(box: SabongSandbox) -> None:
    if box.process is not None and not box.process.alive():
        pytest.fail(
            f"the sabong sandbox exited with code {box.process.proc.returncode}"
            + _stderr_tail(box),
            pytrace=False,
        )


def _stderr_tail(box: SabongSandbox, limit: int = 4000) -> str:
    text = box.server_stderr()
    return f"\n--- server stderr ---\n{text[-limit:]}" if text else ""
