"""Side by side, in one run: the full sandbox vs a bare Flask+waitress app vs Stoplight Prism.

Load (wrk on loopback, bounded in time, signed requests replayed): for every server setup x
concurrency x endpoint, requests/s and p99 latency, and the ratios sandbox/bare and
sandbox/prism computed from figures of the same run.

Server setups (each started fresh, waitress threads 4 unless ``--threads``; all of them run for
the whole load phase, idle but the one measured, and every (concurrency, endpoint) cell is
measured on each setup in turn after an unmeasured ``--warmup``, so that a ratio compares
figures taken minutes apart at most; a cell during which other processes took more than
``--max-other`` cores is measured again):

- ``sandbox-pinned``: ``sabong-sandbox serve --cpu 0`` (its own pinning), wrk under
  ``taskset -c 1``;
- ``sandbox-none``: ``--cpu none``, wrk unpinned;
- ``sandbox-auto``: ``--cpu auto`` (the default: the server pins itself to the last CPU), wrk
  unpinned;
- ``bare-pinned``: ``taskset -c 0 python bench/bare_app.py``, wrk under ``taskset -c 1``;
- ``bare-unpinned``: ``python bench/bare_app.py``, wrk unpinned;
- ``prism``: ``npx prism mock -p PORT -v error openapi.json`` on the OpenAPI document the sandbox
  serves (GET /__sandbox/openapi.json, saved at the start of the run), unpinned. Prism checks that
  the signature headers are present and well formed, never the HMAC, and answers the
  document's examples (get-transactions: one row, whatever the limit).

The sandbox runs on a SQLite file (WAL, synchronous=NORMAL) in a temporary directory, so its
credits are durable ones; it loads the repository's scenarios.yaml, as a partner's setup does.

Endpoints: ``get-balance?clientId=CLIENT_001``, ``credit-balance`` (1.25 to CLIENT_001, no
reference: every request is a new ledger transaction) and
``get-transactions?clientId=CLIENT_001&limit=100``.

Startup: launch to the first signed get-balance 200, median of ``--startup-runs`` launches, for
``sabong-sandbox serve --port 0 --db :memory: --quiet`` and for the file database default
(``.sandbox/sandbox.db`` in a fresh working directory: created and filled by the first launch,
reused by the others), then the idle RSS (VmRSS) one second after that first 200.

``python bench/compare.py --help``; ``--markdown`` rewrites (or appends) its section of
bench/README.md. ``--sandbox-cmd`` and ``--sandbox-args`` measure another build or other
``serve`` options (e.g. a patched worktree's console script, ``--sandbox-args '--workers 2'``).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import re
import selectors
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from load import cpu_model  # bench/load.py: the same machine description

from sandbox import signing

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
README = HERE / "README.md"
BARE_APP = HERE / "bare_app.py"
SCENARIOS = REPO / "scenarios.yaml"
SECRET = "sandbox-secret"
CLIENT_ID = "CLIENT_001"
SECTION = "## Side by side: sandbox vs bare Flask+waitress vs Prism"
START_MARK = "<!-- compare.py section -->"
END_MARK = "<!-- end compare.py section -->"

ENDPOINTS = ("get-balance", "credit-balance", "get-transactions")
SETUPS = ("sandbox-pinned", "sandbox-none", "sandbox-auto", "bare-pinned", "bare-unpinned", "prism")
SERVER_CPU = "0"  # pinned runs: the server here, wrk on WRK_CPU
WRK_CPU = "1"

# Targets of the issue.
RATIO_BARE_TARGET = 0.8
RATIO_PRISM_TARGET = 1.0
CREDITS_TARGET = 1000.0
STARTUP_TARGET_MS = 300.0
RSS_TARGET_MB = 80.0

WRK_LUA = r"""
local have_ffi = pcall(require, "ffi")
function init(args)
   wrk.method = os.getenv("CMP_METHOD")
   wrk.path = os.getenv("CMP_PATH")
   local body = os.getenv("CMP_BODY") or ""
   if body ~= "" then
      wrk.body = body
      wrk.headers["Content-Type"] = "application/json"
   end
   wrk.headers["x-timestamp"] = os.getenv("CMP_TIMESTAMP")
   wrk.headers["x-signature"] = os.getenv("CMP_SIGNATURE")
end
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'CMP_JSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,' ..
      '"write":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
      summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(99), latency.max))
end
"""


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Request:
    """One endpoint's request, signed once per measurement and replayed by wrk."""

    endpoint: str
    method: str
    path: str
    query: str
    body: str

    def signed(self) -> tuple[str, str]:
        """(x-timestamp, x-signature) for now; valid 300 s."""
        ts = str(int(time.time()))
        if self.method == "GET":
            sig = signing.sign(SECRET, "GET", self.path, ts, query=self.query)
        else:
            sig = signing.sign(SECRET, self.method, self.path, ts, body=self.body)
        return ts, sig

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path


REQUESTS = {
    "get-balance": Request(
        "get-balance", "GET", "/api/v1/get-balance", f"clientId={CLIENT_ID}", ""
    ),
    "credit-balance": Request(
        "credit-balance",
        "POST",
        "/api/v1/credit-balance",
        "",
        '{"clientId":"' + CLIENT_ID + '","amount":1.25}',
    ),
    "get-transactions": Request(
        "get-transactions",
        "GET",
        "/api/v1/get-transactions",
        f"clientId={CLIENT_ID}&limit=100",
        "",
    ),
}


def call(url: str, req: Request, timeout: float = 5.0) -> tuple[int, bytes]:
    """Send ``req`` signed, once; returns (status, body). Raises OSError when not listening."""
    ts, sig = req.signed()
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        headers = {"x-timestamp": ts, "x-signature": sig}
        if req.body:
            headers["content-type"] = "application/json"
        conn.request(req.method, req.target, body=req.body or None, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# --------------------------------------------------------------------------- processes


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (npx starts prism as a child)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(stat[1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, []))
    return out


def tree_cpu_seconds(pid: int) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in descendants(pid):
        try:
            stat = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(stat[11]) + int(stat[12])
    return total / tick


def tree_rss_mb(pid: int) -> float:
    """VmRSS of ``pid`` and its descendants, in MB (10^6 bytes)."""
    kib = 0
    for p in descendants(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    kib += int(line.split()[1])
    return kib * 1024 / 1e6


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores) since boot."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def wait_idle(timeout: float, window: float = 1.0, limit: float = 0.15) -> float:
    """Wait (at most ``timeout`` s) until the machine used < ``limit`` cores over ``window``."""
    deadline = time.monotonic() + timeout
    while True:
        b0, t0 = machine_busy(), time.monotonic()
        time.sleep(window)
        busy = (machine_busy() - b0) / (time.monotonic() - t0)
        if busy < limit or time.monotonic() >= deadline:
            return busy


class Server:
    """A server process that prints ``PREFIX=URL`` on stdout once it can answer."""

    def __init__(self, args: list[str], prefix: str, cwd: Path, timeout: float = 60) -> None:
        self.args = args
        self.started = time.perf_counter()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=self.log,
            cwd=cwd,
            start_new_session=True,  # npx's children are stopped with the group
        )
        self.url = self._wait_url(prefix, timeout) if prefix else ""

    def _wait_url(self, prefix: str, timeout: float) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        buffer = b""
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                    break
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buffer += chunk
                for line in buffer.decode("utf-8", "replace").splitlines():
                    if line.startswith(prefix):
                        return line[len(prefix) :].strip()
        self.stop()
        raise RuntimeError(f"{shlex.join(self.args)} did not print {prefix}: {self.stderr()}")

    def wait_ready(self, req: Request, timeout: float = 60, url: str | None = None) -> float:
        """Seconds from launch to the first 200 answer to ``req`` (retrying every 2 ms)."""
        url = url or self.url
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                status, body = call(url, req)
                if status == 200:
                    return time.perf_counter() - self.started
                raise RuntimeError(f"{req.endpoint} answered {status}: {body[:300]!r}")
            if self.proc.poll() is not None:
                break
            time.sleep(0.002)
        raise RuntimeError(f"{shlex.join(self.args)} never answered 200: {self.stderr()}")

    def stderr(self) -> str:
        if self.log.closed:
            return ""
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-2000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # npx leaves prism's node behind when only npx exits: end the whole group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        if not self.log.closed:
            self.log.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- setups


@dataclass
class Options:
    sandbox_cmd: list[str]
    sandbox_extra: list[str]  # more serve options for the load setups (e.g. --workers 2)
    python: str
    threads: int | None
    scenarios: str | None
    prism_cmd: list[str]
    prism_dir: Path
    openapi: Path
    workdir: Path


def sandbox_args(opts: Options, db: str, cpu: str | None, port: int = 0) -> list[str]:
    args = [*opts.sandbox_cmd, "serve", "--port", str(port), "--db", db, "--quiet"]
    if cpu is not None:
        args += ["--cpu", cpu]
    if opts.threads is not None:
        args += ["--threads", str(opts.threads)]
    if opts.scenarios:
        args += ["--scenarios", opts.scenarios]
    return args + opts.sandbox_extra


def bare_args(opts: Options, pinned: bool) -> list[str]:
    args = [opts.python, str(BARE_APP), "--port", "0"]
    if opts.threads is not None:
        args += ["--threads", str(opts.threads)]
    return ["taskset", "-c", SERVER_CPU, *args] if pinned else args


@dataclass(frozen=True)
class Setup:
    name: str
    server: str  # sandbox | bare | prism
    pinned: bool  # wrk under taskset on WRK_CPU
    describe: str


def setup_of(name: str) -> Setup:
    return {
        "sandbox-pinned": Setup(name, "sandbox", True, "sandbox --cpu 0, wrk on CPU 1"),
        "sandbox-none": Setup(name, "sandbox", False, "sandbox --cpu none, wrk unpinned"),
        "sandbox-auto": Setup(name, "sandbox", False, "sandbox --cpu auto (default), wrk unpinned"),
        "bare-pinned": Setup(name, "bare", True, "bare app on CPU 0, wrk on CPU 1"),
        "bare-unpinned": Setup(name, "bare", False, "bare app unpinned, wrk unpinned"),
        "prism": Setup(name, "prism", False, "prism mock unpinned, wrk unpinned"),
    }[name]


def start(setup: Setup, opts: Options) -> Server:
    if setup.server == "sandbox":
        cpu = {"sandbox-pinned": SERVER_CPU, "sandbox-none": "none", "sandbox-auto": "auto"}
        db = tempfile.mkdtemp(prefix="compare-db-", dir=opts.workdir)
        args = sandbox_args(opts, str(Path(db) / "compare.db"), cpu[setup.name])
        server = Server(args, "SANDBOX_URL=", opts.workdir)
    elif setup.server == "bare":
        server = Server(bare_args(opts, setup.pinned), "BARE_URL=", opts.workdir)
    else:
        port = free_port()
        args = [*opts.prism_cmd, "mock", "-p", str(port), "-v", "error", str(opts.openapi)]
        server = Server(args, "", opts.prism_dir)
        server.url = f"http://127.0.0.1:{port}"
    server.wait_ready(REQUESTS["get-balance"])
    return server


# --------------------------------------------------------------------------- load


@dataclass
class Measure:
    setup: str
    connections: int
    endpoint: str
    rate: float  # 2xx answers per second
    p99_ms: float
    p50_ms: float
    requests: int
    errors: int  # non-2xx answers and socket errors
    server_cpu: float  # cores used by the server's process tree on average
    other_cpu: float  # cores used by processes outside the benchmark
    attempts: int = 1  # measured again while other processes were busy


def run_wrk(
    wrk: str, lua: Path, url: str, req: Request, conns: int, seconds: int, pinned: bool
) -> dict[str, int]:
    ts, sig = req.signed()
    env = {
        **os.environ,
        "CMP_METHOD": req.method,
        "CMP_PATH": req.target,
        "CMP_BODY": req.body,
        "CMP_TIMESTAMP": ts,
        "CMP_SIGNATURE": sig,
    }
    cmd = [wrk, "-t2", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", str(lua), url]
    if pinned:
        cmd = ["taskset", "-c", WRK_CPU, *cmd]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    match = re.search(r"^CMP_JSON (\{.*\})$", proc.stdout, re.MULTILINE)
    if proc.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    data: dict[str, int] = json.loads(match.group(1))
    return data


def measure(
    wrk: str,
    lua: Path,
    server: Server,
    setup: Setup,
    endpoint: str,
    conns: int,
    seconds: int,
    idle: float,
) -> Measure:
    if idle > 0:
        wait_idle(idle)
    req = REQUESTS[endpoint]
    cpu0, busy0, own0, t0 = (
        tree_cpu_seconds(server.proc.pid),
        machine_busy(),
        own_cpu_seconds(),
        time.monotonic(),
    )
    data = run_wrk(wrk, lua, server.url, req, conns, seconds, setup.pinned)
    wall = time.monotonic() - t0
    server_s = tree_cpu_seconds(server.proc.pid) - cpu0
    other = max(0.0, machine_busy() - busy0 - server_s - (own_cpu_seconds() - own0)) / wall
    duration = data["duration_us"] / 1e6
    socket_errors = data["connect"] + data["read"] + data["write"] + data["timeout"]
    ok = data["requests"] - data["non2xx"]
    return Measure(
        setup=setup.name,
        connections=conns,
        endpoint=endpoint,
        rate=ok / duration if duration else 0.0,
        p99_ms=data["p99_us"] / 1000,
        p50_ms=data["p50_us"] / 1000,
        requests=data["requests"],
        errors=data["non2xx"] + socket_errors,
        server_cpu=server_s / wall,
        other_cpu=other,
    )


def run_load(
    args: argparse.Namespace, opts: Options, wrk: str, lua: Path
) -> tuple[list[Measure], list[str]]:
    """Every cell, interleaved: all servers run (idle but one) for the whole load phase, and
    each (connections, endpoint) cell is measured on every setup in turn, so that the ratios
    compare figures taken minutes apart at most. A cell during which other processes took more
    than ``--max-other`` cores is measured again (up to ``--retries`` times)."""
    servers: dict[str, Server] = {}
    commands: list[str] = []
    results: list[Measure] = []
    try:
        for name in args.setups:
            servers[name] = start(setup_of(name), opts)
            commands.append(f"# {name}: {shlex.join(servers[name].args)}")
            if args.warmup:  # not measured: first requests, caches, the interpreter's own
                for endpoint in args.endpoints:
                    run_wrk(
                        wrk,
                        lua,
                        servers[name].url,
                        REQUESTS[endpoint],
                        min(args.connections),
                        args.warmup,
                        setup_of(name).pinned,
                    )
        for conns in args.connections:
            for endpoint in args.endpoints:
                for name in args.setups:
                    setup = setup_of(name)
                    for attempt in range(args.retries + 1):
                        m = measure(
                            wrk,
                            lua,
                            servers[name],
                            setup,
                            endpoint,
                            conns,
                            args.duration,
                            args.wait_idle,
                        )
                        m.attempts = attempt + 1
                        print(
                            f"{name:15} c={conns:<3} {endpoint:17} {m.rate:9,.0f} req/s "
                            f"p99 {m.p99_ms:7.2f} ms  errors {m.errors}  "
                            f"server {m.server_cpu:.2f} other {m.other_cpu:.2f}",
                            file=sys.stderr,
                            flush=True,
                        )
                        if m.other_cpu <= args.max_other:
                            break
                        wait_idle(max(args.wait_idle, 30.0))
                    results.append(m)
    finally:
        for server in servers.values():
            server.stop()
    return results, commands


# --------------------------------------------------------------------------- startup


@dataclass
class Startup:
    label: str
    command: str
    times_ms: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times_ms) if self.times_ms else float("nan")

    @property
    def rss_median(self) -> float:
        return statistics.median(self.rss_mb) if self.rss_mb else float("nan")


def startup_runs(
    label: str, runs: int, args: list[str], prefix: str, cwd: Path, url: str | None = None
) -> Startup:
    """Launch ``runs`` times; each: launch -> first signed get-balance 200, then idle RSS."""
    result = Startup(label, shlex.join(args))
    for _ in range(runs):
        server = Server(args, prefix, cwd)
        try:
            result.times_ms.append(server.wait_ready(REQUESTS["get-balance"], url=url) * 1000)
            time.sleep(1.0)
            result.rss_mb.append(tree_rss_mb(server.proc.pid))
        finally:
            server.stop()
    return result


def measure_startups(opts: Options, runs: int, with_prism: bool) -> list[Startup]:
    out = []
    for label, db in (("sandbox :memory:", ":memory:"), ("sandbox file (default db)", None)):
        # A fresh working directory: the file default (.sandbox/sandbox.db) is created there
        # by the first launch and reused by the next ones, as on a developer's machine.
        cwd = Path(tempfile.mkdtemp(prefix="compare-start-", dir=opts.workdir))
        args = [*opts.sandbox_cmd, "serve", "--port", "0", "--quiet"]
        if db is not None:
            args[-1:-1] = ["--db", db]
        if opts.scenarios:
            args += ["--scenarios", opts.scenarios]
        out.append(startup_runs(label, runs, args, "SANDBOX_URL=", cwd))
    out.append(startup_runs("bare app", runs, bare_args(opts, False), "BARE_URL=", opts.workdir))
    if with_prism:
        port = free_port()
        args = [*opts.prism_cmd, "mock", "-p", str(port), "-v", "error", str(opts.openapi)]
        url = f"http://127.0.0.1:{port}"
        out.append(startup_runs("prism", runs, args, "", opts.prism_dir, url=url))
    return out


# --------------------------------------------------------------------------- report


def tool_version(cmd: list[str], cwd: Path | None = None) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=cwd)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (proc.stdout or proc.stderr).strip().splitlines()
    return text[0].split(" Copyright")[0] if text else "?"


def machine(wrk: str, opts: Options, with_prism: bool) -> list[tuple[str, str]]:
    info = [
        ("CPUs (nproc)", str(len(os.sched_getaffinity(0)))),
        ("CPU model", cpu_model()),
        ("kernel", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_version()} ({opts.python})"),
        ("SQLite", sqlite3.sqlite_version),
        ("wrk", tool_version([wrk, "-v"])),
    ]
    if with_prism:
        info.append(("node", tool_version(["node", "--version"])))
        info.append(("prism", tool_version([*opts.prism_cmd, "--version"], opts.prism_dir)))
    info.append(("PYTHONDONTWRITEBYTECODE", os.environ.get("PYTHONDONTWRITEBYTECODE", "unset")))
    return info


def cell(m: Measure | None) -> str:
    if m is None:
        return "-"
    text = f"{m.rate:,.0f} ({m.p99_ms:.1f})"
    return text + f" [{m.errors} err]" if m.errors else text


def ratio(a: Measure | None, b: Measure | None) -> float | None:
    if a is None or b is None or b.rate <= 0:
        return None
    return a.rate / b.rate


def fmt_ratio(r: float | None, target: float | None = None) -> str:
    if r is None:
        return "-"
    text = f"{r:.2f}"
    return f"**{text}**" if target is not None and r < target else text


RATIOS = (
    ("sandbox-pinned", "bare-pinned", RATIO_BARE_TARGET),
    ("sandbox-none", "bare-unpinned", RATIO_BARE_TARGET),
    ("sandbox-auto", "bare-unpinned", RATIO_BARE_TARGET),
    ("sandbox-none", "prism", RATIO_PRISM_TARGET),
    ("sandbox-auto", "prism", RATIO_PRISM_TARGET),
    ("sandbox-pinned", "prism", RATIO_PRISM_TARGET),
)


def tables(results: list[Measure], setups: Sequence[str], conns: Sequence[int]) -> str:
    by = {(m.setup, m.connections, m.endpoint): m for m in results}
    rows = [(c, e) for c in conns for e in ENDPOINTS if any((s, c, e) in by for s in setups)]
    head = "| conns | endpoint | " + " | ".join(f"`{s}`" for s in setups) + " |"
    lines = [head, "|--:|---|" + "--:|" * len(setups)]
    for c, e in rows:
        cells = " | ".join(cell(by.get((s, c, e))) for s in setups)
        lines.append(f"| {c} | {e} | {cells} |")
    ratios = [(a, b, t) for a, b, t in RATIOS if a in setups and b in setups]
    if ratios:
        lines += [
            "",
            "| conns | endpoint | " + " | ".join(f"{a} / {b}" for a, b, _ in ratios) + " |",
        ]
        lines.append("|--:|---|" + "--:|" * len(ratios))
        for c, e in rows:
            cells = " | ".join(
                fmt_ratio(ratio(by.get((a, c, e)), by.get((b, c, e))), t) for a, b, t in ratios
            )
            lines.append(f"| {c} | {e} | {cells} |")
    lines += [
        "",
        "| setup | conns | endpoint | req/s | p50 ms | p99 ms | requests | errors "
        "| server CPU | other CPU | tries |",
        "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    order = {s: i for i, s in enumerate(setups)}
    for m in sorted(results, key=lambda m: (order.get(m.setup, 99), m.connections)):
        lines.append(
            f"| {m.setup} | {m.connections} | {m.endpoint} | {m.rate:,.0f} | {m.p50_ms:.2f} "
            f"| {m.p99_ms:.2f} | {m.requests} | {m.errors} | {m.server_cpu:.2f} "
            f"| {m.other_cpu:.2f} | {m.attempts} |"
        )
    return "\n".join(lines)


def startup_table(startups: list[Startup]) -> str:
    lines = [
        "| server | launch -> first signed 200, median (all runs) ms | idle RSS MB (median) "
        "| command |",
        "|---|--:|--:|---|",
    ]
    for s in startups:
        runs = ", ".join(f"{t:.0f}" for t in s.times_ms)
        lines.append(
            f"| {s.label} | **{s.median_ms:.0f}** ({runs}) | {s.rss_median:.1f} | `{s.command}` |"
        )
    return "\n".join(lines)


def verdicts(results: list[Measure], startups: list[Startup]) -> list[str]:
    by = {(m.setup, m.connections, m.endpoint): m for m in results}
    out = []

    def ratios_for(a: str, b: str) -> list[tuple[int, float]]:
        found = []
        for (s, c, e), m in sorted(by.items()):
            if s == a and e == "get-balance":
                r = ratio(m, by.get((b, c, e)))
                if r is not None:
                    found.append((c, r))
        return found

    for a, b, target in RATIOS:
        found = ratios_for(a, b)
        if found:
            met = all(r >= target for _, r in found)
            spread = ", ".join(f"c={c}: {r:.2f}" for c, r in found)
            out.append(
                f"- get-balance {a} / {b} >= {target}: {'MET' if met else 'NOT MET'} ({spread})"
            )
    for setup in dict.fromkeys(m.setup for m in results if m.setup.startswith("sandbox")):
        credits = [m for m in results if m.endpoint == "credit-balance" and m.setup == setup]
        if credits:
            met = all(m.rate >= CREDITS_TARGET and m.errors == 0 for m in credits)
            spread = ", ".join(f"c={m.connections}: {m.rate:,.0f}" for m in credits)
            out.append(
                f"- durable signed credits >= {CREDITS_TARGET:,.0f}/s, {setup}: "
                f"{'MET' if met else 'NOT MET'} ({spread})"
            )
    for s in startups:
        if s.label.startswith("sandbox"):
            ok = s.median_ms <= STARTUP_TARGET_MS
            out.append(
                f"- startup {s.label} <= {STARTUP_TARGET_MS:.0f} ms median: "
                f"{'MET' if ok else 'NOT MET'} ({s.median_ms:.0f} ms)"
            )
            ok = s.rss_median <= RSS_TARGET_MB
            out.append(
                f"- idle RSS {s.label} <= {RSS_TARGET_MB:.0f} MB: "
                f"{'MET' if ok else 'NOT MET'} ({s.rss_median:.1f} MB)"
            )
    return out


def render(
    results: list[Measure],
    startups: list[Startup],
    args: argparse.Namespace,
    info: list[tuple[str, str]],
    commands: list[str],
) -> str:
    setups = [s for s in args.setups if any(m.setup == s for m in results)]
    parts = []
    if results:
        legend = ", ".join(f"`{s}`: {setup_of(s).describe}" for s in setups)
        parts += [
            f"Load: wrk -t2, {args.duration} s per cell, signed requests replayed; "
            f"req/s counts 2xx answers, (p99 ms) in brackets. {legend}.",
            tables(results, setups, args.connections),
            "Ratios below the target (0.8 for bare, 1.0 for prism) in bold. server CPU / other "
            "CPU: average cores used by the server's process tree / by processes outside the "
            "benchmark during the cell (a cell with other CPU well above 0 had less than 2 "
            "cores; such a cell is measured again: tries). Prism does not verify the HMAC (it "
            "checks that the headers are present and well formed) and its get-transactions "
            "answers one example row; the bare app stores nothing (its credit-balance is not "
            "durable).",
        ]
    if startups:
        parts += [
            f"Startup (median of {args.startup_runs} launches; the file default is created by "
            "the first launch and reused by the next) and idle RSS (VmRSS of the process tree "
            "1 s after the first 200):",
            startup_table(startups),
        ]
    parts.append("Targets:\n\n" + "\n".join(verdicts(results, startups)))
    parts.append("Machine:\n\n" + "\n".join(f"- {k}: {v}" for k, v in info))
    parts.append("Commands:\n\n```bash\n" + "\n".join(commands) + "\n```")
    return "\n\n".join(parts) + "\n"


def write_markdown(text: str, intro: str, when: str) -> None:
    """Rewrite this script's section of bench/README.md (between its markers), or append it."""
    block = f"{START_MARK}\n\n{SECTION}\n\n{intro}\n\n_Measured {when}._\n\n{text}\n{END_MARK}"
    old = README.read_text()
    pattern = re.compile(re.escape(START_MARK) + r".*?" + re.escape(END_MARK), re.DOTALL)
    if pattern.search(old):
        new = pattern.sub(lambda _: block, old)
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    README.write_text(new)


INTRO = (
    "`bench/compare.py` runs, in one run, the full sandbox, a bare Flask+waitress app "
    "(`bench/bare_app.py`: verifies the same HMAC inline, answers the same JSON shapes, no "
    "database) and Stoplight Prism (`prism mock` on the OpenAPI document the sandbox serves, "
    "saved by the script; the pinned version is in `bench/prism/package.json`), with wrk on "
    "loopback, and computes the ratios from figures of the same run. Pinned: the server on "
    "CPU 0 (the sandbox by `--cpu 0`, the bare app by `taskset -c 0`) and wrk on CPU 1 "
    "(`taskset -c 1`); unpinned: no taskset, the sandbox with `--cpu none` and with its default "
    "`--cpu auto` (it pins itself to the last CPU; wrk is free).\n\n"
    "Reading it: unpinned, waitress's threads hand the GIL between the two cores and collapse, "
    "the bare app as much as the sandbox (`sandbox-none`, `bare-unpinned`: erratic, from about "
    "100 to 4,000 req/s from one cell to the next); pinned, or with the default `--cpu auto`, "
    "they do not. Prism is one node process (about one core) that neither verifies the HMAC "
    "nor stores anything. The sandbox's own cost is its Flask pipeline (request context, "
    "routing, hooks, `Response`), its SQLite commit per credit (WAL, synchronous=NORMAL) and, "
    "for get-transactions, the `COUNT(*)` of `totalCount`, which grows with the ledger (the "
    "credit cells run before it and add tens of thousands of rows)."
)


# --------------------------------------------------------------------------- main


def csv_ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def csv_names(allowed: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = [x for x in text.split(",") if x]
        bad = [x for x in names if x not in allowed]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {bad}; choose from {', '.join(allowed)}")
        return names

    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="The sandbox vs a bare Flask+waitress app vs Prism, in one run: wrk load "
        "(pinned and unpinned, concurrency 8 and 32, three signed endpoints), startup to the "
        "first signed 200 (median of 5) and idle RSS.",
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds per cell (default 5)")
    parser.add_argument(
        "--connections", type=csv_ints, default=[8, 32], help="wrk connections (default 8,32)"
    )
    parser.add_argument(
        "--setups",
        type=csv_names(SETUPS),
        default=list(SETUPS),
        help=f"comma-separated, default all: {','.join(SETUPS)}",
    )
    parser.add_argument(
        "--endpoints",
        type=csv_names(ENDPOINTS),
        default=list(ENDPOINTS),
        help=f"comma-separated, default all: {','.join(ENDPOINTS)}",
    )
    parser.add_argument(
        "--warmup", type=int, default=1, help="unmeasured seconds per endpoint and server (1)"
    )
    parser.add_argument("--threads", type=int, help="waitress threads of sandbox and bare app")
    parser.add_argument(
        "--sandbox-cmd",
        help="the sabong-sandbox command (default: the one next to this interpreter)",
    )
    parser.add_argument(
        "--sandbox-args",
        default="",
        help="more `serve` options for the sandbox's load setups, e.g. '--workers 2'",
    )
    parser.add_argument(
        "--scenarios",
        default=str(SCENARIOS),
        help="scenarios file the sandbox loads (default: the repository's; 'none' for none)",
    )
    parser.add_argument(
        "--prism-dir",
        default="/tmp/prism",
        help="where `npm install @stoplight/prism-cli` ran; npx runs there (default /tmp/prism)",
    )
    parser.add_argument("--startup-runs", type=int, default=5, help="launches per server")
    parser.add_argument("--no-load", action="store_true", help="skip the wrk measurements")
    parser.add_argument("--no-startup", action="store_true", help="skip startup and RSS")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        help="before each cell wait up to S seconds for an idle machine (shared machines)",
    )
    parser.add_argument(
        "--max-other",
        type=float,
        default=0.2,
        help="measure a cell again when other processes used more cores than this (0.2)",
    )
    parser.add_argument("--retries", type=int, default=2, help="at most this many times (2)")
    parser.add_argument("--json", help="also write every figure to this JSON file")
    parser.add_argument("--markdown", action="store_true", help="rewrite the bench/README section")
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= 60:
        parser.error("--duration must be 1-60 seconds (signatures are valid 300 s)")
    return args


def sandbox_command(flag: str | None) -> list[str]:
    if flag:
        return shlex.split(flag)
    script = Path(sys.executable).parent / "sabong-sandbox"
    if script.exists():
        return [str(script)]
    found = shutil.which("sabong-sandbox")
    if found:
        return [found]
    return [sys.executable, "-m", "sandbox"]


def save_openapi(opts: Options) -> None:
    """The sandbox's own OpenAPI document, saved for prism (the one the sandbox serves)."""
    args = [*opts.sandbox_cmd, "serve", "--port", "0", "--db", ":memory:", "--quiet"]
    server = Server(args, "SANDBOX_URL=", opts.workdir)
    try:
        parts = urlsplit(server.url)
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
        conn.request("GET", "/__sandbox/openapi.json")
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"/__sandbox/openapi.json answered {response.status}")
        opts.openapi.write_bytes(body)
    finally:
        server.stop()


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="sabong-compare-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the servers


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    wrk = shutil.which("wrk")
    if wrk is None and not args.no_load:
        sys.exit("wrk is not installed (apt-get install wrk)")
    if shutil.which("taskset") is None:
        sys.exit("taskset is not installed (util-linux)")
    with_prism = "prism" in args.setups
    prism_dir = Path(args.prism_dir)
    if with_prism and not (prism_dir / "node_modules" / ".bin" / "prism").exists():
        sys.exit(
            f"prism is not installed in {prism_dir}: "
            f"cd {prism_dir} && npm install @stoplight/prism-cli (see bench/prism/package.json), "
            "or leave prism out of --setups"
        )
    with workdir() as tmp:
        opts = Options(
            sandbox_cmd=sandbox_command(args.sandbox_cmd),
            sandbox_extra=shlex.split(args.sandbox_args),
            python=sys.executable,
            threads=args.threads,
            scenarios=None if args.scenarios == "none" else args.scenarios,
            prism_cmd=["npx", "--no-install", "prism"],
            prism_dir=prism_dir,
            openapi=tmp / "openapi.json",
            workdir=tmp,
        )
        if with_prism:
            save_openapi(opts)
        lua = tmp / "compare.lua"
        lua.write_text(WRK_LUA)
        results: list[Measure] = []
        commands: list[str] = []
        if not args.no_load:
            assert wrk is not None
            results, commands = run_load(args, opts, wrk, lua)
            pin = f"taskset -c {WRK_CPU} "
            commands.append(
                f"# wrk, per cell ({pin!r} prefix for the pinned setups; CMP_* set the signed "
                "request): "
                f"wrk -t2 -c{{8,32}} -d{args.duration}s --latency -s compare.lua URL"
            )
        startups: list[Startup] = []
        if not args.no_startup:
            startups = measure_startups(opts, args.startup_runs, with_prism)
            for s in startups:
                runs = ", ".join(f"{t:.0f}" for t in s.times_ms)
                print(
                    f"startup {s.label}: median {s.median_ms:.0f} ms ({runs}), "
                    f"idle RSS {s.rss_median:.1f} MB",
                    file=sys.stderr,
                )
        info = machine(wrk or "wrk", opts, with_prism)
    for s in startups:
        s.command = s.command.replace(str(tmp), "$TMP")
    here = shlex.join([Path(sys.executable).name, "bench/compare.py", *sys.argv[1:]])
    commands = [here, *(c.replace(str(tmp), "$TMP") for c in commands)]
    text = render(results, startups, args, info, commands)
    print(text)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "load": [m.__dict__ for m in results],
                    "startup": [s.__dict__ for s in startups],
                    "machine": dict(info),
                },
                indent=1,
            )
        )
    if args.markdown:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        write_markdown(text, INTRO, when)
    return 0


if __name__ == "__main__":
    sys.exit(main())
