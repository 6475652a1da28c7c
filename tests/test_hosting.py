"""A hosted sandbox that one bad edit or one stranger cannot take down: regressions of the
findings of "A hosted sandbox that one partner or one stranger cannot take down"."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sandbox.cli import main
from sandbox.config import Config
from sandbox.scenarios import ScenarioError, load_text
from sandbox.state import RELOAD_STABLE_SECONDS, Sandbox

GOOD = "version: 1\nscenarios:\n  QA_ONE: {outcome: server-error}\n"
EDITED = "version: 1\nscenarios:\n  QA_ONE: {outcome: not-found}\n  QA_TWO: {outcome: drop}\n"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("scenarios: &a\n  X: *a\n", 1, "an alias refers to the anchor that contains it"),
        ("scenarios:\n  X: " + "[" * 900 + "]" * 900 + "\n", None, "nested more than 32 levels"),
        (
            "scenarios:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 40)),
            34,
            "nested more than 32 levels",
        ),
        (
            "a: &a [1,1,1,1,1,1,1,1,1,1]\n"
            + "".join(
                f"{b}: &{b} [{', '.join([f'*{a}'] * 10)}]\n"
                for a, b in zip("abcde", "bcdef", strict=True)
            ),
            1,
            "more than 100000 values once aliases are expanded",
        ),
        ("", None, "the file is empty: write `version: 1` for a deliberately empty set"),
        ("# scenarios.yaml\n\n", None, "the file is empty"),
    ],
    ids=["recursive anchor", "900 levels", "39 levels", "billion laughs", "empty", "comments only"],
)
def test_a_hostile_or_half_written_file_is_a_located_error(
    text: str, line: int | None, message: str
) -> None:
    with pytest.raises(ScenarioError) as info:
        load_text(text, "s.yaml")
    (problem,) = info.value.problems
    assert problem.line == line
    assert message in problem.message


def test_a_deliberately_empty_set_says_version_1() -> None:
    assert load_text("version: 1\n", "s.yaml").rules == {}


def test_scenarios_check_prints_no_traceback_for_a_recursive_anchor(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("scenarios: &a\n  X: *a\n")
    result = CliRunner().invoke(main, ["scenarios", "check", str(path)])
    assert result.exit_code == 1
    assert "recursive anchor" in result.output and "Traceback" not in result.output


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[Sandbox, Path]]:
    path = tmp_path / "scenarios.yaml"
    path.write_text(GOOD)
    sandbox = Sandbox.open(Config(db=":memory:", scenarios=str(path)))
    sandbox.watch_scenarios()
    yield sandbox, path
    sandbox.close()


def rules(sandbox: Sandbox) -> dict[str, str]:
    current = sandbox.default.scenarios.scenarios.rules
    return {c: r.steps[0].outcome for c, r in current.items() if c.startswith("QA_")}


def wait_for(check: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return True
        time.sleep(0.05)
    return False


def test_the_watcher_survives_a_hostile_edit_and_applies_the_next_good_one(
    watched: tuple[Sandbox, Path],
) -> None:
    sandbox, path = watched
    path.write_text("scenarios: &a\n  X: *a\n")
    assert wait_for(lambda: sandbox.scenarios_state.last_error is not None)
    assert "recursive anchor" in (sandbox.scenarios_state.last_error or "")
    assert rules(sandbox) == {"QA_ONE": "server-error"}  # the previous set stays
    path.write_text(EDITED)
    assert wait_for(lambda: rules(sandbox) == {"QA_ONE": "not-found", "QA_TWO": "drop"})
    assert sandbox.scenarios_state.last_error is None
    assert sandbox._watcher is not None and sandbox._watcher.is_alive()


def test_the_watcher_survives_an_unexpected_exception(
    watched: tuple[Sandbox, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, path = watched
    calls = []

    def broken() -> bool:
        calls.append(1)
        raise RuntimeError("surprise")

    monkeypatch.setattr(sandbox, "reload_scenarios", broken)
    path.write_text(EDITED)
    assert wait_for(lambda: calls)
    assert "surprise" in (sandbox.scenarios_state.last_error or "")
    monkeypatch.undo()
    path.write_text(EDITED + "  QA_THREE: {outcome: validation}\n")
    assert wait_for(lambda: "QA_THREE" in rules(sandbox))


def test_an_empty_file_keeps_the_previous_set(watched: tuple[Sandbox, Path]) -> None:
    sandbox, path = watched
    path.write_text("")
    assert wait_for(lambda: sandbox.scenarios_state.last_error is not None)
    assert "the file is empty" in (sandbox.scenarios_state.last_error or "")
    assert rules(sandbox) == {"QA_ONE": "server-error"}


def test_a_file_is_applied_only_once_stable(watched: tuple[Sandbox, Path]) -> None:
    """An editor writing the file in pieces: the half written at a line boundary is valid
    YAML, but it changes again within the stable interval, so only the whole is applied."""
    sandbox, path = watched
    seen: list[dict[str, str]] = []
    original = sandbox.reload_scenarios

    def recording() -> bool:
        done = original()
        seen.append(rules(sandbox))
        return done

    sandbox.reload_scenarios = recording  # type: ignore[method-assign]
    half = EDITED.splitlines(keepends=True)[:3]  # QA_ONE: not-found, without QA_TWO
    path.write_text("".join(half))
    time.sleep(RELOAD_STABLE_SECONDS / 3)
    path.write_text(EDITED)
    assert wait_for(lambda: seen)
    time.sleep(RELOAD_STABLE_SECONDS * 2)
    assert seen == [{"QA_ONE": "not-found", "QA_TWO": "drop"}]


def test_health_reports_the_scenario_set(watched: tuple[Sandbox, Path]) -> None:
    from sandbox.app import create_app

    sandbox, path = watched
    client = create_app(sandbox.config, sandbox).test_client()
    data = client.get("/__sandbox/health").get_json()["data"]["scenarios"]
    assert data["source"] == str(path) and data["lastError"] is None
    path.write_text("version: 2\n")
    assert wait_for(lambda: sandbox.scenarios_state.last_error is not None)
    data = client.get("/__sandbox/health").get_json()["data"]["scenarios"]
    assert "only version 1 exists" in data["lastError"]
    assert data["lastErrorAt"].endswith("Z")


# --------------------------------------------------------------------------- bad database files


def made_db(path: Path) -> Path:
    from sandbox.state import load_fixture_data
    from sandbox.store import Store

    store = Store(str(path))
    store.load_fixtures(load_fixture_data(None))
    store.close()
    for extra in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        extra.unlink(missing_ok=True)
    return path


def garbage(path: Path) -> Path:
    path.write_bytes(bytes(range(256)) * 20)
    return path


def truncated(path: Path) -> Path:
    made_db(path)
    with path.open("r+b") as fh:
        fh.truncate(8000)
    return path


def corrupted_pages(path: Path) -> Path:
    made_db(path)
    data = bytearray(path.read_bytes())
    for offset in range(4096 * 3, len(data) - 4096, 4096 * 2):  # the middle of every other page
        data[offset + 100 : offset + 400] = b"\xa5" * 300
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (garbage, "file is not a database"),
        (truncated, "database disk image is malformed"),
        (corrupted_pages, "it is corrupted (quick_check:"),
    ],
    ids=["garbage", "truncated", "corrupted pages"],
)
def test_a_bad_database_file_is_one_line_and_exit_code_2(
    tmp_path: Path, make: object, reason: str
) -> None:
    import subprocess

    from sandbox.process import command

    assert callable(make)
    db = make(tmp_path / "bad.db")
    result = subprocess.run(
        [*command(), "serve", "--port", "0", "--quiet", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stdout == ""  # no SANDBOX_URL line
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"Error: cannot use the database {db}: {reason}")
    assert line.endswith("or pass another --db (:memory: for a throwaway ledger)")


def test_a_read_only_database_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    import shutil
    import subprocess

    from sandbox.process import command

    if not shutil.which("unshare"):
        pytest.skip("needs unshare (util-linux) for a read-only mount")
    folder = tmp_path / "ro"
    folder.mkdir()
    db = made_db(folder / "ledger.db")
    serve = " ".join([*command(), "serve", "--port", "0", "--quiet", "--db", str(db)])
    script = f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && {serve}"
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("mount namespaces are not permitted here")
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"Error: cannot use the database {db}: ")


# --------------------------------------------------------------------------- availability


def raw_request(path_and_query: str, *, source: str = "127.0.0.1") -> bytes:
    from sandbox import signing

    path, _, query = path_and_query.partition("?")
    ts = str(int(time.time()))
    sig = signing.sign("sandbox-secret", "GET", path, ts, query=query)
    return (
        f"GET {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"x-timestamp: {ts}\r\nx-signature: {sig}\r\n\r\n"
    ).encode()


def connect(url: str, source: str = "127.0.0.1") -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5, source_address=(source, 0))
    return sock


def read_answer(sock: socket.socket) -> bytes:
    """One whole answer (the envelope's last byte is '}'), or what came before the close."""
    data = b""
    while not data.endswith(b"}"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def timed_balance(url: str) -> tuple[int, float]:
    from sandbox.client import SandboxClient

    started = time.monotonic()
    reply = SandboxClient(url, timeout=5).get("/api/v1/get-balance", {"clientId": "CLIENT_001"})
    return reply.status, time.monotonic() - started


def test_held_requests_cost_no_capacity_and_are_capped() -> None:
    """Held by CLIENT_TIMEOUT (35 s), 30 requests used to freeze every other client: now each
    has a thread of its own, up to the cap, and past it the answer is an immediate 503."""
    from sandbox.process import ServerProcess

    args = ["--port", "0", "--db", ":memory:", "--quiet", "--max-held", "30"]
    args += ["--max-held-per-partner", "30"]
    held: list[socket.socket] = []
    with ServerProcess(args) as server:
        try:
            for _ in range(30):
                sock = connect(server.url)
                sock.sendall(raw_request("/api/v1/get-balance?clientId=CLIENT_TIMEOUT"))
                held.append(sock)
            time.sleep(0.5)
            status, seconds = timed_balance(server.url)
            assert status == 200 and seconds < 1.0
            extra = connect(server.url)
            extra.sendall(raw_request("/api/v1/get-balance?clientId=CLIENT_TIMEOUT"))
            answer = read_answer(extra)
            extra.close()
            assert answer.startswith(b"HTTP/1.1 503 ")
            assert b"X-Sandbox-Fault: held-capacity" in answer
            assert answer.endswith(
                b'{"status":"failed","message":"Too many requests held by scenarios","data":null}'
            )
        finally:
            for sock in held:
                sock.close()
        # Their clients gone, the held requests free their slots within a poll.
        time.sleep(0.5)
        status, seconds = timed_balance(server.url)
        assert status == 200 and seconds < 1.0


def test_trickling_connections_of_one_address_do_not_stop_others() -> None:
    """300 connections from one address, each trickling a request: at most 32 are held (the
    others get 503 at once), each of those gets 408 once its request is 1 s late, and a client
    from another address is served at once all along."""
    from sandbox.process import ServerProcess

    args = ["--port", "0", "--db", ":memory:", "--quiet", "--request-timeout", "1"]
    trickling: list[socket.socket] = []
    with ServerProcess(args) as server:
        try:
            for _ in range(300):
                sock = connect(server.url, source="127.0.0.2")
                sock.sendall(b"GET /api/v1/get-balance?clientId=CLIENT_001 HTTP/1.1\r\n")
                trickling.append(sock)
            status, seconds = timed_balance(server.url)
            assert status == 200 and seconds < 1.0
            refused = 0
            for sock in trickling[100:]:
                sock.settimeout(2)
                answer = read_answer(sock)
                refused += answer.startswith(b"HTTP/1.1 503 ")
                assert b"Too many connections from 127.0.0.2" in answer
            assert refused == 200
            first = trickling[0]
            first.settimeout(5)
            first.sendall(b"Host: x\r\n")  # still trickling, past the 1 s deadline
            late = read_answer(first)
            assert late.startswith(b"HTTP/1.1 408 ")
            assert late.endswith(b'"message":"Request not received in time","data":null}')
            assert first.recv(4096) == b""  # and closed
        finally:
            for sock in trickling:
                sock.close()


# --------------------------------------------------------------------------- exact money


def test_balances_stay_exact_up_to_the_cap_and_a_credit_past_it_is_a_400(signed: object) -> None:
    from conftest import Signed

    assert isinstance(signed, Signed)
    credit = "/api/v1/credit-balance"
    r = signed.post(credit, {"clientId": "CLIENT_001", "amount": 999_999_999.99})
    assert r.status_code == 200
    store = signed.client.application.extensions["sandbox"].store
    store.apply(  # straight to a cent below the cap
        "CLIENT_001",
        "credit",
        999_999_999_999_99 - store.balance("CLIENT_001").cents - 1,
        reference=None,
        description=None,
        now="2026-12-01T00:00:00.000Z",
    )
    r = signed.get("/api/v1/get-balance", {"clientId": "CLIENT_001"})
    assert b'"balance":999999999999.98,' in r.data  # 14 significant digits: printed exactly
    r = signed.post(credit, {"clientId": "CLIENT_001", "amount": 0.01})
    assert b'"balance":999999999999.99}' in r.data
    r = signed.post(credit, {"clientId": "CLIENT_001", "amount": 0.01})
    assert r.status_code == 400
    assert r.get_json()["data"]["errors"] == {
        "amount": [
            "The amount may not be greater than 0.00 (a balance may not exceed 999999999999.99)."
        ]
    }
    r = signed.get("/api/v1/get-balance", {"clientId": "CLIENT_001"})
    assert b'"balance":999999999999.99,' in r.data  # nothing was written


# --------------------------------------------------------------------------- bounded inputs


def test_runtime_overrides_are_bounded_in_size_and_listed_a_page_at_a_time(
    client: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flask.testing import FlaskClient

    from sandbox.scenarios import engine

    assert isinstance(client, FlaskClient)
    big = {"outcome": "validation", "errors": {"x": ["y" * 5000]}}
    r = client.put("/__sandbox/scenarios/BIG", json=big)
    assert r.status_code == 400
    assert r.get_json()["data"]["errors"] == {
        "body": ["The scenario may not be larger than 4096 bytes."]
    }
    assert (
        client.put("/__sandbox/scenarios/" + "C" * 256, json={"outcome": "drop"}).status_code == 400
    )
    monkeypatch.setattr(engine, "MAX_OVERRIDES", 5)
    for i in range(5):
        assert client.put(f"/__sandbox/scenarios/P{i}", json={"outcome": "drop"}).status_code == 200
    assert client.put("/__sandbox/scenarios/P9", json={"outcome": "drop"}).status_code == 400
    first = client.get("/__sandbox/scenarios?limit=2").get_json()["data"]
    assert list(first["overrides"]) == ["P0", "P1"] and first["nextAfter"] == "P1"
    rest = client.get("/__sandbox/scenarios?limit=2&after=P3").get_json()["data"]
    assert list(rest["overrides"]) == ["P4"] and rest["nextAfter"] is None
    assert len(client.get("/__sandbox/scenarios").get_json()["data"]["overrides"]) == 5
    assert client.get("/__sandbox/scenarios?limit=1001").status_code == 400


def test_login_links_never_follow_an_untrusted_host() -> None:
    """Listening on a wildcard address (a container) the sandbox has no URL of its own; a login
    link then follows the Host only when it is a loopback name, else the address the client
    really connected to."""
    import json as json_module
    import subprocess

    from sandbox import signing
    from sandbox.process import command

    port = None
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [*command(), "serve", "--host", "0.0.0.0", "--port", str(port), "--db", ":memory:"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith("SANDBOX_URL=")
        body = json_module.dumps(
            {"clientId": "P1", "username": "p", "displayName": "P", "ipAddress": "10.0.0.1"}
        ).encode()
        links = {}
        for host in ("attacker.example", f"localhost:{port}"):
            ts = str(int(time.time()))
            sig = signing.sign(
                "sandbox-secret", "POST", "/api/v1/generate-auth-token", ts, body=body
            )
            with connect(f"http://127.0.0.1:{port}") as sock:
                sock.sendall(
                    f"POST /api/v1/generate-auth-token HTTP/1.1\r\nHost: {host}\r\n"
                    f"x-timestamp: {ts}\r\nx-signature: {sig}\r\nContent-Length: {len(body)}\r\n"
                    "Connection: close\r\n\r\n".encode()
                    + body
                )
                answer = read_answer(sock)
            links[host] = json_module.loads(answer.split(b"\r\n\r\n", 1)[1])["data"]["loginLink"]
        assert links["attacker.example"].startswith(f"http://127.0.0.1:{port}/login/")
        assert links[f"localhost:{port}"].startswith(f"http://localhost:{port}/login/")
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


# --------------------------------------------------------------------------- work before trust


def test_a_body_of_thousands_of_values_is_never_parsed(
    signed: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unsigned 64 KiB bodies of numbers cost about 40 ms each and were parsed twice: now a
    body is not parsed at all without both signature headers and a fresh timestamp, and never
    when it holds more than 1000 values (a signature is then checked over its raw bytes)."""
    from conftest import Signed

    from sandbox import signing

    assert isinstance(signed, Signed)
    parses: list[int] = []
    real = signing.parse_json

    def counting(raw: bytes) -> object:
        parses.append(1)
        return real(raw)

    monkeypatch.setattr(signing, "parse_json", counting)
    numbers = b"[" + b",".join(b"1.5" for _ in range(16_000)) + b"]"  # 64,000 bytes
    credit = "/api/v1/credit-balance"
    client = signed.client
    r = client.post(credit, data=numbers, headers={"content-type": "application/json"})
    assert r.status_code == 401  # no headers: refused before anything is parsed
    ts = str(int(time.time()))
    r = client.post(credit, data=numbers, headers={"x-timestamp": ts, "x-signature": "0" * 64})
    assert r.status_code == 401  # a wrong signature over the raw bytes: still never parsed
    r = signed.post(credit, numbers)  # signed as the raw bytes it is checked over
    assert r.status_code == 400
    assert r.get_json()["data"]["errors"] == {
        "body": ["The body must not hold more than 1000 values."]
    }
    assert parses == []
