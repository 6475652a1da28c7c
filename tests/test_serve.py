"""The installed ``sabong-sandbox serve`` in a real subprocess, over real HTTP."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from sandbox import signing
from sandbox.client import SandboxClient
from sandbox.process import ServerProcess, command

PATH = "/api/v1/get-balance"
QUERY = {"clientId": "CLIENT_001"}


def test_the_installed_command_is_used() -> None:
    assert Path(command()[0]).name == "sabong-sandbox"


@pytest.fixture(scope="module")
def server():
    with ServerProcess(["--port", "0", "--db", ":memory:"]) as proc:
        yield proc


def test_url_line_is_loopback(server: ServerProcess) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    assert int(server.url.rsplit(":", 1)[1]) > 0


def test_signed_balance_over_http(server: ServerProcess) -> None:
    reply = SandboxClient(server.url).get(PATH, QUERY)
    assert reply.status == 200
    assert reply.json()["data"] == {
        "userId": 123,
        "clientId": "CLIENT_001",
        "balance": 1500.5,
        "updatedAt": "2026-02-01T14:30:00.000Z",
    }


def _one_char_off(sig: str) -> str:
    return sig[:-1] + ("a" if sig[-1] != "a" else "b")


def test_each_kind_of_tampering_is_rejected(server: ServerProcess) -> None:
    client = SandboxClient(server.url)
    ts = int(time.time())
    good = signing.sign("sandbox-secret", "GET", PATH, ts, query=QUERY)
    cases = {
        "signature": dict(timestamp=ts, signature=_one_char_off(good)),
        "secret": dict(
            timestamp=ts, signature=signing.sign("sandbox-secreT", "GET", PATH, ts, query=QUERY)
        ),
        "payload": dict(
            timestamp=ts,
            signature=signing.sign(
                "sandbox-secret", "GET", PATH, ts, query={"clientId": "CLIENT_002"}
            ),
        ),
        "old": dict(timestamp=ts - 301),
    }
    reasons = {}
    for name, kwargs in cases.items():
        reply = client.get(PATH, QUERY, **kwargs)  # type: ignore[arg-type]
        assert reply.status == 401, name
        assert reply.body == b'{"status":"error","message":"Invalid signature","data":null}'
        reasons[name] = reply.headers["X-Sandbox-Signature-Reason"]
    assert reasons == {
        "signature": "mismatch",
        "secret": "mismatch",
        "payload": "mismatch",
        "old": "expired-timestamp",
    }


def test_health(server: ServerProcess) -> None:
    reply = SandboxClient(server.url).send("GET", server.url + "/__sandbox/health", None, {})
    assert reply.status == 200
    assert reply.json()["data"]["version"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signals_stop_with_exit_code_0(sig: int) -> None:
    proc = ServerProcess(["--port", "0", "--db", ":memory:", "--quiet"])
    assert proc.stop(sig) == 0


def test_stdout_is_exactly_the_url_line(tmp_path: Path) -> None:
    proc = ServerProcess(["--port", "0", "--db", str(tmp_path / "s.db")])
    assert proc.stop() == 0
    assert proc.proc.stdout is not None
    assert b"sandbox-secret" in proc.stderr  # the public default secret is announced


def test_state_survives_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "state.db")
    with ServerProcess(["--port", "0", "--db", db, "--quiet"]) as first:
        store_path = first.url
    assert store_path
    assert (tmp_path / "state.db").exists()
    with ServerProcess(["--port", "0", "--db", db, "--quiet"]) as second:
        assert SandboxClient(second.url).get(PATH, QUERY).status == 200


def test_custom_secret_is_never_printed() -> None:
    proc = ServerProcess(["--port", "0", "--db", ":memory:", "--secret", "s3cr3t-value"])
    client = SandboxClient(proc.url, secret="s3cr3t-value")
    assert client.get(PATH, QUERY).status == 200
    assert SandboxClient(proc.url).get(PATH, QUERY).status == 401
    proc.stop()
    assert b"s3cr3t-value" not in proc.stderr


def test_bad_flag_value_is_a_clear_error() -> None:
    import subprocess

    result = subprocess.run(
        [*command(), "serve", "--signing-payload", "nope"], capture_output=True, timeout=30
    )
    assert result.returncode == 2
    assert b"nope" in result.stderr


def _hammer(client: SandboxClient, stop: threading.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(OSError, http.client.HTTPException):
            client.get(PATH, QUERY)


def test_signals_stop_the_server_under_load() -> None:
    # Regression: a signal arriving while waitress handled a channel used to be swallowed.
    for _ in range(3):
        proc = ServerProcess(["--port", "0", "--db", ":memory:", "--quiet"])
        stop = threading.Event()
        client = SandboxClient(proc.url, timeout=2)
        threads = [threading.Thread(target=_hammer, args=(client, stop)) for _ in range(8)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        try:
            assert proc.stop(timeout=5) == 0, proc.stderr.decode()[-2000:]
        finally:
            stop.set()
            for t in threads:
                t.join()


def test_cpu_claims_spread_over_the_cores(tmp_path: Path) -> None:
    """``--cpu auto``: each sandbox of a machine takes a CPU no other one holds, while any CPU
    is free; the claim is a lock the kernel drops when the process ends."""
    from sandbox import serving

    held = len(serving._claimed)
    try:
        claims = [serving.claim_cpu([0, 1, 2], str(tmp_path)) for _ in range(3)]
        assert sorted(claims) == [0, 1, 2]
        shared = serving.claim_cpu([0, 1, 2], str(tmp_path))  # all claimed: one is shared
        assert shared in (0, 1, 2)
        assert len(serving._claimed) == held + 3
        for handle in serving._claimed[held:]:
            handle.close()  # as at the end of a process: the CPUs are free again
        del serving._claimed[held:]
        assert serving.claim_cpu([2], str(tmp_path)) == 2
    finally:
        for handle in serving._claimed[held:]:
            handle.close()
        del serving._claimed[held:]


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to spread over")
def test_two_sandboxes_started_with_cpu_auto_take_different_cpus(tmp_path: Path) -> None:
    env = {"TMPDIR": str(tmp_path)}  # their own lock directory: no other sandbox of the machine
    cpus = []
    with (
        ServerProcess(["--port", "0", "--db", ":memory:"], env=env) as a,
        ServerProcess(["--port", "0", "--db", ":memory:"], env=env) as b,
    ):
        for server in (a, b):
            (line,) = [x for x in server.stderr.decode().splitlines() if "cpu:" in x]
            cpus.append(line.split()[-1])
            assert os.sched_getaffinity(server.proc.pid) == {int(cpus[-1])}
    assert cpus[0] != cpus[1]
